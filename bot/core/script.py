"""Job scripts from jinja2 templates, rendered in a sandbox.

User text only ever enters a template as a variable, never as template source. Values that
land in `#SBATCH` lines must pass `directive` (no spaces, quotes, `$` or newlines); values that
land in shell lines go through `q` (shlex.quote). The user's command is the one piece of text
meant to run, and it runs only inside the job.
"""

from __future__ import annotations

import re
import shlex
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from bot.core.models import Job, shown
from bot.errors import ConfigError, UsageError

if TYPE_CHECKING:  # jinja2 loads with the first script rendered, not with every command
    from jinja2.sandbox import SandboxedEnvironment

BUILTIN_TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
DEFAULT_TEMPLATE = "advanced"
_DIRECTIVE_RE = re.compile(r"[\w.,:+@/%\[\]-]+", re.ASCII)
_ENVNAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _directive(value: object) -> str:
    text = str(value)
    if not _DIRECTIVE_RE.fullmatch(text):
        raise UsageError(f"`{shown(text)}` cannot go into an #SBATCH line")
    return text


def _envname(value: object) -> str:
    text = str(value)
    if not _ENVNAME_RE.fullmatch(text):
        raise UsageError(f"`{shown(text)}` is not a valid environment variable name")
    return text


def _unsupported(option: str) -> str:
    """Called by a template that cannot honour an option, so it is refused, not dropped."""
    raise UsageError(f"this template does not support {option}; use --template {DEFAULT_TEMPLATE}")


class ScriptRenderer:
    """Renders a Job with one of the named templates (built-ins plus the config's)."""

    def __init__(
        self, extra: dict[str, Path] | None = None, builtin_dir: Path | None = None
    ) -> None:
        self._paths: dict[str, Path] = {
            p.name.removesuffix(".slurm.jinja"): p
            for p in sorted((builtin_dir or BUILTIN_TEMPLATES_DIR).glob("*.slurm.jinja"))
        }
        self._paths.update(extra or {})

    @cached_property
    def _env(self) -> SandboxedEnvironment:
        from jinja2 import StrictUndefined
        from jinja2.sandbox import SandboxedEnvironment

        env = SandboxedEnvironment(
            autoescape=False, undefined=StrictUndefined, keep_trailing_newline=True
        )
        env.filters["q"] = lambda v: shlex.quote(str(v))
        env.filters["directive"] = _directive
        env.filters["envname"] = _envname
        env.globals["unsupported"] = _unsupported
        return env

    @property
    def names(self) -> list[str]:
        return sorted(self._paths)

    def render(self, job: Job) -> str:
        path = self._paths.get(job.template)
        if path is None:
            raise UsageError(
                f"unknown template `{job.template}`; templates: {', '.join(self.names)}"
            )
        from jinja2 import TemplateError

        try:
            template = self._env.from_string(path.read_text(encoding="utf-8"))
        except (OSError, TemplateError) as e:
            raise ConfigError(f"template `{job.template}` ({path}) cannot be loaded: {e}") from None
        script = template.render(job=job, res=job.resources, env=job.environment)
        return script if script.endswith("\n") else script + "\n"
