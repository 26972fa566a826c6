"""Where an answer goes in Slack (bot/slack/delivery.py), on the Slack stand-in: a job's card
in its channel and followed there, or in_channel / the DM when the bot may not post; reports
for the channel; everything else only to the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, cast

import pytest
from slack_bolt.async_app import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import commands as c
from bot.core import replies as r
from bot.core.grammar import parse
from bot.runtime import Runtime
from bot.slack.delivery import INVITE, Delivery
from labkit import ALICE, Lab, Recorder
from scripted import ScriptedPool, scripted_accounts
from slack_standin import SlackStandIn


@dataclass
class Responses:
    """A response_url: what was sent to it."""

    sent: list[dict[str, Any]] = field(default_factory=list)

    async def __call__(self, **kw: Any) -> None:
        self.sent.append(kw)

    @property
    def respond(self) -> AsyncRespond:
        return cast(AsyncRespond, self)


@dataclass
class Rig:
    standin: SlackStandIn
    rt: Runtime
    client: AsyncWebClient  # no retries: one failure is the answer
    delivery: Delivery
    responses: Responses = field(default_factory=Responses)

    async def thread_of(self, job_id: str) -> tuple[str, str] | None:
        t = await self.rt.threads.thread("lab", job_id)
        return (t.channel, t.card_ts) if t else None


@pytest.fixture
async def rig(standin: SlackStandIn) -> AsyncIterator[Rig]:
    rt = await Runtime.open(
        Lab.from_env().config(), None, Recorder(), pool=ScriptedPool(scripted_accounts())
    )
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    yield Rig(standin, rt, client, Delivery(rt.monitor))
    await rt.close()


def _submitted(job_id: str = "4121") -> r.Submitted:
    cmd = parse("submit -- python train.py")
    assert isinstance(cmd, c.Submit)
    return r.Submitted(cluster="lab", account="alice", job_id=job_id, job=cmd.job)


async def test_a_slash_answer_is_only_for_the_caller(rig: Rig) -> None:
    await rig.delivery.slash(rig.client, rig.responses.respond, ALICE, "C1", r.Done(text="ok"))
    [sent] = rig.responses.sent
    assert (sent["response_type"], sent["replace_original"], sent["text"]) == (
        "ephemeral",
        True,
        "ok",
    )
    assert not rig.standin.calls_to("chat.postMessage")


async def test_a_slash_submission_posts_the_card_in_the_channel_and_follows_it(rig: Rig) -> None:
    await rig.delivery.slash(rig.client, rig.responses.respond, ALICE, "C1", _submitted())
    [card] = rig.standin.calls_to("chat.postMessage")
    assert card.params["channel"] == "C1" and "4121" in card.params["text"]
    assert rig.responses.sent == [{"delete_original": True}]
    [ts] = rig.standin.messages
    assert await rig.thread_of("4121") == ("C1", ts)


async def test_a_channel_without_the_bot_gets_the_card_in_channel_and_an_invite(rig: Rig) -> None:
    rig.standin.fail_next("chat.postMessage", status=200, error="not_in_channel")
    await rig.delivery.slash(rig.client, rig.responses.respond, ALICE, "C1", _submitted())
    first, invite = rig.responses.sent
    assert first["response_type"] == "in_channel" and "4121" in first["text"]
    assert invite == {"text": INVITE, "response_type": "ephemeral"}
    assert await rig.thread_of("4121") is None  # nothing to follow it in


async def test_a_card_slack_failed_is_followed_and_comes_later(rig: Rig) -> None:
    rig.standin.fail_next("chat.postMessage", status=500)
    await rig.delivery.slash(rig.client, rig.responses.respond, ALICE, "C1", _submitted())
    [later] = rig.responses.sent
    assert later["response_type"] == "ephemeral" and "once Slack answers again" in later["text"]
    assert await rig.thread_of("4121") == ("C1", "")  # the monitor posts the card first


async def test_a_report_goes_to_the_channel_or_in_channel_without_the_bot(rig: Rig) -> None:
    report = r.ClusterReport(cluster="lab", at="2026-11-28 09:00 UTC")
    await rig.delivery.slash(rig.client, rig.responses.respond, ALICE, "C1", report)
    assert len(rig.standin.calls_to("chat.postMessage")) == 1
    assert rig.responses.sent == [{"delete_original": True}]
    rig.standin.fail_next("chat.postMessage", status=200, error="not_in_channel")
    rig.responses.sent.clear()
    await rig.delivery.slash(rig.client, rig.responses.respond, ALICE, "C1", report)
    shown, deleted = rig.responses.sent
    assert shown["response_type"] == "in_channel" and deleted == {"delete_original": True}


async def test_a_mention_is_answered_in_its_thread_errors_only_to_the_caller(rig: Rig) -> None:
    await rig.delivery.mention(rig.client, ALICE, "C1", "1.5", r.ErrorReply(message="no"))
    [private] = rig.standin.calls_to("chat.postEphemeral")
    assert (private.params["user"], private.params["thread_ts"]) == (ALICE, "1.5")
    await rig.delivery.mention(rig.client, ALICE, "C1", "1.5", r.Alert(text="GPUs free"))
    [public] = rig.standin.calls_to("chat.postMessage")
    assert (public.params["channel"], public.params["thread_ts"]) == ("C1", "1.5")


async def test_a_forms_card_moves_to_the_dm_with_a_note_when_the_channel_refuses(rig: Rig) -> None:
    rig.standin.fail_next("chat.postMessage", status=200, error="not_in_channel")
    await rig.delivery.form_card(rig.client, ALICE, _submitted(), "C1")
    _, card, note = rig.standin.calls_to("chat.postMessage")
    assert card.params["channel"] == ALICE and "4121" in card.params["text"]
    assert note.params["channel"] == ALICE and note.params["text"].startswith(
        "I can't post in <#C1>"
    )
    followed = await rig.thread_of("4121")
    assert followed is not None and followed[0] == "D" + ALICE[1:]  # the DM Slack named
