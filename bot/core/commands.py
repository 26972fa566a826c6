"""Parsed commands: plain data, the output of the grammar and the input of the executor."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.config import Defaults
from bot.core.models import Job


class _Cmd(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    cluster: str | None = None


class Submit(_Cmd):
    kind: Literal["submit"] = "submit"
    job: Job
    dry_run: bool = False
    notify_channel: bool = False  # also show the final state in the channel, not only the thread
    # The job fields the user gave as flags (bot/core/defaults.py fills the rest from the
    # defaults); None: every field as built (a Submit made in code, not parsed).
    given: frozenset[str] | None = None


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


class WatchGpus(_Cmd):
    kind: Literal["watch_gpus"] = "watch_gpus"
    gpus: int
    partition: str | None = None  # None: the cluster's default partition, else any partition
    continuous: bool = False


class ReportOptions(_Cmd):
    partition: str | None = None
    include: tuple[str, ...] = ("resources", "jobs")
    channel: str | None = None  # a channel id; None: where the command was typed


class ReportNow(ReportOptions):
    kind: Literal["report_now"] = "report_now"


class ReportEvery(ReportOptions):
    kind: Literal["report_every"] = "report_every"
    every: str  # as typed: `1h`, `30m` or a crontab line
    interval: int | None = None  # seconds, for `1h`/`30m`
    cron: str | None = None  # a crontab line, checked by APScheduler's own parser


class ReportStop(_Cmd):
    kind: Literal["report_stop"] = "report_stop"
    report_id: str


class ListReports(_Cmd):
    kind: Literal["reports"] = "reports"


class UseCluster(_Cmd):
    kind: Literal["use"] = "use"
    name: str


class ShowDefaults(_Cmd):
    kind: Literal["defaults"] = "defaults"


class SetDefaults(_Cmd):
    """`defaults set`: only the keys given change (`values.model_fields_set`)."""

    kind: Literal["defaults_set"] = "defaults_set"
    values: Defaults


class UnsetDefaults(_Cmd):
    kind: Literal["defaults_unset"] = "defaults_unset"
    keys: tuple[str, ...] = ()  # Defaults field names, or `env:NAME` for one variable
    all: bool = False


class SubmitForm(_Cmd):
    """`submit` with no arguments: in Slack it opens the submit form (a modal)."""

    kind: Literal["submit_form"] = "submit_form"


class ConfigShow(_Cmd):
    kind: Literal["config"] = "config"


class ConfigPaths(_Cmd):
    kind: Literal["config_paths"] = "config_paths"


class ListTemplates(_Cmd):
    kind: Literal["templates"] = "templates"


class ShowTemplate(_Cmd):
    kind: Literal["template_show"] = "template_show"
    name: str


class AttachedScript(BaseModel):
    """A script file attached to the message (Slack), downloaded by the surface."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    text: str


class SubmitScript(_Cmd):
    """`submit --script PATH|-`: an existing script, rendered with its `--var`s, to sbatch."""

    kind: Literal["submit_script"] = "submit_script"
    path: str | None = None  # on the cluster, read as the caller; None: `source` is the script
    source: str | None = None  # the fenced block of the message, or the attached file's text
    attached: str | None = None  # the attached file's name when `source` is that file
    variables: tuple[tuple[str, str], ...] = ()
    # sbatch options for the flags the user gave, one argv element each (`--partition=gpu`)
    options: tuple[str, ...] = ()
    name: str | None = None
    partition: str | None = None
    dry_run: bool = False
    notify_channel: bool = False


class FlowSource(BaseModel):
    """Where a workflow's YAML comes from: a path on the cluster (read as the caller), or the
    text of an attached file or a fenced block; `label` says which, as shown to users."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    path: str | None = None
    text: str | None = None
    label: str


class FlowOptions(_Cmd):
    source: FlowSource
    args: tuple[tuple[str, str], ...] = ()  # --arg K=V, over the YAML's `args`
    sweep: tuple[tuple[str, tuple[str, ...]], ...] = ()  # --sweep K=a,b, over its `sweep`


class FlowValidate(FlowOptions):
    """`flow validate SRC`: the plan, nothing submitted."""

    kind: Literal["flow_validate"] = "flow_validate"


class FlowRunCommand(FlowOptions):
    """`flow run SRC [--from JOB] [--to JOB] [--job JOB] [--dry-run]`."""

    kind: Literal["flow_run"] = "flow_run"
    start: str | None = None  # --from: this job and what depends on it
    stop: str | None = None  # --to: this job and what it depends on
    only: str | None = None  # --job: this job alone, no dependencies
    dry_run: bool = False


class ListFlows(_Cmd):
    kind: Literal["flows"] = "flows"
    all: bool = False


class FlowStatus(_Cmd):
    kind: Literal["flow_status"] = "flow_status"
    run_id: str


class FlowCancel(_Cmd):
    kind: Literal["flow_cancel"] = "flow_cancel"
    run_id: str


Command = (
    Submit
    | SubmitScript
    | Status
    | ListJobs
    | Cancel
    | Tail
    | Resources
    | History
    | Clusters
    | ConfigShow
    | ConfigPaths
    | ListTemplates
    | ShowTemplate
    | WatchJob
    | WatchMine
    | ListWatches
    | Unwatch
    | WatchGpus
    | ReportNow
    | ReportEvery
    | ReportStop
    | ListReports
    | UseCluster
    | ShowDefaults
    | SetDefaults
    | UnsetDefaults
    | SubmitForm
    | FlowValidate
    | FlowRunCommand
    | ListFlows
    | FlowStatus
    | FlowCancel
    | Help
)
