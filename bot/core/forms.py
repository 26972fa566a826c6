"""The submit form (a Slack modal) as a command: each field goes through the same grammar as
`/srunx submit`, so a form can't submit anything the command line would refuse, and each
mistake is reported on the field it came from."""

from __future__ import annotations

import shlex

from pydantic import BaseModel, ConfigDict

from bot.core import commands as c
from bot.core.grammar import parse
from bot.core.models import Job
from bot.errors import UsageError

# Form field -> the `submit` option it stands for (the command goes after `--`).
OPTIONS = {"name": "-J", "partition": "-p", "gpus_per_node": "--gpus-per-node", "time": "-t"}
OPTIONS |= {"memory": "--mem", "conda": "--conda", "venv": "--venv", "container": "--container"}
OPTIONS |= {"template": "--template"}
ENVIRONMENTS = ("conda", "venv", "container")


class FormErrors(UsageError):
    """Mistakes per form field, each one actionable line."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


class SubmitFields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = ""
    partition: str = ""
    gpus_per_node: str = ""
    time: str = ""
    memory: str = ""
    conda: str = ""
    venv: str = ""
    container: str = ""
    template: str = ""
    command: str = ""
    env: str = ""  # KEY=VALUE, one per line
    cluster: str | None = None


def _env_lines(env: str) -> list[str]:
    return [line.strip() for line in env.splitlines() if line.strip()]


def _args(fields: SubmitFields, only: str | None = None) -> list[str]:
    args: list[str] = []
    for field, flag in OPTIONS.items():
        value = getattr(fields, field).strip()
        if value and only in (None, field):
            args += [flag, shlex.quote(value)]
    if only in (None, "env"):
        for line in _env_lines(fields.env):
            args += ["--env", shlex.quote(line)]
    if fields.cluster and only is None:
        args += ["--cluster", shlex.quote(fields.cluster)]
    return args


def submit_command(fields: SubmitFields) -> c.Submit:
    """The `submit` command the form stands for; FormErrors names every bad field."""
    errors: dict[str, str] = {}
    if not fields.command.strip():
        errors["command"] = "the command to run is empty, e.g. `python train.py`"
    for field in (*OPTIONS, "env"):
        try:
            parse("submit " + " ".join(_args(fields, field)) + " -- true")
        except UsageError as e:
            errors[field] = str(e)
    chosen = [f for f in ENVIRONMENTS if getattr(fields, f).strip()]
    for field in chosen[1:]:  # shown under each extra one: which to keep is the user's call
        errors[field] = f"choose one of conda, venv, container (got {', '.join(chosen)})"
    if errors:
        raise FormErrors(errors)
    try:
        cmd = parse("submit " + " ".join(_args(fields)) + " -- " + fields.command.strip())
    except UsageError as e:  # every option passed alone: what is left is the command's
        raise FormErrors({"command": str(e)}) from None
    assert isinstance(cmd, c.Submit)
    return cmd


def initial_fields(job: Job) -> dict[str, str]:
    """The form's fields pre-filled from a job the defaults filled in: what a blank field
    would get anyway, shown so the user sees and can change it."""
    res, env = job.resources, job.environment
    values = {
        "partition": res.partition,
        "gpus_per_node": res.gpus_per_node,
        "time": res.time_limit,
        "memory": res.memory,
        "conda": env.conda,
        "venv": env.venv,
        "container": env.container.image if env.container else None,
        "template": job.template,
    }
    return {k: str(v) for k, v in values.items() if v not in (None, "", 0)}


def command_from_message(text: str) -> str:
    """A message's text as a job command: code fences and a leading `$ ` prompt removed."""
    body = text.strip()
    if body.startswith("```") and body.endswith("```") and len(body) >= 6:
        body = body[3:-3].strip()
    elif body.startswith("`") and body.endswith("`") and len(body) >= 2:
        body = body[1:-1].strip()
    lines = [ln[2:] if ln.startswith("$ ") else ln for ln in body.splitlines()]
    return "\n".join(lines).strip()
