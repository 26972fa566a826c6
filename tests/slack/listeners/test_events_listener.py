"""Mentions and DMs through the real Bolt app on the Slack stand-in, Slurm scripted from
captured output: a mention is answered in its thread, a DM in the DM, each delivery once, and
the bot's own messages are no requests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest

from bot.transport.base import CommandResult
from labkit import ALICE
from scripted import Scripted, Transitions, queued, sinfo
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


# --- a job script attached to `submit` (downloaded with the bot token, files:read) ----------

TRAIN = b"#!/bin/bash\n#SBATCH -p cpu\n#SBATCH -t 5\npython train.py --epochs {{ epochs }}\n"


def _capture_stdin(monkeypatch: pytest.MonkeyPatch, slurm: Scripted) -> list[str | None]:
    """What each command got on stdin (the scripted transport keeps only argv)."""
    seen: list[str | None] = []
    run = slurm.run

    async def recording(
        argv: Sequence[str], *, stdin: str | None = None, timeout: float | None = None
    ) -> CommandResult:
        seen.append(stdin)
        return await run(argv, stdin=stdin, timeout=timeout)

    monkeypatch.setattr(slurm, "run", recording)
    return seen


async def test_a_script_attached_to_a_mention_is_submitted_and_followed(
    scripted_bot: ScriptedBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot, alice = scripted_bot.http, scripted_bot.slurm["alice"]
    alice.answers.update(sinfo=sinfo("idle"), sbatch=(0, "4121\n", ""))
    stdins = _capture_stdin(monkeypatch, alice)
    event = _mention("submit -p gpu --var epochs=3", "1700000004.000100")
    event["files"] = [bot.standin.add_file("train.sh", TRAIN)]
    await bot.event(event, "Ev-attached")
    [card] = await bot.standin.wait_for("chat.postMessage")
    assert "4121" in str(card.params)
    [download] = bot.standin.calls_to("files.download")
    assert download.token == bot.standin.bot_token
    # The script's own #SBATCH lines stand; the flag given overrides them on sbatch's argv.
    assert alice.calls[-1] == ("sbatch", "--parsable", "--partition=gpu")
    assert stdins[-1] == "#!/bin/bash\n#SBATCH -p cpu\n#SBATCH -t 5\npython train.py --epochs 3\n"
    assert "train" in str(card.params)  # the job is named after the file
    for _ in range(100):  # the card is posted first, then the job is followed in its thread
        thread = await bot.rt.threads.thread("lab", "4121")
        if thread is not None:
            break
        await asyncio.sleep(0.02)
    assert thread is not None and thread.user_id == ALICE and thread.channel == "C1"
    assert thread.card_ts  # its card is the first message of the thread it is followed in


async def test_a_script_attached_in_a_dm_is_submitted(scripted_bot: ScriptedBot) -> None:
    bot, alice = scripted_bot.http, scripted_bot.slurm["alice"]
    alice.answers.update(sbatch=(0, "4122\n", ""), squeue=queued("4122"))
    dm = {"type": "message", "subtype": "file_share", "channel_type": "im", "user": ALICE}
    file = bot.standin.add_file("job.slurm", b"#!/bin/bash\necho hi\n")
    event = {**dm, "channel": "D0ALICE", "text": "submit", "ts": "1.5", "files": [file]}
    await bot.event(event, "Ev-dm-attached")
    [card] = await bot.standin.wait_for("chat.postMessage")
    assert card.params["channel"] == "D0ALICE" and "4122" in str(card.params)
    assert ("sbatch", "--parsable") in alice.calls


async def test_an_attachment_that_is_no_script_is_refused_before_any_download(
    scripted_bot: ScriptedBot,
) -> None:
    bot = scripted_bot.http
    cases = [
        ("notes.py", b"print(1)\n", "is not a job script"),
        ("big.sh", b"#" * (256 * 1024 + 1), "at most 256 KiB"),
    ]
    for i, (name, content, why) in enumerate(cases):
        event = _mention("submit", f"1700000005.00010{i}")
        event["files"] = [bot.standin.add_file(name, content)]
        await bot.event(event, f"Ev-refused-{i}")
        answer = (await bot.standin.wait_for("chat.postEphemeral", count=i + 1))[-1]
        assert why in str(answer.params), answer.params
    assert bot.standin.calls_to("files.download") == []
    assert all(not s.calls for s in scripted_bot.slurm.values())


async def test_other_commands_ignore_an_attachment(scripted_bot: ScriptedBot) -> None:
    bot = scripted_bot.http
    scripted_bot.slurm["alice"].answers = dict(JOBS.answers("2_running"))
    event = _mention(f"status {STEPS}", "1700000006.000100")
    event["files"] = [bot.standin.add_file("train.sh", TRAIN)]
    await bot.event(event, "Ev-status-file")
    [post] = await bot.standin.wait_for("chat.postMessage")
    assert "RUNNING" in str(post.params)
    assert bot.standin.calls_to("files.download") == []
