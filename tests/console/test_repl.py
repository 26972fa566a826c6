"""`bot console`: `help` answered without a config, one command run and shown, and the
interactive loop until Ctrl-D or `exit`."""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterator

import pytest

from bot.config import parse_config
from bot.console.repl import help_without_config, repl, run_one
from bot.runtime import Runtime

CONFIG = {"clusters": [{"name": "lab"}], "access": {"users": {"U1": {"account": "alice"}}}}


@pytest.fixture
async def rt() -> AsyncIterator[Runtime]:
    runtime = await Runtime.open(parse_config(CONFIG, "test config"))
    yield runtime
    await runtime.close()


def test_help_needs_no_config(capsys: pytest.CaptureFixture[str]) -> None:
    assert help_without_config("help") is True
    assert "commands:" in capsys.readouterr().out
    assert help_without_config("help status") is True
    assert "usage: status ID" in capsys.readouterr().out


def test_help_on_no_such_topic_is_an_error_and_other_commands_are_not_help(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert help_without_config("help nosuch") is False
    assert "nosuch" in capsys.readouterr().out
    assert help_without_config("status 12") is None
    assert help_without_config("nosuch thing") is None
    assert capsys.readouterr().out == ""


async def test_one_command_is_shown_and_says_whether_it_worked(
    rt: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    assert await run_one(rt.dispatch, "U1", "help") is True
    assert "commands:" in capsys.readouterr().out
    assert await run_one(rt.dispatch, "U5", "status 12") is False  # not mapped
    assert "you are not set up to use srunx-bot yet" in capsys.readouterr().out


def _typed(monkeypatch: pytest.MonkeyPatch, *lines: str) -> None:
    feed: Iterator[str] = iter(lines)

    def typed(prompt: str = "") -> str:
        line = next(feed, None)
        if line is None:
            raise EOFError
        return line

    monkeypatch.setattr(builtins, "input", typed)


async def test_the_loop_runs_each_line_until_ctrl_d(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _typed(monkeypatch, "help", "   ", "help status")
    await repl(rt.dispatch, rt.access, "U1")
    out = capsys.readouterr().out
    assert out.startswith("srunx-bot console as U1 (cluster account alice);")
    assert "commands:" in out and "usage: status ID" in out


async def test_exit_ends_the_loop(
    rt: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _typed(monkeypatch, "exit", "help")
    await repl(rt.dispatch, rt.access, "U1")
    assert "commands:" not in capsys.readouterr().out
