"""`templates`, `template show NAME` and `config paths`: what the bot renders job scripts
from, and where it reads and keeps its files."""

from __future__ import annotations

from pathlib import Path

from bot.core import commands as c
from bot.core import replies as r
from bot.core.access import Access
from bot.core.script import ScriptRenderer
from bot.errors import AccessDenied

TEMPLATE_COMMANDS = (c.ListTemplates, c.ShowTemplate, c.ConfigPaths)


def _absolute(path: Path | str) -> str:
    return str(Path(path).absolute())


class Templates:
    def __init__(
        self,
        access: Access,
        renderer: ScriptRenderer,
        *,
        config_file: str | None,
        state_dir: Path,
    ) -> None:
        self.access = access
        self.renderer = renderer
        self.config_file = config_file
        self.state_dir = state_dir

    def run(
        self, user_id: str, cmd: c.ListTemplates | c.ShowTemplate | c.ConfigPaths, console: bool
    ) -> r.Reply:
        # No host paths here: anyone may list templates, paths are for `config paths`.
        if isinstance(cmd, c.ShowTemplate):
            return r.TemplateReply(
                name=cmd.name,
                text=self.renderer.source(cmd.name),
            )
        if isinstance(cmd, c.ConfigPaths):
            return self.paths(user_id, console)
        return r.TemplatesReply(
            templates=[
                r.TemplateSummary(
                    name=name,
                    description=self.renderer.description(name),
                    builtin=self.renderer.is_builtin(name),
                )
                for name in self.renderer.names
            ]
        )

    def paths(self, user_id: str, console: bool) -> r.ConfigPathsReply:
        # The console runs as whoever can read the files already; in Slack, paths on the
        # bot's host are for admins, like `config show`.
        if not console and not self.access.is_admin(user_id):
            raise AccessDenied("`config paths` is for admins")
        return r.ConfigPathsReply(
            config_file=_absolute(self.config_file) if self.config_file else None,
            state_dir=_absolute(self.state_dir),
            templates_dir=_absolute(self.renderer.templates_dir),
        )
