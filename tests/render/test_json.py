"""`bot console --json`: every Reply kind as JSON with `kind` first, errors as `{"error"}`."""

from __future__ import annotations

import enum
import json
import types
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from bot.cli import main
from bot.console.repl import run_one
from bot.core import replies as r
from bot.core.models import JobState
from bot.render.blocks import render_blocks
from bot.render.json import render_json, reply_data
from bot.render.text import render_text
from labkit import ALICE, flow_run, flow_step
from scripted import DATA, OfflineBot, captured

# Values that must look like what they name (validated fields).
_SAMPLES: dict[str, Any] = {"job_id": "12", "command": "true", "every": "1h"}


def _sample(annotation: Any, name: str = "") -> Any:
    """A minimal valid value for a field: one of each list, the first of an enum."""
    if name in _SAMPLES:
        return _SAMPLES[name]
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return None if type(None) in args else _sample(args[0], name)
    if origin is typing.Literal:
        return args[0]
    if origin is list:
        return [_sample(args[0])]
    if origin is tuple:
        return ()
    if origin is dict:
        return {}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return build(annotation)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return next(iter(annotation))
    return {str: "x", int: 1, float: 1.0, bool: False}[annotation]


def build(model: type[BaseModel]) -> Any:
    fields = {
        name: _sample(f.annotation, name)
        for name, f in model.model_fields.items()
        if f.is_required()
    }
    return model.model_validate(fields)


REPLIES = typing.get_args(r.Reply)


@pytest.mark.parametrize("kind", REPLIES, ids=lambda k: k.__name__)
def test_every_reply_kind_is_json_with_its_kind_first(kind: type[BaseModel]) -> None:
    reply = build(kind)
    data = json.loads(render_json(reply))
    if isinstance(reply, r.ErrorReply):
        assert data == {"error": "x"}
        return
    assert next(iter(data)) == "kind" and data["kind"] == reply.kind
    assert "ephemeral" not in data
    assert set(data) == set(kind.model_fields) - {"ephemeral"}


@pytest.mark.parametrize("kind", REPLIES, ids=lambda k: k.__name__)
def test_every_reply_kind_renders_as_text_and_block_kit(kind: type[BaseModel]) -> None:
    reply = build(kind)
    assert render_text(reply) and render_blocks(reply)[1]


def test_nested_data_keeps_its_field_names() -> None:
    reply = r.TemplatesReply(
        templates=[r.TemplateSummary(name="base", description="Minimal job", builtin=True)]
    )
    assert reply_data(reply) == {
        "kind": "templates",
        "templates": [{"name": "base", "description": "Minimal job", "builtin": True}],
    }


def test_a_flow_run_is_json_with_every_job_and_its_records_field_names() -> None:
    run = flow_run([flow_step("a", job_id="5", state=JobState.RUNNING), flow_step("b", "a")])
    data = reply_data(r.FlowRunReply(run=run))
    assert list(data) == ["kind", "run"] and data["kind"] == "flow_run"
    assert data["run"]["id"] == run.id and data["run"]["name"] == "diamond"
    a, b = data["run"]["cells"][0]["steps"]
    assert (a["name"], a["job_id"], a["state"]) == ("a", "5", "RUNNING")
    assert b["deps"] == [{"kind": "afterok", "on": "a"}] and b["state"] is None


def test_a_flow_plan_is_json_with_its_steps_and_scripts() -> None:
    script = r.FlowScript(name="p.a", sbatch=("sbatch", "--parsable"), script="#!/bin/bash\n")
    reply = r.FlowPlanReply(
        name="p", cluster="lab", steps=[r.FlowPlanStep(name="a")], scripts=[script], dry_run=True
    )
    data = reply_data(reply)
    assert data["steps"][0]["name"] == "a" and data["dry_run"] is True
    assert data["scripts"] == [
        {"name": "p.a", "sbatch": ["sbatch", "--parsable"], "script": "#!/bin/bash\n"}
    ]


def test_console_json_without_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SRUNX_BOT_CONFIG", raising=False)
    assert main(["console", "--json", "-c", "help status"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "help" and "usage: status ID" in data["text"]
    assert main(["console", "--json", "-c", "help nosuch"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert list(out) == ["error"] and "no help for `nosuch`" in out["error"]
    with pytest.raises(SystemExit):
        main(["console", "--json"])  # nothing to print as JSON without -c


def test_console_json_prints_a_config_error_as_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    missing = str(tmp_path / "nope.yaml")
    assert main(["--config", missing, "console", "--json", "-c", "list"]) == 2
    out = json.loads(capsys.readouterr().out)
    assert out == {
        "error": f"config file {missing} not found; copy srunx-bot.example.yaml there "
        "or set SRUNX_BOT_CONFIG"
    }


async def test_run_one_prints_list_as_json_and_an_error_as_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bot = await OfflineBot.open(tmp_path / "state")
    try:
        bot.slurm["alice"].answers["squeue"] = captured(DATA / "squeue_all.txt")
        assert await run_one(bot.rt.dispatch, ALICE, "list", as_json=True) is True
        listed = json.loads(capsys.readouterr().out)
        assert await run_one(bot.rt.dispatch, ALICE, "status x1", as_json=True) is False
        error = json.loads(capsys.readouterr().out)
    finally:
        await bot.rt.close()
    assert list(listed)[:3] == ["kind", "cluster", "scope"] and listed["kind"] == "list"
    assert listed["jobs"] and all(j["user"] == "alice" for j in listed["jobs"])
    assert {"job_id", "name", "state", "partition"} <= set(listed["jobs"][0])
    assert list(error) == ["error"] and "x1" in error["error"]
