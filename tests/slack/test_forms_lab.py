"""The submit form end to end: `/srunx submit` alone and the shortcuts open it (views.open on
the Slack stand-in), a signed view_submission submits a real job on the lab, and a bad
field is answered on that field with nothing submitted."""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest

from bot.core import replies as r
from bot.core.models import JobState
from labkit import ALICE, STRANGER, eventually, wait_state
from slackkit import HttpBot, form_submission, global_shortcut, opened_view

pytestmark = pytest.mark.lab


async def _interaction(http_bot: HttpBot, payload: dict[str, Any]) -> tuple[int, str]:
    status, text, seconds = await http_bot.interact(payload)
    assert seconds < 3.0  # Slack's deadline for every ack
    return status, text


async def _jobs_named(http_bot: HttpBot, name: str) -> list[str]:
    _, client = http_bot.rt.clusters.client(ALICE, "lab")
    res = await client.transport.run(["squeue", "-h", "--states=all", "-n", name, "-o", "%i"])
    return res.stdout.split()


async def _completes_saying(http_bot: HttpBot, job_id: str, text: str) -> None:
    """The job ends COMPLETED and its output shows `text`."""
    _, client = http_bot.rt.clusters.client(ALICE, "lab")
    await wait_state(client, job_id, {JobState.COMPLETED})
    tail = await eventually(
        lambda: http_bot.rt.dispatch.handle(ALICE, f"tail {job_id}"),
        lambda t: isinstance(t, r.TailReply) and text in t.text,
        timeout=20,
    )
    assert isinstance(tail, r.TailReply)


async def test_slash_submit_alone_opens_the_form_with_the_clusters_partitions(
    http_bot: HttpBot,
) -> None:
    status, _, seconds = await http_bot.command("submit", ALICE, trigger="trig-form")
    assert status == 200 and seconds < 1.0
    [opened] = await http_bot.standin.wait_for("views.open", timeout=30)
    assert opened.params["trigger_id"] == "trig-form"
    view = opened_view(opened)
    select = next(b for b in view["blocks"] if b.get("block_id") == "partition")["element"]
    assert [o["value"] for o in select["options"]] == ["cpu", "gpu"]
    assert select["initial_option"]["value"] == "gpu"
    assert json.loads(view["private_metadata"]) == {"channel": "C1", "cluster": "lab"}
    done = await http_bot.standin.wait_for("response_url", timeout=10)
    assert done[-1].params.get("delete_original") is True
    assert not http_bot.standin.violations


async def test_the_form_opens_at_the_users_defaults_and_blank_fields_get_them(
    http_bot: HttpBot,
) -> None:
    await http_bot.rt.dispatch.handle(ALICE, "defaults set -p cpu -t 7 --env FROM_DEFAULTS=yes")
    await http_bot.command("submit", ALICE, trigger="trig-defaults")
    [opened] = await http_bot.standin.wait_for("views.open", timeout=30)
    blocks = {b.get("block_id"): b for b in opened_view(opened)["blocks"]}
    assert blocks["partition"]["element"]["initial_option"]["value"] == "cpu"
    assert blocks["time"]["element"]["initial_value"] == "7"
    assert blocks["template"]["element"]["initial_option"]["value"] == "advanced"
    tag = f"form{secrets.token_hex(3)}"
    submission = form_submission(
        ALICE, "C1", name=tag, command="echo got $FROM_DEFAULTS on $SLURM_JOB_PARTITION"
    )
    assert await _interaction(http_bot, submission) == (200, "")
    await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    [job_id] = await _jobs_named(http_bot, tag)
    await _completes_saying(http_bot, job_id, "got yes on cpu")


async def test_slash_submit_says_what_to_type_when_the_form_cannot_open(
    http_bot: HttpBot,
) -> None:
    http_bot.standin.fail_next("views.open", status=200, error="expired_trigger_id")
    await http_bot.command("submit", ALICE, trigger="trig-late")
    [answer] = await http_bot.standin.wait_for(
        "response_url", timeout=30, where=lambda c: "text" in c.params
    )
    assert "could not open the submit form (expired_trigger_id)" in answer.params["text"]
    assert answer.params.get("response_type") == "ephemeral"
    assert not http_bot.standin.violations


async def test_a_bad_field_is_answered_on_the_form_and_nothing_runs(http_bot: HttpBot) -> None:
    tag = f"form{secrets.token_hex(3)}"
    status, body = await _interaction(
        http_bot,
        form_submission(ALICE, "C1", partition="cpu", time="soon", name=tag, command="true"),
    )
    assert status == 200
    answer = json.loads(body)
    assert answer["response_action"] == "errors"
    assert answer["errors"]["time"].startswith("invalid time `soon`")
    assert await _jobs_named(http_bot, tag) == []
    assert not http_bot.standin.calls_to("chat.postMessage")
    assert not http_bot.standin.violations


async def test_a_good_form_submits_one_real_job_and_opens_its_thread(http_bot: HttpBot) -> None:
    tag = f"form{secrets.token_hex(3)}"
    status, body = await _interaction(
        http_bot,
        form_submission(
            ALICE,
            "C1",
            partition="cpu",
            name=tag,
            time="5",
            command="echo from-form $GREETING",
            env="GREETING=hello",
        ),
    )
    assert status == 200 and not body  # an empty ack closes the form
    [card] = await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    [job_id] = await _jobs_named(http_bot, tag)
    assert card.params["channel"] == "C1" and f"job {job_id}" in str(card.params["blocks"])
    monitor = http_bot.rt.monitor
    thread = await monitor.store.thread("lab", job_id)
    assert thread is not None and thread.user_id == ALICE and thread.account == "alice"
    await _completes_saying(http_bot, job_id, "from-form hello")
    assert not http_bot.standin.violations


