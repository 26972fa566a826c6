"""The audit log: `--env` values are masked however the grammar lets them be spelled."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from bot.core import commands as c
from bot.core.audit import AuditLog, mask
from bot.core.grammar import parse

# Every spelling of `--env` the grammar accepts; each puts SECRET into the job's environment.
SPELLINGS = [
    "--env TOKEN=SECRET",
    "--env=TOKEN=SECRET",
    '--env "TOKEN=a SECRET"',
    "--env 'TOKEN=a SECRET'",
    '--env TOKEN="a SECRET"',
    "--env 'TOKEN'='SECRET'",
    '--env "TOKEN"="SECRET"',
    "--env\tTOKEN=SECRET",
    "--env\nTOKEN=SECRET",
    "--env  \t TOKEN=SECRET",
    "--env\u00a0TOKEN=SECRET",
    '--env="TOKEN=a SECRET"',
    "--env=TOKEN='a SECRET'",
    "--env \u201cTOKEN=a SECRET\u201d",
    "--env \u2018TOKEN=a SECRET\u2019",
    "--env TOKEN=\u201ca SECRET\u201d",
    "\u2014env TOKEN=SECRET",
    "\u2013env=TOKEN=SECRET",
    '--"env" TOKEN=SECRET',
    "'--env' TOKEN=SE''CRET",
    "--env TOKEN=a\\ SECRET",
    "--env TOKEN=SECRET --env OTHER=SECRET",
    "--env TOKEN=x -J n --env=OTHER='SECRET'",
]


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_every_env_spelling_the_grammar_accepts_is_masked(spelling: str) -> None:
    text = f"submit -p gpu {spelling} -- echo hi"
    cmd = parse(text)
    assert isinstance(cmd, c.Submit)
    assert any("SECRET" in v for v in cmd.job.environment.env_vars.values())
    masked = mask(text)
    assert "SECRET" not in masked
    assert "TOKEN=***" in masked
    assert masked.startswith("submit -p gpu") and masked.endswith("-- echo hi")


def test_text_without_env_is_kept_as_typed() -> None:
    text = "submit  -J 'my job' -- echo \u2018SECRET\u2019 --env A=B"
    assert mask(text) == text  # the command after `--` is the job's, not the bot's `--env`


@pytest.mark.parametrize(
    "text",
    [
        "submit --env 'TOKEN=SECRET -- echo hi",
        "submit --env TOKEN=SECRET -J 'unclosed -- echo hi",
        'submit -J \'x\' --"env" "TOKEN=SECRET',
    ],
)
def test_unreadable_text_does_not_leak(text: str) -> None:
    masked = mask(text)
    assert "SECRET" not in masked
    assert masked.startswith("submit")


def test_env_without_a_key_is_masked_whole() -> None:
    assert mask("submit --env SECRET -- x") == "submit --env '***' -- x"


async def test_audit_line_carries_the_masked_command(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    await log.record(
        user="U1",
        channel="C1",
        account="alice",
        command='submit --env "TOKEN=a SECRET" -- echo hi',
        outcome="submitted",
    )
    [line] = (tmp_path / "audit.jsonl").read_text().splitlines()
    entry = json.loads(line)
    assert entry["command"] == "submit --env 'TOKEN=***' -- echo hi"
    assert "SECRET" not in line


def test_env_refused_by_the_grammar_still_does_not_leak() -> None:
    assert "SECRET" not in mask("submit --env --env TOKEN=SECRET -- x")
    assert "SECRET" not in mask("submit --ENV=TOKEN=SECRET -- x")


async def test_audit_log_is_private_under_umask_022(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, under which files come out world-readable
    try:
        audit = AuditLog(tmp_path / "state" / "audit.jsonl")
        await audit.record(user="U1", channel=None, account="a", command="list", outcome="ok")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "state").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "state" / "audit.jsonl").stat().st_mode) == 0o600
