"""Replies: plain data that a renderer turns into console text or Slack Block Kit."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.core.flowruns import FlowRun
from bot.core.models import (
    HistoryRecord,
    Job,
    JobInfo,
    PartitionResources,
    QueueJob,
    QueueSummary,
    ResourceSnapshot,
)
from bot.core.records import Watch
from bot.core.schedules import ReportSchedule


def where(channel: str) -> str:
    """`in <#C123>` for a channel (Slack shows its name), `in your DM` for a DM."""
    if channel.isalnum() and channel[:1] in ("C", "G"):
        return f"in <#{channel}>"
    if channel.startswith("D"):
        return "in your DM"
    return f"in {channel}"


class _Reply(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Errors and help are shown only to the caller; results may go to the channel.
    ephemeral: bool = False


class ErrorReply(_Reply):
    kind: Literal["error"] = "error"
    message: str
    ephemeral: bool = True
    # Slack user ids whose `<@ID>` in `message` is the bot's own mention (an admin to ask):
    # rendered as a mention, while everything else in the message stays escaped.
    mentions: list[str] = []


class HelpReply(_Reply):
    kind: Literal["help"] = "help"
    text: str
    ephemeral: bool = True


class Submitted(_Reply):
    kind: Literal["submitted"] = "submitted"
    cluster: str
    account: str
    job_id: str
    job: Job
    notify_channel: bool = False


class DryRun(_Reply):
    kind: Literal["dry_run"] = "dry_run"
    cluster: str
    script: str
    sbatch: tuple[str, ...] = ()  # the exact sbatch argv, for `submit --script`
    ephemeral: bool = True


class StatusReply(_Reply):
    kind: Literal["status"] = "status"
    cluster: str
    job: JobInfo


class JobList(_Reply):
    kind: Literal["list"] = "list"
    cluster: str
    scope: str  # an account name, or "all users"
    jobs: list[JobInfo]
    show_gpus: bool = False


class Cancelled(_Reply):
    kind: Literal["cancelled"] = "cancelled"
    cluster: str
    job: JobInfo


class TailReply(_Reply):
    kind: Literal["tail"] = "tail"
    cluster: str
    job_id: str
    path: str
    text: str
    cut_to: int | None = None  # the lines were longer: only their last this many bytes


class ResourcesReply(_Reply):
    kind: Literal["resources"] = "resources"
    snapshot: ResourceSnapshot


class HistoryReply(_Reply):
    kind: Literal["history"] = "history"
    cluster: str
    account: str
    since: str
    records: list[HistoryRecord]


class ClusterSummary(BaseModel):
    name: str
    where: str
    default_partition: str | None
    is_default: bool  # the caller's default (`use`), else the first configured
    reachable: bool | None = None  # None: not checked
    detail: str = ""  # partitions and round trip, or why it cannot be reached


class ClustersReply(_Reply):
    kind: Literal["clusters"] = "clusters"
    clusters: list[ClusterSummary]


class Done(_Reply):
    """A short confirmation (watch started or stopped)."""

    kind: Literal["done"] = "done"
    text: str
    ephemeral: bool = True


class Alert(_Reply):
    """A message the bot posts on its own (a GPU watch firing), addressed to `mention`."""

    kind: Literal["alert"] = "alert"
    text: str
    mention: str | None = None


class WatchesReply(_Reply):
    kind: Literal["watches"] = "watches"
    scope: str
    watches: list[Watch]
    ephemeral: bool = True


class ClusterReport(_Reply):
    """A cluster report: GPUs and nodes per partition, the queue, and optionally jobs."""

    kind: Literal["report"] = "report"
    cluster: str
    at: str  # when it was taken, in the configured time zone
    title: str = "Cluster report"
    partitions: list[PartitionResources] | None = None  # `resources`
    queue: QueueSummary | None = None  # `jobs`
    account: str | None = None
    user_jobs: list[QueueJob] | None = None  # `user`: the caller's jobs
    running: list[QueueJob] | None = None  # `running`: everyone's running jobs
    problems: list[str] = []  # parts that could not be read


class ReportsReply(_Reply):
    kind: Literal["reports"] = "reports"
    scope: str
    reports: list[ReportSchedule]
    ephemeral: bool = True


class SubmitFormReply(_Reply):
    """`submit` alone: the Slack layer opens the submit form (a modal) with these choices."""

    kind: Literal["submit_form"] = "submit_form"
    cluster: str
    partitions: list[str]
    default_partition: str | None = None
    initial: dict[str, str] = {}  # form field -> the value the caller's defaults give it
    templates: list[str] = []
    ephemeral: bool = True


class HomeReply(_Reply):
    """What the App Home tab shows one user."""

    kind: Literal["home"] = "home"
    cluster: str
    account: str
    jobs: list[JobInfo] | None = None  # None: could not be read (see problems)
    snapshot: ResourceSnapshot | None = None
    watches: list[Watch] = []
    reports: list[ReportSchedule] = []
    problems: list[str] = []
    ephemeral: bool = True


class ConfigReply(_Reply):
    kind: Literal["config"] = "config"
    text: str
    ephemeral: bool = True


class ConfigPathsReply(_Reply):
    """`config paths`: where the bot reads its config and templates and keeps its state."""

    kind: Literal["config_paths"] = "config_paths"
    config_file: str | None  # None: no file (the console on a login node)
    state_dir: str
    templates_dir: str
    ephemeral: bool = True


class DefaultSetting(BaseModel):
    key: str  # a job field (`memory`), `environment` (conda/venv/container) or `env:NAME`
    value: str | None  # None: not set anywhere (Slurm's own default applies)
    source: str  # flag, you, your account, cluster, global or template


class DefaultsReply(_Reply):
    """`defaults`: the caller's effective job defaults on a cluster and where each is from."""

    kind: Literal["defaults"] = "defaults"
    cluster: str
    settings: list[DefaultSetting]
    ephemeral: bool = True


