"""Mentions and DMs through the real Bolt app on the Slack stand-in, Slurm scripted from
captured output: a mention is answered in its thread, a DM in the DM, each delivery once, and
the bot's own messages are no requests."""

from __future__ import annotations

from typing import Any

from labkit import ALICE
from scripted import Transitions
from slackkit import ScriptedBot

JOBS = Transitions()
STEPS = JOBS.ids["steps"]


def _mention(text: str, ts: str, thread_ts: str | None = None) -> dict[str, Any]:
    event = {"type": "app_mention", "user": ALICE, "text": f"<@UBOT> {text}", "channel": "C1"}
    return {**event, "ts": ts, **({"thread_ts": thread_ts} if thread_ts else {})}


async def test_a_mention_is_answered_in_its_thread_once(scripted_bot: ScriptedBot) -> None:
    bot = scripted_bot.http
    scripted_bot.slurm["alice"].answers = dict(JOBS.answers("2_running"))
    event = _mention(f"status {STEPS}", "1700000001.000200", "1700000001.000100")
    for _ in range(2):  # Slack retries the same event id
        status, _, seconds = await bot.event(event, "Ev-mention")
        assert status == 200 and seconds < 3.0
    [post] = await bot.standin.wait_for("chat.postMessage")
    assert post.params["channel"] == "C1" and post.params["thread_ts"] == "1700000001.000100"
    assert "RUNNING" in str(post.params)
    assert scripted_bot.slurm["alice"].count("squeue") == 1


async def test_a_mention_outside_a_thread_starts_one_and_help_is_for_its_asker(
    scripted_bot: ScriptedBot,
) -> None:
    bot = scripted_bot.http
    scripted_bot.slurm["alice"].answers = dict(JOBS.answers("2_running"))
    await bot.event(_mention(f"status {STEPS}", "1700000002.000100"), "Ev-status")
    [post] = await bot.standin.wait_for("chat.postMessage")
    assert post.params["thread_ts"] == "1700000002.000100"
    await bot.event(_mention("help", "1700000002.000200"), "Ev-help")
    [help_] = await bot.standin.wait_for("chat.postEphemeral")
    assert help_.params["user"] == ALICE and help_.params["thread_ts"] == "1700000002.000200"


async def test_a_dm_is_answered_in_the_dm_and_the_bots_own_echo_ignored(
    scripted_bot: ScriptedBot,
) -> None:
    bot = scripted_bot.http
    scripted_bot.slurm["alice"].answers = dict(JOBS.answers("2_running"))
    dm = {"type": "message", "channel_type": "im", "user": ALICE, "channel": "D0ALICE"}
    await bot.event({**dm, "text": f"status {STEPS}", "ts": "1700000003.000100"}, "Ev-dm")
    [post] = await bot.standin.wait_for("chat.postMessage")
    assert post.params["channel"] == "D0ALICE"
    own = {**dm, "user": "UBOT", "bot_id": "B1", "text": "list", "ts": "1700000003.000200"}
    await bot.event(own, "Ev-echo")
    edited = {**dm, "subtype": "message_changed", "text": "list", "ts": "1700000003.000300"}
    await bot.event(edited, "Ev-edit")
    assert len(bot.standin.calls_to("chat.postMessage")) == 1
    assert scripted_bot.slurm["alice"].count("squeue") == 1
