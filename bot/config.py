"""Bot configuration: one YAML file (`$SRUNX_BOT_CONFIG`), secrets only from the environment."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from bot.core.models import ContainerResource, Job, JobEnvironment, JobResource
from bot.errors import ConfigError
from bot.store.url import is_postgres, redact

DEFAULT_CONFIG_PATH = "./srunx-bot.yaml"
STORE_ENV = "SRUNX_BOT_STORE"  # the store's URL; wins over `store:` (it may hold a password)
LOCAL_CLUSTER = "local"  # the cluster of the console's login-node default
SLURM_COMMANDS = ("sinfo", "sbatch")  # on the PATH: this host is a login node
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_ACCOUNT_RE = re.compile(r"^[a-z_][a-z0-9_.-]{0,31}\$?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_RESOURCE_KEYS = (
    "partition", "nodes", "gpus_per_node", "ntasks_per_node", "cpus_per_task", "memory",
    "time_limit",
)  # fmt: skip


def _inner_error(err: ValidationError) -> str:
    e = err.errors()[0]
    return str(e["msg"]).removeprefix("Value error, ")


class Defaults(_Strict):
    """Job defaults at one level (top-level `defaults`, `clusters[].defaults`,
    `access.users.<id>.defaults`, a user's own from `defaults set`). Every value goes through
    the job model's own validators, so a default is refused exactly as the flag would be."""

    partition: str | None = None
    nodes: int | None = None
    gpus_per_node: int | None = None
    ntasks_per_node: int | None = None
    cpus_per_task: int | None = None
    memory: str | None = None
    time_limit: str | None = None
    conda: str | None = None
    venv: str | None = None
    container: str | None = None  # an image, run with pyxis
    env_vars: dict[str, str] = Field(default_factory=dict)
    log_dir: str | None = None
    work_dir: str | None = None

    @field_validator(*_RESOURCE_KEYS)
    @classmethod
    def _resource(cls, v: Any, info: ValidationInfo) -> Any:
        if v is None:
            return v
        try:
            return getattr(JobResource.model_validate({info.field_name: v}), str(info.field_name))
        except ValidationError as e:
            raise ValueError(_inner_error(e)) from None

    @field_validator("conda", "venv", "env_vars")
    @classmethod
    def _environment(cls, v: Any, info: ValidationInfo) -> Any:
        try:
            JobEnvironment.model_validate({info.field_name: v})
        except ValidationError as e:
            raise ValueError(_inner_error(e)) from None
        return v

    @field_validator("container")
    @classmethod
    def _container(cls, v: str | None) -> str | None:
        try:
            return None if v is None else ContainerResource(image=v).image
        except ValidationError as e:
            raise ValueError(_inner_error(e)) from None

    @field_validator("log_dir", "work_dir")
    @classmethod
    def _path(cls, v: str | None, info: ValidationInfo) -> str | None:
        try:
            Job.model_validate({"command": "true", info.field_name: v})
        except ValidationError as e:
            raise ValueError(_inner_error(e)) from None
        return v

    @model_validator(mode="after")
    def _one_env(self) -> Defaults:
        chosen = [n for n in ("conda", "venv", "container") if getattr(self, n)]
        if len(chosen) > 1:
            raise ValueError(f"choose one of conda, venv, container (got {', '.join(chosen)})")
        return self


class ClusterConfig(_Strict):
    """One Slurm cluster: reached over SSH (`host` or `ssh_config_host`) or locally."""

    name: str
    host: str | None = None
    port: int = Field(default=22, ge=1, le=65535)
    ssh_config_host: str | None = None
    ssh_config: Path | None = None
    known_hosts: Path | None = None
    key_file: Path | None = None
    proxy_jump: str | None = None
    default_partition: str | None = None
    command_timeout: float = Field(default=30.0, gt=0)
    max_sessions: int = Field(default=8, ge=1, le=9)
    keepalive_interval: float = Field(default=15.0, gt=0)
    reconnect_max_backoff: float = Field(default=30.0, gt=0)
    defaults: Defaults = Field(default_factory=Defaults)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME_RE.match(v):
            raise ValueError("use letters, digits, '.', '_' or '-' (max 64)")
        return v

    @property
    def is_local(self) -> bool:
        return self.host is None and self.ssh_config_host is None


class UserGrant(_Strict):
    """A Slack user's cluster login: the bot acts as `account`, so Slurm enforces ownership."""

    account: str
    key_file: Path | None = None
    defaults: Defaults = Field(default_factory=Defaults)

    @field_validator("account")
    @classmethod
    def _account(cls, v: str) -> str:
        if not _ACCOUNT_RE.match(v):
            raise ValueError("not a valid Unix user name")
        return v


class AccessConfig(_Strict):
    users: dict[str, UserGrant] = Field(default_factory=dict)
    admins: list[str] = Field(default_factory=list)
    channels: list[str] = Field(default_factory=list)
    # Channel id -> the Slack users who may schedule reports into it (admins always may).
    reports: dict[str, list[str]] = Field(default_factory=dict)


class NotifyConfig(_Strict):
    poll_interval: float = Field(default=30.0, ge=1.0)
    time_limit_warning: float = Field(default=600.0, ge=0.0)  # seconds left; 0 = never
    # `watch gpus --continuous` re-arms only after the count stayed below N this long, so a
    # value flapping around N notifies once, not on every poll.
    gpu_rearm_after: float = Field(default=300.0, ge=0.0)


class ReportsConfig(_Strict):
    timezone: str = "UTC"  # for crontab schedules and the time shown on reports
    min_interval: float = Field(default=300.0, ge=1.0)  # shortest `report every` allowed

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone `{v}`; use an IANA name like Europe/Berlin"
            ) from None
        return v


