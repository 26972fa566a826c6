"""The real Bolt app end to end: signed HTTP requests and Socket Mode envelopes in, the local
Slack stand-in records every Web API call out, and jobs run on the real lab."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import urllib.parse

import pytest

from bot.core.models import JobState
from bot.core.records import JobThread
from bot.runtime import Runtime
from labkit import ADMIN, ALICE, BOB, STRANGER, eventually, wait_state
from slack_standin import Call, SlackStandIn, sign, slash_command_body
from slackkit import SECRET, HttpBot, text_of

pytestmark = pytest.mark.lab


async def _jobs_named(rt: Runtime, name: str) -> list[str]:
    _, client = rt.clusters.client(ALICE, "lab")
    res = await client.transport.run(["squeue", "-h", "--states=all", "-n", name, "-o", "%i"])
    return res.stdout.split()


async def test_http_slash_submit_runs_one_job_and_posts_its_card(http_bot: HttpBot) -> None:
    tag = f"e2e{secrets.token_hex(3)}"
    status, body, seconds = await http_bot.command(f"submit -J {tag} -p cpu -- echo hi", ALICE)
    assert status == 200 and "hourglass" in body and seconds < 1.0
    [post] = await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    assert post.params["channel"] == "C1" and f"`{tag}`" in text_of(post)
    [job_id] = await _jobs_named(http_bot.rt, tag)
    assert f"job {job_id}" in text_of(post)
    done = await http_bot.standin.wait_for("response_url", timeout=10)
    assert done[-1].params.get("delete_original") is True
    await asyncio.sleep(1.5)
    assert len(await _jobs_named(http_bot.rt, tag)) == 1
    assert len(http_bot.standin.calls_to("chat.postMessage")) == 1
    assert not http_bot.standin.violations


async def test_socket_mode_envelope_submits_once(
    socket_bot: Runtime, standin: SlackStandIn
) -> None:
    tag = f"sock{secrets.token_hex(3)}"
    payload = slash_command_body(
        f"submit -J {tag} -p cpu -- echo hi",
        user_id=ALICE,
        response_url=standin.response_url("s1"),
        trigger_id="trig-sock",
    )
    envelope = await standin.send_envelope("slash_commands", dict(payload))
    ack = await standin.wait_ack(envelope)
    assert ack["envelope_id"] == envelope
    [post] = await standin.wait_for("chat.postMessage", timeout=30)
    assert f"`{tag}`" in text_of(post)
    # Slack redelivers the same envelope: it must not submit a second job.
    await standin.send_envelope(
        "slash_commands", dict(payload), envelope_id=envelope, retry_attempt=1
    )
    await asyncio.sleep(2)
    assert len(await _jobs_named(socket_bot, tag)) == 1
    assert len(standin.calls_to("chat.postMessage")) == 1


async def test_mention_status_answers_in_the_thread(http_bot: HttpBot) -> None:
    tag = f"men{secrets.token_hex(3)}"
    await http_bot.command(f"submit -J {tag} -p cpu -- sleep 30", ALICE)
    [job_id] = await eventually(lambda: _jobs_named(http_bot.rt, tag), bool, timeout=30)
    event = {
        "type": "app_mention",
        "user": ALICE,
        "text": f"<@UBOT> status {job_id}",
        "channel": "C1",
        "ts": "1700000001.000100",
        "thread_ts": "1700000000.000100",
    }
    status, _, seconds = await http_bot.event(event, "Ev-mention-1")
    assert status == 200 and seconds < 1.0
    posts = await http_bot.standin.wait_for(
        "chat.postMessage",
        where=lambda c: c.params.get("thread_ts") == "1700000000.000100",
        timeout=30,
    )
    assert f"job {job_id}" in text_of(posts[0]) and f"`{tag}`" in text_of(posts[0])
    await http_bot.rt.dispatch.handle(ALICE, f"cancel {job_id}")


async def test_dm_list_answers_in_the_dm(http_bot: HttpBot) -> None:
    event = {
        "type": "message",
        "channel_type": "im",
        "user": BOB,
        "text": "list",
        "channel": "D0BOB",
        "ts": "1700000002.000100",
    }
    status, _, _ = await http_bot.event(event, "Ev-dm-1")
    assert status == 200
    [post] = await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    assert post.params["channel"] == "D0BOB" and "bob" in text_of(post)
    # The bot's own message echoed back as an event is ignored.
    own = {**event, "bot_id": "B1", "user": "UBOT", "text": "jobs of bob"}
    await http_bot.event(own, "Ev-dm-2")
    await asyncio.sleep(1)
    assert len(http_bot.standin.calls_to("chat.postMessage")) == 1


async def test_bad_input_gets_an_ephemeral_actionable_error(http_bot: HttpBot) -> None:
    await http_bot.command("submit -p gpux -- true", ALICE, name="bad")
    [resp] = await http_bot.standin.wait_for("response_url", timeout=30)
    assert resp.params["response_type"] == "ephemeral"
    assert "unknown partition `gpux` on lab; partitions: cpu, gpu" in text_of(resp)
    event = {
        "type": "app_mention",
        "user": ALICE,
        "text": "<@UBOT> submit --mem lots -- x",
        "channel": "C1",
        "ts": "1700000003.000100",
    }
    await http_bot.event(event, "Ev-bad-1")
    [eph] = await http_bot.standin.wait_for("chat.postEphemeral", timeout=30)
    assert eph.params["user"] == ALICE and "invalid memory `lots`" in text_of(eph)


async def test_unmapped_user_is_denied(http_bot: HttpBot) -> None:
    await http_bot.command("submit -p cpu -- touch /tmp/never", STRANGER, name="deny")
    [resp] = await http_bot.standin.wait_for("response_url", timeout=30)
    assert resp.params["response_type"] == "ephemeral" and "not set up" in text_of(resp)
    assert not http_bot.standin.calls_to("chat.postMessage")


async def test_forged_or_stale_requests_get_401_and_run_nothing(http_bot: HttpBot) -> None:
    tag = f"forge{secrets.token_hex(3)}"
    text = f"submit -J {tag} -p cpu -- echo forged"
    body = urllib.parse.urlencode(
        slash_command_body(text, user_id=ALICE, response_url=http_bot.standin.response_url("f"))
    )
    forged = sign("not-the-secret", body)
    stale = sign(SECRET, body, timestamp=int(time.time()) - 600)
    unsigned: dict[str, str] = {}
    for headers in (forged, stale, unsigned):
        status, _, _ = await http_bot.post(body, "application/x-www-form-urlencoded", headers)
        assert status == 401
    await asyncio.sleep(1.5)
    assert await _jobs_named(http_bot.rt, tag) == []
    assert [c for c in http_bot.standin.calls if c.method != "auth.test"] == []


async def test_retried_event_delivery_submits_once(http_bot: HttpBot) -> None:
    tag = f"retry{secrets.token_hex(3)}"
    event = {
        "type": "app_mention",
        "user": ALICE,
        "text": f"<@UBOT> submit -J {tag} -p cpu -- true",
        "channel": "C1",
        "ts": "1700000004.000100",
    }
    await http_bot.event(event, "Ev-retry-1")
    status, _, _ = await http_bot.event(
        event, "Ev-retry-1", {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
    )
    assert status == 200
    await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    await asyncio.sleep(2)
    assert len(await _jobs_named(http_bot.rt, tag)) == 1
    assert len(http_bot.standin.calls_to("chat.postMessage")) == 1


async def test_rate_limited_post_is_retried_and_arrives(http_bot: HttpBot) -> None:
    http_bot.standin.fail_next("chat.postMessage", status=429, retry_after=1)
    event = {
        "type": "message",
        "channel_type": "im",
        "user": ALICE,
        "text": "help",
        "channel": "D0ALICE",
        "ts": "1700000005.000100",
    }
    await http_bot.event(event, "Ev-429-1")
    calls = await http_bot.standin.wait_for("chat.postMessage", count=2, timeout=30)
    assert calls[0].params.get("_fault") == 429 and "_fault" not in calls[1].params
    assert calls[1].at - calls[0].at >= 0.9  # waited for Retry-After
    assert "commands:" in text_of(calls[1])


async def test_submitted_job_gets_its_thread_and_card_updates(http_bot: HttpBot) -> None:
    tag = f"thr{secrets.token_hex(3)}"
    await http_bot.command(
        f"submit -J {tag} -p cpu --notify-channel -- sleep 3; echo finished {tag}", ALICE
    )
    [card] = await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    [job_id] = await _jobs_named(http_bot.rt, tag)
    thread = await http_bot.tick_until_done(job_id)
    assert card.params["channel"] == thread.channel == "C1"
    replies = [
        c
        for c in http_bot.standin.calls_to("chat.postMessage")
        if c.params.get("thread_ts") == thread.card_ts
    ]
    texts = [text_of(c) for c in replies]
    assert any("RUNNING" in t for t in texts) and "COMPLETED" in texts[-1]
    assert f"finished {tag}" in texts[-1] and "exit code 0:0" in texts[-1]
    flags = [c.params.get("reply_broadcast") for c in replies]
    assert flags[-1] is True and not any(flags[:-1])  # only the final state goes to the channel
    updates = [
        c for c in http_bot.standin.calls_to("chat.update") if c.params["ts"] == thread.card_ts
    ]
    assert updates and "COMPLETED" in text_of(updates[-1])
    assert not http_bot.standin.violations


async def _card_of(http_bot: HttpBot, tag: str, text: str) -> tuple[str, Call, JobThread]:
    """Alice submits `text`: the job's id, its card and its thread."""
    await http_bot.command(text, ALICE, name=tag)
    [card] = await http_bot.standin.wait_for(
        "chat.postMessage", where=lambda c: f"`{tag}`" in text_of(c), timeout=30
    )
    [job_id] = await eventually(lambda: _jobs_named(http_bot.rt, tag), bool, timeout=30)
    monitor = http_bot.rt.monitor
    thread = await monitor.store.thread("lab", job_id)
    assert thread is not None
    return job_id, card, thread


