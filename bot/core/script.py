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
    from jinja2 import Template
    from jinja2.sandbox import SandboxedEnvironment

BUILTIN_TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
DEFAULT_TEMPLATE = "advanced"
_DIRECTIVE_RE = re.compile(r"[\w.,:+@/%\[\]-]+", re.ASCII)
_ENVNAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A template's one-line summary for `templates`: `{# description: ... #}` near its top.
_DESCRIPTION_RE = re.compile(r"\{#-?\s*description:\s*(.*?)\s*-?#\}", re.DOTALL)


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


_DESCRIPTION_WITHIN = 2000  # characters from the top


class ScriptRenderer:
    """Renders a Job with one of the named templates (built-ins plus the config's)."""

    def __init__(
        self, extra: dict[str, Path] | None = None, builtin_dir: Path | None = None
    ) -> None:
        # `templates_dir` (the config's) takes the built-ins' place; `extra` adds to it.
        self.templates_dir = builtin_dir or BUILTIN_TEMPLATES_DIR
        self._paths: dict[str, Path] = {
            p.name.removesuffix(".slurm.jinja"): p
            for p in sorted(self.templates_dir.glob("*.slurm.jinja"))
        }
        self._builtin = set(self._paths) if builtin_dir is None else set()
        self._builtin -= set(extra or {})
        self._paths.update(extra or {})
        self._compiled: dict[str, Template] = {}

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

    def path(self, name: str) -> Path:
        path = self._paths.get(name)
        if path is None:
            names = ", ".join(self.names)
            raise UsageError(f"unknown template `{shown(name)}`; templates: {names}")
        return path

    def is_builtin(self, name: str) -> bool:
        return name in self._builtin

    def source(self, name: str) -> str:
        """The template's text as written (`template show`)."""
        path = self.path(name)
        try:
            return path.read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(f"template `{name}` ({path}) cannot be read: {e.strerror}") from None

    def description(self, name: str) -> str:
        m = _DESCRIPTION_RE.search(self.source(name)[:_DESCRIPTION_WITHIN])
        return " ".join(m.group(1).split()) if m else ""

    def render(self, job: Job) -> str:
        from jinja2 import TemplateError

        path = self.path(job.template)
        try:
            source = path.read_text(encoding="utf-8")
            # Compiled once per text: a 50-job workflow renders one template 50 times.
            template = self._compiled.get(source) or self._env.from_string(source)
            self._compiled[source] = template
        except (OSError, TemplateError) as e:
            raise ConfigError(f"template `{job.template}` ({path}) cannot be loaded: {e}") from None
        script = template.render(job=job, res=job.resources, env=job.environment)
        return script if script.endswith("\n") else script + "\n"

    def render_user_script(self, source: str, variables: dict[str, str]) -> str:
        """The user's own script with its `--var`s, in the same sandbox. Each value goes in as
        plain text: the script is the user's, and it only runs inside the job."""
        from jinja2 import TemplateError, meta

        try:
            ast = self._env.parse(source)
            missing = sorted(meta.find_undeclared_variables(ast) - set(variables))
            if missing:
                names = ", ".join(f"`{shown(m)}`" for m in missing)
                which = "which has" if len(missing) == 1 else "which have"
                raise UsageError(f"the script uses {names}, {which} no --var")
            script = self._env.from_string(ast).render(**variables)
        except TemplateError as e:
            lineno = getattr(e, "lineno", None)
            line = f" (line {lineno})" if lineno else ""
            raise UsageError(
                f"the script is not a valid template{line}: {e.message}; "
                "put literal `{{`, `{%` or `{#` (e.g. `${#arr[@]}`) inside {% raw %}...{% endraw %}"
            ) from None
        return script if script.endswith("\n") else script + "\n"
