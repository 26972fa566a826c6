"""A job card's and a workflow run's buttons through the real Bolt app on the Slack stand-in,
Slurm scripted from captured output: Refresh rewrites the card only for its owner (a run's
message: its owner or an admin; anyone else gets their own view, privately), Cancel run
answers a refusal privately, and a forged button value runs nothing."""

from __future__ import annotations

import pytest

from bot.core import commands as c
from bot.core import replies as r
from bot.core.models import JobState
from bot.errors import AccessDenied
from bot.render.buttons import FLOW_CANCEL, FLOW_REFRESH, job_value, run_value
from labkit import ADMIN, ALICE, BOB, flow_run, flow_step
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


RUN = flow_run(
    [flow_step("a", job_id="7", state=JobState.RUNNING), flow_step("b", "a")], id="f0123456789ab"
)


@pytest.fixture
def flow_commands(scripted_bot: ScriptedBot, monkeypatch: pytest.MonkeyPatch) -> list[c.Command]:
    """The core's answers to `flow status` and `flow cancel` (run as the core would: only the
    owner or an admin may cancel); returns the commands the buttons ran."""
    ran: list[c.Command] = []
    dispatch = scripted_bot.http.rt.dispatch

    async def execute(
        user_id: str, cmd: c.Command, channel: str | None = None, dm: bool = False
    ) -> r.Reply:
        ran.append(cmd)
        if isinstance(cmd, c.FlowCancel):
            if user_id not in (ALICE, ADMIN):
                raise AccessDenied("only the run's owner or an admin can cancel it")
            return r.FlowRunReply(
                run=RUN.model_copy(update={"active": False, "outcome": "cancelled"})
            )
        return r.FlowRunReply(run=RUN)

    monkeypatch.setattr(dispatch, "execute", execute)
    return ran


async def test_run_refresh_rewrites_the_message_for_its_owner_or_an_admin_only(
    scripted_bot: ScriptedBot, flow_commands: list[c.Command]
) -> None:
    bot = scripted_bot.http
    for user in (ALICE, ADMIN):
        await bot.click(FLOW_REFRESH, run_value(RUN.id), user, message_ts="1700000000.000200")
    updates = await bot.standin.wait_for("chat.update", count=2)
    assert {u.params["ts"] for u in updates} == {"1700000000.000200"}
    assert "RUNNING" in str(updates[0].params) and FLOW_CANCEL in str(updates[0].params)
    await bot.click(FLOW_REFRESH, run_value(RUN.id), BOB, message_ts="1700000000.000200")
    [private] = await bot.standin.wait_for("chat.postEphemeral")
    assert private.params["user"] == BOB and "workflow diamond" in str(private.params)
    assert len(bot.standin.calls_to("chat.update")) == 2
    assert flow_commands == [c.FlowStatus(run_id=RUN.id)] * 3
    assert not bot.standin.violations


async def test_cancel_run_updates_the_message_and_a_refusal_goes_to_the_clicker_alone(
    scripted_bot: ScriptedBot, flow_commands: list[c.Command]
) -> None:
    bot = scripted_bot.http
    await bot.click(FLOW_CANCEL, run_value(RUN.id), BOB, message_ts="1700000000.000300")
    [refused] = await bot.standin.wait_for("chat.postEphemeral")
    assert refused.params["user"] == BOB and "only the run's owner" in str(refused.params)
    assert not bot.standin.calls_to("chat.update")
    await bot.click(FLOW_CANCEL, run_value(RUN.id), ALICE, message_ts="1700000000.000300")
    [update] = await bot.standin.wait_for("chat.update")
    assert update.params["ts"] == "1700000000.000300" and "*cancelled*" in str(update.params)
    assert FLOW_CANCEL not in str(update.params["blocks"])  # nothing left to cancel
    assert flow_commands == [c.FlowCancel(run_id=RUN.id)] * 2
    assert not bot.standin.violations


async def test_a_forged_run_button_value_runs_nothing(
    scripted_bot: ScriptedBot, flow_commands: list[c.Command]
) -> None:
    bot = scripted_bot.http
    forged = '{"r":"f0123456789ab; scancel -u alice"}'
    await bot.click(FLOW_CANCEL, forged, ALICE, message_ts="1700000000.1")
    [answer] = await bot.standin.wait_for("chat.postEphemeral")
    assert answer.params["user"] == ALICE and "not one the bot made" in str(answer.params)
    assert flow_commands == []
