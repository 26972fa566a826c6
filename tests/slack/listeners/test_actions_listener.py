"""A job card's buttons through the real Bolt app on the Slack stand-in, Slurm scripted from
captured output: Refresh rewrites the card only for its owner (anyone else gets their own
view, privately), and a forged button value runs nothing."""

from __future__ import annotations

from bot.render.buttons import job_value
from labkit import ALICE, BOB
from scripted import Transitions
from slackkit import ScriptedBot

JOBS = Transitions()
STEPS = JOBS.ids["steps"]


async def test_refresh_rewrites_the_card_for_its_owner_only(scripted_bot: ScriptedBot) -> None:
    bot = scripted_bot.http
    for account in ("alice", "bob"):
        scripted_bot.slurm[account].answers = dict(JOBS.answers("2_running"))
    value = job_value("lab", STEPS)
    await bot.click("job_refresh", value, ALICE, message_ts="1700000000.000100")
    [update] = await bot.standin.wait_for("chat.update")
    assert update.params["ts"] == "1700000000.000100" and "RUNNING" in str(update.params)
    await bot.click("job_refresh", value, BOB, message_ts="1700000000.000100")
    [private] = await bot.standin.wait_for("chat.postEphemeral")
    assert private.params["user"] == BOB and f"job {STEPS}" in str(private.params)
    assert len(bot.standin.calls_to("chat.update")) == 1
    assert not bot.standin.violations


async def test_a_forged_button_value_runs_nothing(scripted_bot: ScriptedBot) -> None:
    bot = scripted_bot.http
    await bot.click("job_cancel", "lab|1; scancel -u alice", ALICE, message_ts="1700000000.1")
    [answer] = await bot.standin.wait_for("chat.postEphemeral")
    assert answer.params["user"] == ALICE
    assert all(not s.calls for s in scripted_bot.slurm.values())