async def test_cancel_button_works_for_the_owner_only(http_bot: HttpBot) -> None:
    tag = f"btn{secrets.token_hex(3)}"
    job_id, _, thread = await _card_of(http_bot, tag, f"submit -J {tag} -p cpu -- sleep 60")
    assert "job_cancel" in str(http_bot.standin.calls_to("chat.postMessage")[0].params["blocks"])
    status, _, seconds = await http_bot.click(
        "job_cancel", f"lab|{job_id}", BOB, message_ts=thread.card_ts
    )
    assert status == 200 and seconds < 1.0
    [refused] = await http_bot.standin.wait_for("chat.postEphemeral", timeout=30)
    assert refused.params["user"] == BOB and "only cancel your own jobs" in text_of(refused)
    _, client = http_bot.rt.clusters.client(ALICE, "lab")
    assert (await client.job(job_id)).state in (JobState.RUNNING, JobState.PENDING)
    await http_bot.click("job_cancel", f"lab|{job_id}", ALICE, message_ts=thread.card_ts)
    await http_bot.standin.wait_for("chat.postEphemeral", count=2, timeout=30)
    assert (await wait_state(client, job_id, {JobState.CANCELLED})).state == JobState.CANCELLED
    await http_bot.click("job_refresh", f"lab|{job_id}", ALICE, message_ts=thread.card_ts)
    [update] = await http_bot.standin.wait_for("chat.update", timeout=30)
    assert update.params["ts"] == thread.card_ts and "CANCELLED" in text_of(update)


