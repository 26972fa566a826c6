"""The App Home through the real Bolt app on the Slack stand-in, Slurm scripted from captured
output: published when the Home tab opens (not the other tabs), as the viewer's own account;
an unmapped viewer gets a Home that says why."""

from __future__ import annotations

import json
from typing import Any

from labkit import ALICE, STRANGER
from scripted import DATA, Scripted, captured, sinfo
from slackkit import ScriptedBot


def _opened(user: str, tab: str = "home") -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": "D1", "tab": tab}


def _published(bot: ScriptedBot) -> str:
    [call] = bot.http.standin.calls_to("views.publish")
    view = call.params["view"]
    return view if isinstance(view, str) else json.dumps(view)


async def test_the_home_tab_shows_the_viewers_jobs_and_free_gpus(
    scripted_bot: ScriptedBot,
) -> None:
    alice: Scripted = scripted_bot.slurm["alice"]
    # squeue -u alice without --states=all: her pending and running jobs, as at this stage.
    queue = captured(DATA / "transitions" / "squeue_1_pending.txt")
    alice.answers.update(squeue=queue, sinfo=sinfo("busy"))
    await scripted_bot.http.event(_opened(ALICE, tab="messages"), "Ev-messages")
    await scripted_bot.http.event(_opened(ALICE), "Ev-home")
    [call] = await scripted_bot.http.standin.wait_for("views.publish")
    assert call.params["user_id"] == ALICE
    view = _published(scripted_bot)
    assert "*Your jobs* (3)" in view and "*418* `crash` \\u00b7 RUNNING" in view
    assert "gpu: 3/8 GPUs free (5 in use)" in view
    assert all("-u" in c and "alice" in c for c in alice.calls if c[0] == "squeue")
    assert not scripted_bot.http.standin.violations


async def test_an_unmapped_viewer_gets_a_home_that_says_why(scripted_bot: ScriptedBot) -> None:
    await scripted_bot.http.event(_opened(STRANGER), "Ev-stranger")
    await scripted_bot.http.standin.wait_for("views.publish")
    view = _published(scripted_bot)
    assert "ask <@U0ADMIN> to map your Slack user (U0NOBODY) to your cluster account" in view
    assert all(not s.calls for s in scripted_bot.slurm.values())
