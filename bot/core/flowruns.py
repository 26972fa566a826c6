"""A workflow run as stored: every job of the DAG (per sweep cell) with its Slurm id, the
state last posted in the run's thread, and what is still to do (retries, cells waiting).

The run is the unit of exactly-once posting: each post into its thread is saved with the
change it reports, as `in_flight` (its number and text), before it leaves. A restarted bot
looks for that number in the thread: found, the post is done; not found, it goes out again.
Nothing changes in a run while one of its posts is in flight, so posts keep their order."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from bot.core.ids import new_id
from bot.core.models import JobState

DepKind = Literal["afterok", "afterany", "afternotok", "after"]
CellPhase = Literal["waiting", "submitting", "submitted", "done"]
# Slurm's own word for a dependant whose dependency can never be met (a parent failed).
NEVER_SATISFIED = "DependencyNeverSatisfied"


class _Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Dep(_Record):
    kind: DepKind = "afterok"
    on: str  # the parent step's name


class FlowStep(_Record):
    """One job of the DAG in one cell. `script` is rendered already: a retry or a later
    sweep cell submits it as it was planned."""

    name: str
    slurm_name: str  # what `squeue` shows: RUN.JOB (RUN.cN.JOB in a sweep)
    deps: list[Dep] = []
    script: str
    job_id: str | None = None  # the current attempt's id
    job_ids: list[str] = []  # every attempt's id, oldest first
    state: JobState | None = None  # last state posted in the thread
    retry: int = 0
    retry_delay: int = 0  # seconds
    attempts: int = 0  # submissions so far
    retry_at: float | None = None  # a resubmission due at this time
    exit_code: str | None = None
    elapsed: str = ""
    reason: str = ""  # why it waits, as Slurm says (e.g. DependencyNeverSatisfied)
    skipped: bool = False  # never ran: a dependency failed or the run was cancelled

    @property
    def settled(self) -> bool:
        """Nothing more will happen to it: ended for good (no retry due) or skipped."""
        ended = self.state is not None and self.state.is_terminal
        return self.skipped or (ended and self.retry_at is None)


class FlowCell(_Record):
    """One cell of a sweep (a run without a sweep has one): its args and its own jobs."""

    index: int = 0
    args: dict[str, str] = {}
    steps: list[FlowStep]
    phase: CellPhase = "waiting"

    def with_steps(self, by_name: Mapping[str, FlowStep]) -> FlowCell:
        """The cell with its steps replaced by those of `by_name` (same names, same order)."""
        return self.model_copy(update={"steps": [by_name[s.name] for s in self.steps]})

    @property
    def failed(self) -> bool:
        return any(
            s.skipped or (s.settled and s.state is not JobState.COMPLETED) for s in self.steps
        )


class PendingPost(_Record):
    seq: int
    text: str
    final: bool = False


class FlowRun(_Record):
    id: str = Field(default_factory=lambda: new_id("f"))
    name: str
    cluster: str
    user_id: str
    account: str
    channel: str
    source: str  # where the YAML came from, as shown (a path, "attached x.yaml", "block")
    parent_ts: str = ""  # the run's message, updated in place; its thread gets the posts
    created: float = Field(default_factory=time.time)
    ended: float | None = None
    cells: list[FlowCell]
    max_parallel: int = 1  # cells in flight at once
    fail_fast: bool = False
    seq: int = 0  # posts numbered so far (the last may still be in flight)
    in_flight: PendingPost | None = None
    active: bool = True
    outcome: Literal["", "completed", "failed", "cancelled"] = ""
    cancelled_by: str | None = None  # the Slack user who cancelled it (the owner or an admin)

    def steps(self) -> list[tuple[FlowCell, FlowStep]]:
        return [(cell, step) for cell in self.cells for step in cell.steps]

    def live_ids(self) -> list[str]:
        """The Slurm ids of the jobs that may still change."""
        return [s.job_id for _, s in self.steps() if s.job_id and not s.settled]
