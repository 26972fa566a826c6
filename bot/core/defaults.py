"""Job defaults with one precedence, highest first: a flag on the command > the user's own
(`defaults set`, per cluster) > `access.users.<id>.defaults` > `clusters[].defaults` >
top-level `defaults` > the template's. Also the `defaults` commands, which show and change
the user's own.

conda, venv and container are one choice (`environment`): the highest level naming any of
them decides it. Environment variables merge name by name, each from its highest level.
The submit form opens at the same values (bot/core/forms.py `initial_fields`)."""

from __future__ import annotations

from typing import Any

from bot.config import ClusterConfig, Config, Defaults
from bot.core import commands as c
from bot.core import replies as r
from bot.core.models import ContainerResource, Job
from bot.core.prefs import Prefs, stored

FLAG, TEMPLATE = "flag", "template"
RESOURCE_KEYS = (
    "partition", "nodes", "gpus_per_node", "ntasks_per_node", "cpus_per_task", "memory",
    "time_limit",
)  # fmt: skip
PATH_KEYS = ("log_dir", "work_dir")
ENVIRONMENTS = ("conda", "venv", "container")
DEFAULTS_COMMANDS = (c.ShowDefaults, c.SetDefaults, c.UnsetDefaults)
DefaultsCommand = c.ShowDefaults | c.SetDefaults | c.UnsetDefaults


def _environment(d: Defaults) -> tuple[str, str] | None:
    for name in ENVIRONMENTS:
        value = getattr(d, name)
        if value:
            return name, value
    return None


class JobDefaults:
    def __init__(self, config: Config, prefs: Prefs) -> None:
        self.config = config
        self.prefs = prefs

    def levels(self, user_id: str, cluster: ClusterConfig) -> list[tuple[str, Defaults]]:
        """The configured and own levels, highest first (flags above, the template below)."""
        grant = self.config.access.users.get(user_id)
        return [
            ("you", self.prefs.own_defaults(user_id, cluster.name)),
            ("your account", grant.defaults if grant else Defaults()),
            ("cluster", _cluster_level(cluster)),
            ("global", self.config.defaults),
        ]

    def resolve(
        self, user_id: str, cluster: ClusterConfig, job: Job, given: frozenset[str] | None
    ) -> tuple[Job, list[r.DefaultSetting]]:
        """The job with every field the user gave no flag for filled from the defaults, and
        where each value came from. `given=None` (built in code): the job as it is."""
        if given is None:
            return job, []
        levels = self.levels(user_id, cluster)
        settings: list[r.DefaultSetting] = []
        fields: dict[str, Any] = {}
        for key in (*RESOURCE_KEYS, *PATH_KEYS):
            value = getattr(job.resources if key in RESOURCE_KEYS else job, key)
            source = FLAG if key in given else TEMPLATE
            if key not in given:
                for label, d in levels:
                    if getattr(d, key) is not None:
                        value, source = getattr(d, key), label
                        break
            fields[key] = value
            settings.append(r.DefaultSetting(key=key, value=_text(value), source=source))
        env = job.environment
        chosen: tuple[str, str] | None = None
        if not given & set(ENVIRONMENTS):
            found = next(((lb, e) for lb, d in levels if (e := _environment(d))), None)
            if found is not None:
                source, chosen = found
                env = env.model_copy(
                    update={
                        "conda": None,
                        "venv": None,
                        "container": None,
                        chosen[0]: ContainerResource(image=chosen[1])
                        if chosen[0] == "container"
                        else chosen[1],
                    }
                )
            else:
                source = TEMPLATE
        else:
            source = FLAG
        shown_env = _env_text(env.conda, env.venv, env.container)
        settings.append(r.DefaultSetting(key="environment", value=shown_env, source=source))
        env_vars = dict(job.environment.env_vars)
        var_source = dict.fromkeys(env_vars, FLAG)
        for label, d in levels:
            for name, value in d.env_vars.items():
                if name not in env_vars:
                    env_vars[name], var_source[name] = value, label
        settings += [
            r.DefaultSetting(key=f"env:{name}", value=env_vars[name], source=var_source[name])
            for name in sorted(env_vars)
        ]
        data = job.model_dump()
        data["resources"].update({k: fields[k] for k in RESOURCE_KEYS})
        data.update({k: fields[k] for k in PATH_KEYS})
        data["environment"] = {**env.model_dump(), "env_vars": env_vars}
        return Job.model_validate(data), settings  # validated again, as a whole

    async def run(self, user_id: str, cluster: ClusterConfig, cmd: DefaultsCommand) -> r.Reply:
        match cmd:
            case c.ShowDefaults():
                _, settings = self.resolve(user_id, cluster, Job(command="true"), frozenset())
                return r.DefaultsReply(cluster=cluster.name, settings=settings)
            case c.SetDefaults():
                own = stored(self.prefs.own_defaults(user_id, cluster.name))
                for key in cmd.values.model_fields_set:
                    value = getattr(cmd.values, key)
                    if key == "env_vars":
                        value = {**own.get("env_vars", {}), **value}  # type: ignore[dict-item]
                    elif key in ENVIRONMENTS:  # one choice: the new one replaces the others
                        for other in ENVIRONMENTS:
                            own.pop(other, None)
                    own[key] = value
                await self.prefs.set_own_defaults(
                    user_id, cluster.name, Defaults.model_validate(own)
                )
                changed = ", ".join(
                    f"{k} {_text(getattr(cmd.values, k))}"
                    for k in sorted(cmd.values.model_fields_set)
                )
                return r.Done(text=f"your defaults on {cluster.name}: {changed} (see `defaults`)")
            case c.UnsetDefaults():
                own = {} if cmd.all else stored(self.prefs.own_defaults(user_id, cluster.name))
                for key in cmd.keys:
                    if key.startswith("env:"):
                        own.get("env_vars", {}).pop(key[4:], None)  # type: ignore[attr-defined]
                    else:
                        own.pop(key, None)
                values = Defaults.model_validate(own)
                await self.prefs.set_own_defaults(user_id, cluster.name, values)
                what = "all your defaults" if cmd.all else ", ".join(cmd.keys)
                return r.Done(text=f"unset {what} on {cluster.name} (see `defaults`)")


def _cluster_level(cluster: ClusterConfig) -> Defaults:
    """`clusters[].defaults`, with the older `default_partition` as its partition."""
    d = cluster.defaults
    if d.partition is None and cluster.default_partition is not None:
        return d.model_copy(update={"partition": cluster.default_partition})
    return d


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _env_text(conda: str | None, venv: str | None, container: ContainerResource | None) -> str:
    if conda:
        return f"conda {conda}"
    if venv:
        return f"venv {venv}"
    if container:
        return f"container {container.image}"
    return "none"