class TemplateSummary(BaseModel):
    name: str
    description: str  # from the template's `{# description: ... #}`; "" when it has none
    builtin: bool  # shipped with the bot, else from the config


class TemplatesReply(_Reply):
    kind: Literal["templates"] = "templates"
    templates: list[TemplateSummary]
    ephemeral: bool = True


class TemplateReply(_Reply):
    """`template show NAME`: the template's text as written."""

    kind: Literal["template"] = "template"
    name: str
    text: str
    ephemeral: bool = True


class FlowPlanStep(BaseModel):
    """One job of a validated workflow, as `flow validate` lists it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    deps: list[str] = []  # "afterok:preprocess", ...
    level: int = 0  # 0: starts at once; n: after a chain of n parents
    resources: str = ""  # "partition gpu, 1 node, 2 GPUs/node, 4:00:00"
    retry: int = 0
    source: str = ""  # "command" or the script path


class FlowScript(BaseModel):
    """`flow run --dry-run`: one job's rendered script and its sbatch argv."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str  # the Slurm job name (RUN.JOB)
    sbatch: tuple[str, ...]
    script: str


class FlowPlanReply(_Reply):
    """`flow validate` (a plan) and `flow run --dry-run` (the plan and every script)."""

    kind: Literal["flow_plan"] = "flow_plan"
    name: str
    cluster: str
    steps: list[FlowPlanStep]
    cells: list[dict[str, str]] = []  # a sweep's cells (their args); [] without a sweep
    max_parallel: int = 1
    scripts: list[FlowScript] = []  # dry run only
    dry_run: bool = False
    ephemeral: bool = True


class FlowRunReply(_Reply):
    """A run as its parent message shows it (`flow status`, the live message itself)."""

    kind: Literal["flow_run"] = "flow_run"
    run: FlowRun


class FlowSummary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    cluster: str
    account: str
    channel: str
    created: float
    jobs: int
    tally: dict[str, int]  # state -> jobs in it ("PENDING", "RUNNING", "COMPLETED", ...)
    outcome: str = ""  # "" while it runs; completed, failed, cancelled


class FlowList(_Reply):
    """`flows`: the caller's runs (admins: everyone's), newest first."""

    kind: Literal["flows"] = "flows"
    scope: str
    runs: list[FlowSummary]
    ephemeral: bool = True


Reply = (
    ErrorReply
    | HelpReply
    | Submitted
    | DryRun
    | StatusReply
    | JobList
    | Cancelled
    | TailReply
    | ResourcesReply
    | HistoryReply
    | ClustersReply
    | ConfigReply
    | ConfigPathsReply
    | TemplatesReply
    | TemplateReply
    | DefaultsReply
    | Done
    | Alert
    | WatchesReply
    | ClusterReport
    | ReportsReply
    | SubmitFormReply
    | HomeReply
    | FlowPlanReply
    | FlowRunReply
    | FlowList
)
