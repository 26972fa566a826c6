"""`/srunx` through the real Bolt app on the Slack stand-in, Slurm scripted from captured output:
acked at once, answered once (a retried delivery runs nothing more), `submit` alone opens the
form."""

from __future__ import annotations

from labkit import ALICE
from scripted import Transitions, sinfo
from slackkit import ScriptedBot, opened_view

JOBS = Transitions()


async def test_a_command_is_acked_at_once_and_answered_only_to_its_sender(
    scripted_bot: ScriptedBot,
) -> None:
    bot = scripted_bot.http
    scripted_bot.slurm["alice"].answers = dict(JOBS.answers("3_done"))
    steps = JOBS.ids["steps"]
    status, ack, seconds = await bot.command(f"status {steps}", ALICE)
    assert status == 200 and seconds < 3.0 and f"`status {steps}`" in ack
    [answer] = await bot.standin.wait_for("response_url")
    assert answer.params["response_type"] == "ephemeral"
    assert f"job {steps}" in str(answer.params) and "COMPLETED" in str(answer.params)
    assert not bot.standin.calls_to("chat.postMessage") and not bot.standin.violations


async def test_a_retried_command_runs_once(scripted_bot: ScriptedBot) -> None:
    bot = scripted_bot.http
    scripted_bot.slurm["alice"].answers = dict(JOBS.answers("2_running"))
    for _ in range(2):  # Slack redelivers with the same trigger_id
        await bot.command(f"status {JOBS.ids['steps']}", ALICE, trigger="trig-once")
    await bot.standin.wait_for("response_url")
    assert len(bot.standin.calls_to("response_url")) == 1
    assert scripted_bot.slurm["alice"].count("squeue") == 1


async def test_submit_alone_opens_the_form(scripted_bot: ScriptedBot) -> None:
    bot = scripted_bot.http
    scripted_bot.slurm["alice"].answers["sinfo"] = sinfo("idle")
    await bot.command("submit", ALICE, trigger="trig-form")
    [opened] = await bot.standin.wait_for("views.open")
    assert opened.params["trigger_id"] == "trig-form"
    assert opened_view(opened)["callback_id"] == "submit_job_form"
