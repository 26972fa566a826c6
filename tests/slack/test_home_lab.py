"""The App Home end to end: a signed `app_home_opened` event and button clicks on the Home
into the real Bolt app, views.publish into the Slack stand-in, jobs on the real lab."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.core.models import Job, JobResource, JobState
from bot.render.buttons import job_value
from labkit import ALICE, STRANGER, wait_state
from slack_standin import Call
from slackkit import HttpBot, button_click

pytestmark = pytest.mark.lab


def _home_opened(user: str) -> dict[str, Any]:
    return {"type": "app_home_opened", "user": user, "channel": "D0HOME", "tab": "home"}


async def _click_on_home(http_bot: HttpBot, action_id: str, value: str, user: str) -> int:
    """A button click inside the Home tab: a `block_actions` payload whose container is the
    view (no channel, no message), signed as Slack signs it."""
    payload = button_click(
        action_id,
        value,
        user,
        container={"type": "view", "view_id": "V1"},
        view={"id": "V1", "type": "home", "hash": "1700000000.abcdef", "blocks": []},
    )
    status, _, _ = await http_bot.interact(payload)
    return status


def _view_text(call: Call) -> str:
    return json.dumps(call.params["view"], ensure_ascii=False)


def _cancel_values(call: Call) -> list[str]:
    return [
        b["accessory"]["value"]
        for b in call.params["view"]["blocks"]
        if b.get("accessory", {}).get("action_id") == "home_cancel"
    ]


async def _publishes(http_bot: HttpBot, count: int, user: str = ALICE) -> list[Call]:
    return await http_bot.standin.wait_for(
        "views.publish", count, timeout=30, where=lambda c: c.params.get("user_id") == user
    )


@pytest.fixture
async def running_job(http_bot: HttpBot) -> AsyncIterator[str]:
    """One of ALICE's jobs running on the lab; cancelled at the end whatever happened."""
    _, client = http_bot.rt.clusters.client(ALICE, "lab")
    job = Job(
        name=f"home{secrets.token_hex(2)}",
        command="sleep 60",
        resources=JobResource.model_validate({"partition": "cpu"}),
    )
    job_id = await client.submit(http_bot.rt.jobs.renderer.render(job))
    try:
        await wait_state(client, job_id, {JobState.RUNNING}, timeout=30)
        yield job_id
    finally:
        info = await client.job(job_id)
        if not info.state.is_terminal and info.state != JobState.NOT_FOUND:
            await client.cancel(job_id)


async def test_home_shows_the_job_gpus_and_cluster_and_cancel_stops_it(
    http_bot: HttpBot, running_job: str
) -> None:
    status, _, seconds = await http_bot.event(_home_opened(ALICE), "Ev-home-1")
    assert status == 200 and seconds < 1.0
    [home] = await _publishes(http_bot, 1)
    text = _view_text(home)
    assert home.params["view"]["type"] == "home"
    assert "*alice* on *lab*" in text and "*Free GPUs on lab*" in text
    assert f"*{running_job}* `" in text and "RUNNING" in text
    assert "gpu: " in text and "/8 GPUs free" in text
    [value] = _cancel_values(home)
    assert value == job_value("lab", running_job)
    # Slack redelivers the same event: published once.
    await http_bot.event(_home_opened(ALICE), "Ev-home-1")
    # Other tabs of the app are not the Home.
    await http_bot.event({**_home_opened(ALICE), "tab": "messages"}, "Ev-home-2")

    assert await _click_on_home(http_bot, "home_cancel", value, ALICE) == 200
    [_, after] = await _publishes(http_bot, 2)
    assert f"Cancelled job {running_job} on lab: " in _view_text(after)
    _, client = http_bot.rt.clusters.client(ALICE, "lab")
    await wait_state(client, running_job, {JobState.CANCELLED}, timeout=30)
    assert value not in _cancel_values(after)
    assert len(http_bot.standin.calls_to("views.publish")) == 2
    assert not http_bot.standin.violations


async def test_cancel_of_a_finished_job_says_why(http_bot: HttpBot, running_job: str) -> None:
    _, client = http_bot.rt.clusters.client(ALICE, "lab")
    await client.cancel(running_job)
    await wait_state(client, running_job, {JobState.CANCELLED}, timeout=30)
    await _click_on_home(http_bot, "home_cancel", f"lab|{running_job}", ALICE)
    [home] = await _publishes(http_bot, 1)
    assert f"job {running_job} already ended" in _view_text(home)
    assert not http_bot.standin.violations


async def test_refresh_republishes(http_bot: HttpBot) -> None:
    await http_bot.event(_home_opened(ALICE), "Ev-home-3")
    await _publishes(http_bot, 1)
    assert await _click_on_home(http_bot, "home_refresh", "refresh", ALICE) == 200
    [first, second] = await _publishes(http_bot, 2)
    assert "*alice* on *lab*" in _view_text(second)
    assert first.params["view"]["blocks"][0] == second.params["view"]["blocks"][0]
    assert not http_bot.standin.violations


async def test_unmapped_user_gets_the_access_message(http_bot: HttpBot) -> None:
    await http_bot.event(_home_opened(STRANGER), "Ev-home-4")
    [home] = await _publishes(http_bot, 1, STRANGER)
    assert home.params["view"]["type"] == "home"
    assert "not set up to use srunx-bot" in _view_text(home)
    assert not _cancel_values(home)
    # Refresh does not help, but does not break the Home either.
    await _click_on_home(http_bot, "home_refresh", "refresh", STRANGER)
    [_, again] = await _publishes(http_bot, 2, STRANGER)
    assert "not set up" in _view_text(again)
    assert not http_bot.standin.violations


async def test_cancel_with_a_forged_value_cancels_nothing_and_says_so(
    http_bot: HttpBot, running_job: str
) -> None:
    forged = f"lab|{running_job} --cluster lab"
    assert await _click_on_home(http_bot, "home_cancel", forged, ALICE) == 200
    [home] = await _publishes(http_bot, 1)
    assert "this button is not one the bot made" in _view_text(home)
    _, client = http_bot.rt.clusters.client(ALICE, "lab")
    assert (await client.job(running_job)).state == JobState.RUNNING
    assert not http_bot.standin.violations