async def test_commands_inside_a_job_thread_need_no_id(http_bot: HttpBot) -> None:
    tag = f"inth{secrets.token_hex(3)}"
    submit = f"submit -J {tag} -p cpu -- echo hello; sleep 30"
    job_id, _, thread = await _card_of(http_bot, tag, submit)
    event = {
        "type": "app_mention",
        "user": ALICE,
        "text": "<@UBOT> status",
        "channel": "C1",
        "ts": "1700000010.000100",
        "thread_ts": thread.thread_ts,
    }
    await http_bot.event(event, "Ev-thread-status")
    posts = await http_bot.standin.wait_for(
        "chat.postMessage",
        where=lambda c: c.params.get("thread_ts") == thread.thread_ts,
        timeout=30,
    )
    assert f"job {job_id}" in text_of(posts[0])
    await http_bot.rt.dispatch.handle(ALICE, f"cancel {job_id}")


async def test_watch_job_watches_and_unwatch(http_bot: HttpBot) -> None:
    _, client = http_bot.rt.clusters.client(ALICE, "lab")
    res = await client.transport.run(["sbatch", "--parsable", "-p", "cpu", "--wrap", "sleep 40"])
    job_id = res.stdout.strip()
    await http_bot.command(f"watch job {job_id}", ALICE, name="w1")
    [card] = await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    assert f"job {job_id}" in text_of(card)
    [done] = await http_bot.standin.wait_for("response_url", timeout=30)
    assert "watching job" in text_of(done) and done.params["response_type"] == "ephemeral"
    await http_bot.command(f"watch job {job_id}", BOB, name="w2")
    denied = await http_bot.standin.wait_for("response_url", count=2, timeout=30)
    assert "you can watch your own jobs" in text_of(denied[-1])
    await http_bot.command("watches", ALICE, name="w3")
    listed = await http_bot.standin.wait_for("response_url", count=3, timeout=30)
    assert job_id in text_of(listed[-1])
    await http_bot.command(f"unwatch {job_id}", ALICE, name="w4")
    stopped = await http_bot.standin.wait_for("response_url", count=4, timeout=30)
    assert "stopped 1 watch" in text_of(stopped[-1])
    monitor = http_bot.rt.monitor
    assert monitor is not None and await monitor.store.open_threads("lab") == []
    await client.cancel(job_id)


