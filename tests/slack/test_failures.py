"""Slack failures read defensively: a proxy's plain-text 5xx never crashes an error path."""

from __future__ import annotations

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.replies import ErrorReply
from bot.errors import PostRefused
from bot.slack.delivery import post_in
from bot.slack.failures import slack_down, slack_error
from bot.slack.notifier import ChannelPacer, SlackNotifier
from slack_standin import SlackStandIn


async def _failure(slack: SlackStandIn, **fault: object) -> SlackApiError:
    slack.fail_next("chat.postMessage", **fault)  # type: ignore[arg-type]
    client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C1", text="x")
    return info.value


async def test_a_plain_text_500_reads_as_its_status_and_as_slack_down() -> None:
    async with SlackStandIn() as slack:
        e = await _failure(slack, status=500)
        assert slack_error(e) == "HTTP 500" and slack_down(e)
        refused = await _failure(slack, status=200, error="not_in_channel")
        assert slack_error(refused) == "not_in_channel" and not slack_down(refused)
    gone = aiohttp.ClientConnectionError("Connect call failed")
    assert slack_error(gone).startswith("no answer from Slack") and slack_down(gone)


async def test_posting_into_a_failing_slack_says_so_instead_of_crashing() -> None:
    async with SlackStandIn() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        slack.fail_next("chat.postMessage", status=500, times=2)
        assert await post_in(client, "C1", "x", []) is None
        with pytest.raises(PostRefused, match=r"\(HTTP 500\)"):
            await SlackNotifier(client, ChannelPacer(0)).post("C1", ErrorReply(message="x"))