_RETENTION_RE = re.compile(r"(\d{1,6})([smhdw])", re.ASCII)
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class StateConfig(_Strict):
    # Finished job threads are kept this long (then pruned): `30d`, `12h`, `2w` or seconds.
    retention: float = Field(default=30 * 86400, gt=0)

    @field_validator("retention", mode="before")
    @classmethod
    def _retention(cls, v: Any) -> Any:
        if not isinstance(v, str):
            return v
        m = _RETENTION_RE.fullmatch(v.strip())
        if m is None:
            raise ValueError(f"invalid duration `{v}`: use e.g. 30d, 12h or 2w")
        return int(m[1]) * _UNIT_SECONDS[m[2]]


class Config(_Strict):
    clusters: list[ClusterConfig] = Field(min_length=1)
    access: AccessConfig = Field(default_factory=AccessConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    state: StateConfig = Field(default_factory=StateConfig)
    templates: dict[str, Path] = Field(default_factory=dict)
    templates_dir: Path | None = None
    defaults: Defaults = Field(default_factory=Defaults)
    # Shared by every replica: `postgresql://USER@HOST:PORT/DB`; none = TinyDB files in the
    # state directory. Never shown with its password (`config show`).
    store: str | None = None

    @field_validator("store")
    @classmethod
    def _store(cls, v: str | None) -> str | None:
        if v is not None and not is_postgres(v):
            raise ValueError("use a PostgreSQL URL: postgresql://USER@HOST:PORT/DATABASE")
        return v

    @field_serializer("store")
    def _store_shown(self, v: str | None) -> str | None:
        return None if v is None else redact(v)

    @field_validator("clusters")
    @classmethod
    def _unique_clusters(cls, clusters: list[ClusterConfig]) -> list[ClusterConfig]:
        names = [c.name for c in clusters]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"cluster names must be unique; repeated: {', '.join(dupes)}")
        return clusters

    def cluster(self, name: str | None) -> ClusterConfig:
        """The named cluster, or the first one when no name is given."""
        if name is None:
            return self.clusters[0]
        for c in self.clusters:
            if c.name == name:
                return c
        raise ConfigError(f"unknown cluster `{name}`; clusters: {', '.join(self.cluster_names)}")

    @property
    def cluster_names(self) -> list[str]:
        return [c.name for c in self.clusters]

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.access.admins


def _plain_errors(path: str, err: ValidationError) -> str:
    lines = [f"invalid config {path}:"]
    for e in err.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        lines.append(f"  {where}: {msg}")
    return "\n".join(lines)


def config_path() -> str:
    return os.environ.get("SRUNX_BOT_CONFIG", DEFAULT_CONFIG_PATH)


def config_given(path: str | None) -> bool:
    """Whether there is a config to load: named (`--config`, `$SRUNX_BOT_CONFIG`; missing is
    then an error) or present at the default path."""
    return bool(path or os.environ.get("SRUNX_BOT_CONFIG")) or os.path.lexists(DEFAULT_CONFIG_PATH)


def on_login_node() -> bool:
    return all(shutil.which(cmd) for cmd in SLURM_COMMANDS)


def login_node_config(account: str) -> Config:
    """No file on a login node: this host's Slurm as `account`, who is the only user (under
    their own name) and admin of their own console."""
    if not _ACCOUNT_RE.match(account):
        raise ConfigError(
            f"your account `{account}` is not a Unix user name srunx-bot accepts; "
            f"copy srunx-bot.example.yaml to {DEFAULT_CONFIG_PATH} and map a user there"
        )
    grant = UserGrant(account=account)
    return Config(
        clusters=[ClusterConfig(name=LOCAL_CLUSTER)],
        access=AccessConfig(users={account: grant}, admins=[account]),
    )


def parse_config(data: Any, path: str = "<config>") -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"invalid config {path}: expected a mapping with `clusters:` at the top")
    try:
        return Config.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_plain_errors(path, e)) from None


def load_config(path: str | None = None) -> Config:
    """Load and validate the YAML config; every failure is one ConfigError naming file and key."""
    path = path or config_path()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"config file {path} not found; copy srunx-bot.example.yaml there "
            "or set SRUNX_BOT_CONFIG"
        ) from None
    except OSError as e:
        raise ConfigError(f"cannot read config {path}: {e.strerror}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        raise ConfigError(f"config {path} is not valid YAML{where}") from None
    return parse_config(data, path)


def store_url(config: Config) -> str | None:
    """The PostgreSQL store the state lives in (`$SRUNX_BOT_STORE`, else `store:`); None:
    TinyDB files in `state_dir()`."""
    return os.environ.get(STORE_ENV) or config.store


def state_dir() -> Path:
    """Where the bot keeps its state and audit log (`$SRUNX_BOT_STATE`, default ./state)."""
    return Path(os.environ.get("SRUNX_BOT_STATE", "./state"))
