"""Parsed commands: plain data, the output of the grammar and the input of the executor."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core.models import Job


class _Cmd(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    cluster: str | None = None


class Submit(_Cmd):
    kind: Literal["submit"] = "submit"
    job: Job
    dry_run: bool = False
    notify_channel: bool = False  # also show the final state in the channel, not only the thread


class Status(_Cmd):
    kind: Literal["status"] = "status"
    job_id: str


class ListJobs(_Cmd):
    kind: Literal["list"] = "list"
    all: bool = False
    gpus: bool = False


class Cancel(_Cmd):
    kind: Literal["cancel"] = "cancel"
    job_id: str


class Tail(_Cmd):
    kind: Literal["tail"] = "tail"
    job_id: str
    lines: int = 20


class Resources(_Cmd):
    kind: Literal["resources"] = "resources"
    partition: str | None = None


class History(_Cmd):
    kind: Literal["history"] = "history"
    since: str = "now-1days"
    since_text: str = "1d"


class Clusters(_Cmd):
    kind: Literal["clusters"] = "clusters"


class Help(_Cmd):
    kind: Literal["help"] = "help"
    topic: str | None = None


class WatchJob(_Cmd):
    kind: Literal["watch_job"] = "watch_job"
    job_id: str


class WatchMine(_Cmd):
    kind: Literal["watch_mine"] = "watch_mine"


class ListWatches(_Cmd):
    kind: Literal["watches"] = "watches"


class Unwatch(_Cmd):
    kind: Literal["unwatch"] = "unwatch"
    target: str  # a watch id, a job id, or "mine"


class ConfigShow(_Cmd):
    kind: Literal["config"] = "config"


Command = (
    Submit
    | Status
    | ListJobs
    | Cancel
    | Tail
    | Resources
    | History
    | Clusters
    | ConfigShow
    | WatchJob
    | WatchMine
    | ListWatches
    | Unwatch
    | Help
)