async def test_a_redelivered_submission_runs_once(http_bot: HttpBot) -> None:
    tag = f"form{secrets.token_hex(3)}"
    payload = form_submission(ALICE, "C1", partition="cpu", name=tag, command="true")
    await _interaction(http_bot, payload)
    await _interaction(http_bot, payload)  # the same view id again
    await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    [job_id] = await _jobs_named(http_bot, tag)
    _, client = http_bot.rt.clusters.client(ALICE, "lab")
    await wait_state(client, job_id, {JobState.COMPLETED})
    assert await _jobs_named(http_bot, tag) == [job_id]
    cards = [
        c for c in http_bot.standin.calls_to("chat.postMessage") if "thread_ts" not in c.params
    ]
    assert len(cards) == 1
    assert not http_bot.standin.violations


async def test_the_global_shortcut_form_puts_the_card_in_the_dm(http_bot: HttpBot) -> None:
    tag = f"form{secrets.token_hex(3)}"
    await _interaction(
        http_bot, form_submission(ALICE, None, partition="cpu", name=tag, command="true")
    )
    [card] = await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    assert card.params["channel"] == ALICE  # the app's DM with the user
    [job_id] = await _jobs_named(http_bot, tag)
    monitor = http_bot.rt.monitor
    thread = await monitor.store.thread("lab", job_id)
    assert thread is not None and thread.channel == "D" + ALICE[1:]
    assert not http_bot.standin.violations


async def test_message_shortcut_opens_the_form_with_the_message_as_the_command(
    http_bot: HttpBot,
) -> None:
    payload = {
        "type": "message_action",
        "callback_id": "submit_from_message",
        "team": {"id": "T1"},
        "user": {"id": ALICE},
        "channel": {"id": "C1", "name": "hpc"},
        "trigger_id": "trig-msg",
        "message_ts": "1700000000.000100",
        "message": {
            "type": "message",
            "ts": "1700000000.000100",
            "text": "```$ python train.py --lr 0.1```",
        },
        "response_url": http_bot.standin.response_url("msg"),
    }
    status, _ = await _interaction(http_bot, payload)
    assert status == 200
    [opened] = await http_bot.standin.wait_for("views.open", timeout=30)
    view = opened_view(opened)
    command = next(b for b in view["blocks"] if b.get("block_id") == "command")
    assert command["element"]["initial_value"] == "python train.py --lr 0.1"
    assert json.loads(view["private_metadata"])["channel"] == "C1"
    assert not http_bot.standin.violations


async def test_an_unmapped_user_gets_a_form_that_says_why(http_bot: HttpBot) -> None:
    await _interaction(http_bot, global_shortcut(STRANGER, "trig-stranger"))
    [opened] = await http_bot.standin.wait_for("views.open", timeout=30)
    assert "not set up to use srunx-bot" in json.dumps(opened_view(opened))
    assert not http_bot.standin.violations


async def test_a_channel_the_bot_is_not_in_gets_the_card_in_the_dm(http_bot: HttpBot) -> None:
    tag = f"form{secrets.token_hex(3)}"
    http_bot.standin.fail_next("chat.postMessage", status=200, error="not_in_channel")
    await _interaction(
        http_bot, form_submission(ALICE, "C1", partition="cpu", name=tag, command="true")
    )
    posts = await http_bot.standin.wait_for(  # top-level ones: not the thread's replies
        "chat.postMessage", count=3, timeout=30, where=lambda c: "thread_ts" not in c.params
    )
    [job_id] = await _jobs_named(http_bot, tag)
    assert [p.params["channel"] for p in posts] == ["C1", ALICE, ALICE]
    assert f"job {job_id}" in str(posts[1].params["blocks"])
    assert "invite @srunx" in posts[2].params["text"] and "<#C1>" in posts[2].params["text"]
    monitor = http_bot.rt.monitor
    thread = await monitor.store.thread("lab", job_id)
    assert thread is not None and thread.channel == "D" + ALICE[1:]
    assert not http_bot.standin.violations


async def test_a_refused_submission_is_explained_in_the_dm(http_bot: HttpBot) -> None:
    tag = f"form{secrets.token_hex(3)}"
    status, body = await _interaction(
        http_bot, form_submission(ALICE, "C1", partition="nosuch", name=tag, command="true")
    )
    assert status == 200 and not body  # valid as text: only Slurm's side can refuse it
    [dm] = await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    assert dm.params["channel"] == ALICE
    assert "nothing was submitted from your form" in dm.params["text"]
    assert "nosuch" in dm.params["text"]
    assert await _jobs_named(http_bot, tag) == []
    assert not http_bot.standin.violations


async def test_a_form_that_cannot_open_is_explained_in_the_dm(http_bot: HttpBot) -> None:
    http_bot.standin.fail_next("views.open", status=200, error="expired_trigger_id")
    await _interaction(http_bot, global_shortcut(ALICE, "trig-late"))
    [dm] = await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    assert dm.params["channel"] == ALICE
    assert "could not open the submit form (expired_trigger_id)" in dm.params["text"]
    assert not http_bot.standin.violations
