"""The job model (srunx's Job/JobResource/JobEnvironment) and what Slurm tells us about jobs.

Every field that reaches a job script is validated here, so an injection attempt is refused
with a message before any template sees it; the templates quote again as a second wall.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

JOB_ID_RE = re.compile(r"^\d+(_\d+)?$", re.ASCII)
_NAME_RE = re.compile(r"^[\w.+:@-]{1,128}$", re.ASCII)
_PARTITION_RE = re.compile(r"^[\w.-]{1,64}$", re.ASCII)
_NODELIST_RE = re.compile(r"^[\w\[\],.-]{1,512}$", re.ASCII)
_MEM_RE = re.compile(r"^(\d+)([KMGT]?)B?$", re.IGNORECASE | re.ASCII)
_ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$", re.ASCII)
_PATH_RE = re.compile(r"^[\w./+@-]{1,512}$", re.ASCII)
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# Slurm --time: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S
_TIME_RE = re.compile(
    r"^(?:(?P<d>\d+)-(?P<dh>\d{1,2})(?::(?P<dm>\d{1,2})(?::(?P<ds>\d{1,2}))?)?"
    r"|(?P<h>\d+):(?P<m>\d{1,2}):(?P<s>\d{1,2})"
    r"|(?P<mm>\d+):(?P<ms>\d{1,2})"
    r"|(?P<min>\d+))$",
    re.ASCII,
)


def shown(value: str) -> str:
    """A user's value as it can be quoted back on one line (newlines shown as \\n)."""
    return value if value.isprintable() else value.encode("unicode_escape").decode()


def _check(regex: re.Pattern[str], value: str, what: str) -> str:
    # fullmatch: `$` alone would let a trailing newline through.
    if not regex.fullmatch(value):
        raise ValueError(f"invalid {what} `{shown(value)}`: {_HINTS[what]}")
    return value


_HINTS = {
    "job name": "use letters, digits and . _ - + : @ (max 128)",
    "partition": "use letters, digits and . _ -",
    "nodelist": "use node names like node1,node[2-3]",
    "path": "use letters, digits and . / _ - + @ (no spaces)",
    "variable name": "use letters, digits and _ and start with a letter",
}


def validate_memory(value: str) -> str:
    """`32G`, `500M`, `1024` (MB) -> Slurm form without the trailing B."""
    m = _MEM_RE.fullmatch(value.strip())
    if not m or int(m.group(1)) == 0:
        raise ValueError(
            f"invalid memory `{shown(value)}`: use a number with K, M, G or T, e.g. 32G"
        )
    return f"{m.group(1)}{m.group(2).upper()}"


def _duration(value: str) -> int | None:
    """Seconds in a Slurm duration, zero allowed; None when it is not one."""
    m = _TIME_RE.fullmatch(value.strip())
    if not m:
        return None
    g = {k: int(v) for k, v in m.groupdict().items() if v is not None}
    if "min" in g:
        return g["min"] * 60
    if "mm" in g:
        return g["mm"] * 60 + g["ms"] if g["ms"] <= 59 else None
    if "h" in g:
        return g["h"] * 3600 + g["m"] * 60 + g["s"] if max(g["m"], g["s"]) <= 59 else None
    dm, ds = g.get("dm", 0), g.get("ds", 0)
    if g["dh"] > 23 or max(dm, ds) > 59:
        return None
    return g["d"] * 86400 + g["dh"] * 3600 + dm * 60 + ds


def time_limit_seconds(value: str) -> int:
    """Seconds in a Slurm time limit; ValueError with the accepted forms when malformed."""
    secs = _duration(value)
    if not secs:
        raise ValueError(
            f"invalid time `{shown(value)}`: use minutes, MM:SS, HH:MM:SS or D-HH:MM:SS, "
            "e.g. 2:00:00"
        )
    return secs


def duration_seconds(text: str | None) -> int | None:
    """Seconds in what Slurm prints for a duration (`1:02:03`, `1-00:00:00`, `00:01.500`);
    None for UNLIMITED and the like."""
    return _duration(text.split(".", 1)[0]) if text else None


