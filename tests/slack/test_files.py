"""bot/slack/files.py: which attachments are a job script, the download with the bot token
(from the Slack stand-in: 401 without it), and the grammar's reading of an attached script."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import commands as c
from bot.core.grammar import parse
from bot.errors import UsageError
from bot.slack.files import SCRIPT_SUFFIXES, attached_file, download_private_file, wanted_file
from slack_standin import SlackStandIn


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as s:
        yield s


def _client(standin: SlackStandIn, token: str = "xoxb-test") -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=standin.api_url)


async def attached_script(files: list[dict[str, Any]], client: AsyncWebClient) -> Any:
    return await attached_file(files, client, "job script", SCRIPT_SUFFIXES)


def test_only_submit_and_flow_run_or_validate_read_an_attachment() -> None:
    assert (
        wanted_file("submit --var a=1") == wanted_file("SUBMIT") == ("job script", SCRIPT_SUFFIXES)
    )
    assert wanted_file("flow run --arg a=1") == ("workflow", (".yaml", ".yml"))
    assert wanted_file("flow validate") == ("workflow", (".yaml", ".yml"))
    for text in ("status 12", "", "flow status f0123456789ab", "flows"):
        assert wanted_file(text) is None


async def test_an_attached_workflow_must_be_yaml(standin: SlackStandIn) -> None:
    file = standin.add_file("flow.sh", b"name: x\n")
    with pytest.raises(UsageError, match=r"is not a workflow: attach a `\.yaml`/`\.yml` file"):
        await attached_file([file], _client(standin), *(wanted_file("flow run") or ("", ())))
    good = standin.add_file("flow.yml", b"name: x\n")
    got = await attached_file([good], _client(standin), "workflow", (".yaml", ".yml"))
    assert got == c.AttachedScript(name="flow.yml", text="name: x\n")


async def test_the_file_is_downloaded_with_the_bot_token(standin: SlackStandIn) -> None:
    file = standin.add_file("train.sh", b"#!/bin/bash\necho hi\n")
    got = await attached_script([file], _client(standin))
    assert got == c.AttachedScript(name="train.sh", text="#!/bin/bash\necho hi\n")
    [call] = standin.calls_to("files.download")
    assert call.token == "xoxb-test"


async def test_the_stand_in_refuses_a_download_without_the_token(standin: SlackStandIn) -> None:
    file = standin.add_file("train.sh", b"echo hi\n")
    async with aiohttp.ClientSession() as session, session.get(file["url_private"]) as resp:
        assert resp.status == 401
    with pytest.raises(UsageError, match=r"HTTP 401.*files:read"):
        await attached_script([file], _client(standin, "xoxb-wrong"))


async def test_the_token_goes_to_no_other_host(standin: SlackStandIn) -> None:
    with pytest.raises(UsageError, match="its address is not Slack's"):
        await download_private_file(_client(standin), "https://evil.example/x.sh", "x.sh")
    with pytest.raises(UsageError, match="not Slack's"):  # Slack's host, but not over https
        await download_private_file(_client(standin), "http://files.slack.com/x.sh", "x.sh")


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("notes.txt", b"echo hi", "is not a job script"),
        ("a.sh", b"#" * (256 * 1024 + 1), "at most 256 KiB"),
        ("a.sbatch", b"\xff\xfe", "not UTF-8 text"),
        ("a.slurm", b"echo\x00", "not a text file"),
    ],
)
async def test_refusals_say_why(standin: SlackStandIn, name: str, content: bytes, why: str) -> None:
    file = standin.add_file(name, content)
    with pytest.raises(UsageError, match=why):
        await attached_script([file], _client(standin))


async def test_a_file_larger_than_it_said_is_still_capped(standin: SlackStandIn) -> None:
    file = {**standin.add_file("a.sh", b"#" * (300 * 1024)), "size": 10}
    with pytest.raises(UsageError, match="over 256 KiB"):
        await attached_script([file], _client(standin))


async def test_one_script_at_a_time(standin: SlackStandIn) -> None:
    files = [standin.add_file("a.sh", b"true"), standin.add_file("b.sh", b"true")]
    with pytest.raises(UsageError, match="attach one job script"):
        await attached_script(files, _client(standin))
    assert await attached_script([], _client(standin)) is None


def test_the_grammar_takes_the_attached_script_as_the_script() -> None:
    attached = c.AttachedScript(name="train.sh", text="echo {{ n }}\n")
    for text in ("submit -p gpu --var n=3", "submit --script - -p gpu --var n=3"):
        cmd = parse(text, attached)
        assert isinstance(cmd, c.SubmitScript) and cmd.path is None
        assert cmd.source == "echo {{ n }}\n" and cmd.attached == "train.sh"
        assert cmd.options == ("--partition=gpu",) and cmd.variables == (("n", "3"),)
    refusals = {
        "submit --script ~/a.sh": "a path or attach it, not both",
        "submit --script -\n```\necho\n```": "not both",
        "status 12": "an attached script goes with `submit",
        "submit -- python x.py": "takes no `--` command",
    }
    for text, why in refusals.items():
        with pytest.raises(UsageError, match=why):
            parse(text, attached)
    with pytest.raises(UsageError, match="the attached script is empty"):
        parse("submit", c.AttachedScript(name="a.sh", text="\n"))
