"""`templates`, `template show NAME` and `config paths`: parsed, answered through the dispatch
(with no cluster), and rendered for the console and Slack."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import parse_config
from bot.core import commands as c
from bot.core import replies as r
from bot.core.grammar import parse
from bot.core.script import BUILTIN_TEMPLATES_DIR, ScriptRenderer
from bot.errors import UsageError
from bot.render.blocks import render_blocks
from bot.render.text import render_text
from bot.runtime import Runtime
from labkit import ADMIN, ALICE, Lab
from scripted import Scripted, ScriptedPool


def _pool() -> ScriptedPool:
    return ScriptedPool({a: Scripted({}) for a in ("alice", "bob", "hpcuser")})


async def _runtime(tmp_path: Path, **config: object) -> Runtime:
    data = Lab.from_env().config_data()
    data.update(config)
    return await Runtime.open(
        parse_config(data), pool=_pool(), config_file=str(tmp_path / "srunx-bot.yaml")
    )


def test_the_commands_parse() -> None:
    assert parse("templates") == c.ListTemplates()
    assert parse("template show base") == c.ShowTemplate(name="base")
    assert parse("config paths") == c.ConfigPaths()
    assert parse("config show") == c.ConfigShow()
    with pytest.raises(UsageError, match="`template` needs"):
        parse("template")
    with pytest.raises(UsageError, match="invalid choice"):
        parse("config where")


def test_every_builtin_template_has_a_one_line_description() -> None:
    renderer = ScriptRenderer()
    assert renderer.names == ["advanced", "base"]
    for name in renderer.names:
        assert renderer.is_builtin(name)
        text = renderer.description(name)
        assert text and "\n" not in text and "#}" not in text
    assert renderer.templates_dir == BUILTIN_TEMPLATES_DIR


async def test_templates_lists_builtin_and_configured_ones(tmp_path: Path) -> None:
    mine = tmp_path / "gpu.slurm.jinja"
    mine.write_text(
        "#!/bin/bash\n{# description: GPU jobs\n   on the A100s #}\n{{ job.command }}\n"
    )
    bare = tmp_path / "bare.slurm.jinja"
    bare.write_text("#!/bin/bash\n")
    rt = await _runtime(tmp_path, templates={"gpu": str(mine), "bare": str(bare)})
    try:
        reply = await rt.dispatch.handle(ALICE, "templates")
        shown = await rt.dispatch.handle(ALICE, "template show gpu")
        unknown = await rt.dispatch.handle(ALICE, "template show x")
    finally:
        await rt.close()
    assert isinstance(reply, r.TemplatesReply)
    by_name = {t.name: t for t in reply.templates}
    assert list(by_name) == ["advanced", "bare", "base", "gpu"]
    assert by_name["gpu"] == r.TemplateSummary(
        name="gpu", description="GPU jobs on the A100s", builtin=False
    )
    assert by_name["bare"].description == "" and by_name["base"].builtin
    text = render_text(reply)
    assert "gpu       config    GPU jobs on the A100s" in text and "bare      config    -" in text
    assert isinstance(shown, r.TemplateReply) and shown.text == mine.read_text()
    assert render_text(shown).startswith("template `gpu`:\n#!/bin/bash\n")
    assert isinstance(unknown, r.ErrorReply)
    assert unknown.message == "unknown template `x`; templates: advanced, bare, base, gpu"
    for x in (reply, shown):
        _, blocks = render_blocks(x)
        assert blocks


async def test_config_paths_is_for_anyone_in_the_console_and_admins_in_slack(
    tmp_path: Path,
) -> None:
    rt = await _runtime(tmp_path, templates_dir=str(BUILTIN_TEMPLATES_DIR))
    try:
        console = await rt.dispatch.handle(ALICE, "config paths")
        slack = await rt.dispatch.handle(ALICE, "config paths", channel="D0ALICE", dm=True)
        admin = await rt.dispatch.handle(ADMIN, "config paths", channel="D0ADMIN", dm=True)
    finally:
        await rt.close()
    assert isinstance(console, r.ConfigPathsReply) and console == admin
    assert console.config_file == str(tmp_path / "srunx-bot.yaml")
    assert console.templates_dir == str(BUILTIN_TEMPLATES_DIR)
    assert Path(console.state_dir).is_absolute()
    assert isinstance(slack, r.ErrorReply) and "`config paths` is for admins" in slack.message
    lines = render_text(console).splitlines()
    assert lines[0] == f"config file    {tmp_path / 'srunx-bot.yaml'}"
    assert [ln.split()[0] for ln in lines] == ["config", "state", "templates"]
    assert render_blocks(console)[1]
