"""What the bot follows, as stored: job threads and watches.

A JobThread is one job's Slack thread (its card and where replies go) plus the last state
posted there. A Watch is a user's request: one job (`watch job ID`) or all of their jobs,
new ones included (`watch mine`)."""

from __future__ import annotations

import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.ids import new_id
from bot.core.models import JobState


class JobThread(BaseModel):
    model_config = ConfigDict(extra="ignore")

    cluster: str
    job_id: str
    account: str
    user_id: str
    channel: str
    # The card, updated in place, and the thread its replies go to; both "" while Slack has
    # not taken the card yet (the monitor posts it when Slack answers again).
    card_ts: str = ""
    thread_ts: str = ""
    name: str = ""
    state: JobState | None = None  # last state posted
    seq: int = 0  # transitions posted so far
    in_flight: str | None = None  # a transition being posted (for exactly-once after a crash)
    time_warned: bool = False
    broadcast: bool = False  # the final state also goes to the channel
    done: bool = False
    tasks: dict[str, int] = {}  # an array's last per-task tally shown on its card

    @property
    def key(self) -> str:
        return f"{self.cluster}:{self.job_id}"


class Watch(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=lambda: new_id("w"))
    kind: Literal["job", "mine", "gpus"]
    user_id: str
    account: str
    cluster: str
    channel: str
    job_id: str | None = None
    created: float = Field(default_factory=time.time)
    # `watch mine`: jobs that had already ended when the watch began (not news to anyone).
    baseline: list[str] = Field(default_factory=list)
    # `watch gpus N`: at least `gpus` free on `partition` (None: on any one partition).
    gpus: int | None = None
    partition: str | None = None
    continuous: bool = False
    armed: bool = True  # the next upward crossing notifies
    below_since: float | None = None  # since when the count has been below N (re-arming)
    fired: int = 0

    @property
    def target(self) -> str:
        """What it watches, in words."""
        if self.kind == "gpus":
            where = f"on {self.partition}" if self.partition else "on any partition"
            return f"{self.gpus} GPUs {where}" + (" (continuous)" if self.continuous else "")
        return f"job {self.job_id}" if self.job_id else "all jobs"