def validate_time(value: str) -> str:
    time_limit_seconds(value)
    return value.strip()


def validate_job_id(value: str) -> str:
    value = value.strip()
    if not JOB_ID_RE.match(value):
        raise ValueError(
            f"invalid job id `{value}`: use a number like 4121 or an array task 4121_3"
        )
    return value


def _no_control(value: str, what: str) -> str:
    if _CONTROL_RE.search(value):
        raise ValueError(f"{what} must not contain newlines or control characters")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class JobResource(_Model):
    nodes: int = Field(default=1, ge=1, le=10_000)
    gpus_per_node: int = Field(default=0, ge=0, le=64)
    ntasks_per_node: int = Field(default=1, ge=1, le=1024)
    cpus_per_task: int = Field(default=1, ge=1, le=1024)
    memory: str | None = None
    time_limit: str | None = None
    partition: str | None = None
    nodelist: str | None = None

    @field_validator("memory")
    @classmethod
    def _mem(cls, v: str | None) -> str | None:
        return None if v is None else validate_memory(v)

    @field_validator("time_limit")
    @classmethod
    def _time(cls, v: str | None) -> str | None:
        return None if v is None else validate_time(v)

    @field_validator("partition")
    @classmethod
    def _partition(cls, v: str | None) -> str | None:
        return None if v is None else _check(_PARTITION_RE, v, "partition")

    @field_validator("nodelist")
    @classmethod
    def _nodelist(cls, v: str | None) -> str | None:
        return None if v is None else _check(_NODELIST_RE, v, "nodelist")


class ContainerResource(_Model):
    runtime: Literal["pyxis", "apptainer", "singularity"] = "pyxis"
    image: str
    mounts: list[str] = Field(default_factory=list)
    workdir: str | None = None

    @field_validator("image", "workdir")
    @classmethod
    def _plain(cls, v: str | None) -> str | None:
        return None if v is None else _no_control(v, "container settings")

    @field_validator("mounts")
    @classmethod
    def _mounts(cls, v: list[str]) -> list[str]:
        return [_no_control(m, "container mounts") for m in v]


class JobEnvironment(_Model):
    conda: str | None = None
    venv: str | None = None
    container: ContainerResource | None = None
    env_vars: dict[str, str] = Field(default_factory=dict)

    @field_validator("conda", "venv")
    @classmethod
    def _plain(cls, v: str | None) -> str | None:
        return None if v is None else _no_control(v, "environment names")

    @field_validator("env_vars")
    @classmethod
    def _env(cls, v: dict[str, str]) -> dict[str, str]:
        for key, val in v.items():
            _check(_ENV_KEY_RE, key, "variable name")
            _no_control(val, f"value of {key}")
        return v

    @model_validator(mode="after")
    def _one_env(self) -> JobEnvironment:
        chosen = [n for n in ("conda", "venv", "container") if getattr(self, n)]
        if len(chosen) > 1:
            raise ValueError(
                f"choose one of --conda, --venv, --container (got {', '.join(chosen)})"
            )
        return self