async def test_watch_mine_opens_a_thread_for_a_job_submitted_by_sbatch(http_bot: HttpBot) -> None:
    await http_bot.command("watch mine", ALICE, name="m1")
    await http_bot.standin.wait_for("response_url", timeout=30)
    _, client = http_bot.rt.clusters.client(ALICE, "lab")
    res = await client.transport.run(["sbatch", "--parsable", "-p", "cpu", "--wrap", "sleep 2"])
    job_id = res.stdout.strip()
    thread = await http_bot.tick_until_done(job_id)
    texts = [
        text_of(c)
        for c in http_bot.standin.calls_to("chat.postMessage")
        if c.params.get("thread_ts") == thread.card_ts
    ]
    assert "COMPLETED" in texts[-1]


async def test_refresh_by_someone_else_answers_them_and_keeps_the_owners_card(
    http_bot: HttpBot,
) -> None:
    tag = f"ref{secrets.token_hex(3)}"
    job_id, card, thread = await _card_of(http_bot, tag, f"submit -J {tag} -p cpu -- sleep 60")
    [value] = [
        e["value"]
        for b in card.params["blocks"]
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == "job_refresh"
    ]
    await http_bot.click("job_refresh", value, BOB, message_ts=thread.card_ts)
    [eph] = await http_bot.standin.wait_for("chat.postEphemeral", timeout=30)
    assert eph.params["user"] == BOB and f"job {job_id}" in text_of(eph)
    assert http_bot.standin.calls_to("chat.update") == []
    await http_bot.click("job_refresh", value, ALICE, message_ts=thread.card_ts)
    [update] = await http_bot.standin.wait_for("chat.update", timeout=30)
    assert update.params["ts"] == thread.card_ts and f"job {job_id}" in text_of(update)
    await http_bot.rt.dispatch.handle(ALICE, f"cancel {job_id}")


async def test_refresh_of_a_card_without_thread_updates_for_the_jobs_account_only(
    http_bot: HttpBot,
) -> None:
    _, client = http_bot.rt.clusters.client(ALICE, "lab")
    res = await client.transport.run(["sbatch", "--parsable", "-p", "cpu", "--wrap", "sleep 60"])
    job_id = res.stdout.strip()
    value = json.dumps({"c": "lab", "j": job_id})
    try:
        await http_bot.click("job_refresh", value, BOB, message_ts="1700000020.000100")
        [eph] = await http_bot.standin.wait_for("chat.postEphemeral", timeout=30)
        assert eph.params["user"] == BOB
        assert http_bot.standin.calls_to("chat.update") == []
        await http_bot.click("job_refresh", value, ALICE, message_ts="1700000020.000100")
        [update] = await http_bot.standin.wait_for("chat.update", timeout=30)
        assert update.params["ts"] == "1700000020.000100" and f"job {job_id}" in text_of(update)
    finally:
        await client.cancel(job_id)


async def test_forged_button_value_runs_nothing_and_says_so(http_bot: HttpBot) -> None:
    for i, value in enumerate(["lab|5000 -n 500 --cluster other", '{"c": "nope", "j": "5"}']):
        await http_bot.click("job_tail", value, ALICE, message_ts="1700000021.000100")
        answers = await http_bot.standin.wait_for("chat.postEphemeral", count=i + 1, timeout=30)
        assert answers[-1].params["user"] == ALICE
        assert "this button is not one the bot made" in text_of(answers[-1])
    assert not http_bot.standin.violations


async def test_mention_posted_by_a_bot_is_ignored(http_bot: HttpBot) -> None:
    event = {
        "type": "app_mention",
        "user": ALICE,
        "bot_id": "B0OTHER",
        "text": "<@UBOT> list",
        "channel": "C1",
        "ts": "1700000022.000100",
    }
    await http_bot.event(event, "Ev-bot-mention-1")
    await http_bot.event({**event, "subtype": "bot_message"}, "Ev-bot-mention-2")
    await asyncio.sleep(1.5)
    assert [c for c in http_bot.standin.calls if c.method.startswith("chat.")] == []


async def test_unmapped_user_is_told_which_admin_to_ask_as_a_mention(http_bot: HttpBot) -> None:
    await http_bot.command("list", STRANGER, name="deny-mention")
    [resp] = await http_bot.standin.wait_for("response_url", timeout=30)
    assert f"ask <@{ADMIN}> to map" in text_of(resp) and "&lt;@" not in text_of(resp)