class Job(_Model):
    """A job to submit: what srunx calls Job. `command` is the user's shell command line."""

    name: str = "job"
    command: str
    resources: JobResource = Field(default_factory=JobResource)
    environment: JobEnvironment = Field(default_factory=JobEnvironment)
    log_dir: str | None = None
    work_dir: str | None = None
    template: str = "advanced"

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return _check(_NAME_RE, v, "job name")

    @field_validator("command")
    @classmethod
    def _command(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the command after `--` is empty")
        if "\x00" in v:
            raise ValueError("the command must not contain NUL bytes")
        return v

    @field_validator("log_dir", "work_dir")
    @classmethod
    def _path(cls, v: str | None) -> str | None:
        return None if v is None else _check(_PATH_RE, v, "path")


class JobState(StrEnum):
    PENDING = "PENDING"
    CONFIGURING = "CONFIGURING"
    RUNNING = "RUNNING"
    COMPLETING = "COMPLETING"
    SUSPENDED = "SUSPENDED"
    REQUEUED = "REQUEUED"
    RESIZING = "RESIZING"
    STOPPED = "STOPPED"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    TIMEOUT = "TIMEOUT"
    OUT_OF_MEMORY = "OUT_OF_MEMORY"
    NODE_FAIL = "NODE_FAIL"
    PREEMPTED = "PREEMPTED"
    BOOT_FAIL = "BOOT_FAIL"
    DEADLINE = "DEADLINE"
    REVOKED = "REVOKED"
    SPECIAL_EXIT = "SPECIAL_EXIT"
    # Not Slurm states: the bot could not look (UNKNOWN) or Slurm has no record (NOT_FOUND).
    UNKNOWN = "UNKNOWN"
    NOT_FOUND = "NOT_FOUND"

    @classmethod
    def from_slurm(cls, text: str) -> JobState:
        """`CANCELLED by 1002` -> CANCELLED; anything unrecognised -> UNKNOWN."""
        word = text.strip().split(" ", 1)[0].rstrip("+")
        try:
            return cls(word)
        except ValueError:
            return cls.UNKNOWN

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_active(self) -> bool:
        return not self.is_terminal and self not in (JobState.UNKNOWN, JobState.NOT_FOUND)


_TERMINAL = frozenset(
    {
        JobState.COMPLETED,
        JobState.FAILED,
        JobState.CANCELLED,
        JobState.TIMEOUT,
        JobState.OUT_OF_MEMORY,
        JobState.NODE_FAIL,
        JobState.PREEMPTED,
        JobState.BOOT_FAIL,
        JobState.DEADLINE,
        JobState.REVOKED,
        JobState.SPECIAL_EXIT,
    }
)


class JobInfo(_Model):
    """What Slurm says about one job (or one array, with a per-task tally)."""

    job_id: str
    state: JobState
    name: str = ""
    user: str = ""
    partition: str = ""
    nodes: int | None = None
    nodelist: str = ""
    gpus: int | None = None
    elapsed: str = ""
    time_limit: str = ""
    submit_time: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    exit_code: str | None = None
    reason: str = ""
    source: Literal["squeue", "sacct", "scontrol", "none"] = "none"
    # With UNKNOWN: the last state Slurm recorded, if any, and why the bot could not look.
    last_known: JobState | None = None
    tasks: dict[str, int] = Field(default_factory=dict)

    @property
    def tally(self) -> str:
        """An array's tasks per state, e.g. `COMPLETED 3, RUNNING 1`."""
        return ", ".join(f"{state} {n}" for state, n in sorted(self.tasks.items()))


class HistoryRecord(_Model):
    job_id: str
    name: str
    state: JobState
    exit_code: str
    partition: str
    elapsed: str
    time_limit: str
    start_time: str | None
    end_time: str | None
    total_cpu: str
    max_rss: str
    alloc_tres: str
    req_mem: str
    gpus: int | None


class NodeResources(_Model):
    node: str
    partition: str
    state: str
    gpus_total: int
    gpus_used: int
    available: bool


class PartitionResources(_Model):
    partition: str
    gpus_total: int
    gpus_used: int
    gpus_free: int
    gpus_unavailable: int
    nodes_idle: int = 0
    nodes_mixed: int = 0
    nodes_alloc: int = 0
    nodes_down: int = 0
    nodes_drain: int = 0
    nodes: list[NodeResources] = Field(default_factory=list)


class ResourceSnapshot(_Model):
    cluster: str
    partitions: list[PartitionResources]

    @property
    def gpus_free(self) -> int:
        return sum(p.gpus_free for p in self.partitions)


class QueueJob(_Model):
    """One row of the cluster's queue (a pending array range counts its tasks)."""

    job_id: str
    state: JobState
    user: str
    partition: str
    name: str = ""
    nodes: int | None = None
    gpus: int = 0
    elapsed: str = ""
    pending_seconds: int | None = None  # how long it has waited (pending jobs)
    reason: str = ""
    count: int = 1


class QueueSummary(_Model):
    running: int = 0
    pending: int = 0
    longest_pending_seconds: int | None = None
    longest_pending_job: str | None = None
