"""GPU watches and cluster reports through the real Bolt app: signed events in, the Slack
stand-in records what is posted, the lab's real jobs hold the GPUs."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from bot.core.models import Job, JobResource, JobState
from bot.core.poll import poll
from labkit import ADMIN, ALICE, BOB, eventually, wait_state
from slack_standin import Call
from slackkit import HttpBot, text_of

pytestmark = pytest.mark.lab


async def _mention(http_bot: HttpBot, user: str, text: str, *, channel: str = "C1") -> str:
    """An @-mention at the top level of a channel; returns its ts (the reply thread)."""
    ts = f"1700000{secrets.randbelow(10**6):06d}.000100"
    event = {
        "type": "app_mention",
        "user": user,
        "text": f"<@UBOT> {text}",
        "channel": channel,
        "ts": ts,
    }
    status, _, seconds = await http_bot.event(event, f"Ev-{secrets.token_hex(4)}")
    assert status == 200 and seconds < 1.0
    return ts


async def test_watch_gpus_alerts_the_caller_once_when_the_gpus_free_up(http_bot: HttpBot) -> None:
    rt = http_bot.rt
    _, client = rt.clusters.client(ALICE, "lab")
    hold = Job(
        name=f"hold{secrets.token_hex(2)}",
        command="sleep 300",
        resources=JobResource(partition="gpu", nodes=2, gpus_per_node=4),
    )
    job_id = await client.submit(rt.jobs.renderer.render(hold))
    try:
        await wait_state(client, job_id, {JobState.RUNNING})
        await _mention(http_bot, ALICE, "watch gpus 2 -p gpu")
        [ack] = await http_bot.standin.wait_for("chat.postEphemeral", timeout=30)
        assert "when 2 GPUs are free on gpu on lab (now 0 free)" in text_of(ack)
        await poll(rt.ticks, "lab", rt.state.leases)
        assert not http_bot.standin.calls_to("chat.postMessage")
        await client.transport.run(["scancel", job_id])

        def alerts() -> list[Call]:
            return [c for c in http_bot.standin.calls_to("chat.postMessage") if "<@" in text_of(c)]

        async def polled() -> int:
            await poll(rt.ticks, "lab", rt.state.leases)
            return len(alerts())

        await eventually(polled, lambda n: n >= 1, timeout=40, interval=1)
        for _ in range(2):
            await poll(rt.ticks, "lab", rt.state.leases)
        [alert] = alerts()
        assert alert.params["channel"] == "C1" and f"<@{ALICE}>" in text_of(alert)
        assert "8/8" in text_of(alert) and "on gpu on lab" in text_of(alert)
    finally:
        await client.transport.run(["scancel", job_id])
    assert not http_bot.standin.violations


async def test_report_now_is_one_message_naming_the_cluster(http_bot: HttpBot) -> None:
    thread = await _mention(
        http_bot, ALICE, "report now --include resources,jobs,user --cluster jump"
    )
    [post] = await http_bot.standin.wait_for(
        "chat.postMessage", where=lambda c: c.params.get("thread_ts") == thread, timeout=30
    )
    body = text_of(post)
    assert "Cluster report" in body and "*jump*" in body
    assert "PARTITION" in body and "gpu" in body and "Queue:" in body and "Jobs of alice" in body
    assert len(post.params["blocks"]) <= 50
    assert not http_bot.standin.violations


async def test_scheduled_report_is_posted_at_its_slot(http_bot: HttpBot) -> None:
    rt = http_bot.rt
    reports = rt.reports
    # The schedule's clock reaches the next whole minute in 3 s (a crontab slot, without
    # waiting up to a minute); APScheduler itself runs on the real clock.
    real = datetime.now(UTC)
    slot = real.replace(second=0, microsecond=0) + timedelta(minutes=1)
    offset = slot - timedelta(seconds=3) - real
    reports.clock = lambda: datetime.now(UTC) + offset
    scheduler = await rt.start_polling()
    try:
        await _mention(http_bot, ADMIN, 'report every "* * * * *" --include resources')
        [hello] = await http_bot.standin.wait_for(
            "chat.postMessage", where=lambda c: "scheduled a report" in text_of(c), timeout=30
        )
        assert hello.params["channel"] == "C1" and f"<@{ADMIN}>" in text_of(hello)
        [report] = await http_bot.standin.wait_for(
            "chat.postMessage", where=lambda c: "Scheduled report" in text_of(c), timeout=15
        )
        assert report.params["channel"] == "C1" and "*lab*" in text_of(report)
        assert slot.strftime("%Y-%m-%d %H:%M UTC") in text_of(report)
        await asyncio.sleep(2)
        assert (
            len(
                [
                    c
                    for c in http_bot.standin.calls_to("chat.postMessage")
                    if "Scheduled report" in text_of(c)
                ]
            )
            == 1
        )
    finally:
        scheduler.shutdown(wait=False)
    assert not http_bot.standin.violations


async def test_report_into_a_channel_without_the_bot_is_refused_with_a_fix(
    http_bot: HttpBot,
) -> None:
    reports = http_bot.rt.reports
    reports.scheduler = None  # not needed to be refused; only the target channel matters
    http_bot.standin.fail_next("chat.postMessage", status=200, error="not_in_channel")
    await _mention(http_bot, ADMIN, "report now --channel C0ELSE")
    [err] = await http_bot.standin.wait_for("chat.postEphemeral", timeout=30)
    assert "not_in_channel" in text_of(err) and "invite @srunx to <#C0ELSE> first" in text_of(err)


async def test_gpu_watch_is_listed_and_removed(http_bot: HttpBot) -> None:
    await _mention(http_bot, BOB, "watch gpus 8 --continuous")
    [ack] = await http_bot.standin.wait_for("chat.postEphemeral", timeout=30)
    watch_id = text_of(ack).split("watch ", 1)[1].split(":", 1)[0]
    await _mention(http_bot, BOB, "watches")
    listed = await http_bot.standin.wait_for(
        "chat.postEphemeral", where=lambda c: "watches of you" in text_of(c), timeout=30
    )
    assert watch_id in text_of(listed[0]) and "8 GPUs on gpu (continuous)" in text_of(listed[0])
    await _mention(http_bot, BOB, f"unwatch {watch_id}")
    await http_bot.standin.wait_for(
        "chat.postEphemeral", where=lambda c: "stopped 1 watch" in text_of(c), timeout=30
    )
    monitor = http_bot.rt.monitor
    assert monitor is not None and not await monitor.store.gpu_watches("lab")


async def test_slash_report_now_is_posted_in_the_channel(http_bot: HttpBot) -> None:
    status, _, seconds = await http_bot.command("report now -p gpu", ALICE, name="rep")
    assert status == 200 and seconds < 1.0
    [post] = await http_bot.standin.wait_for("chat.postMessage", timeout=30)
    assert post.params["channel"] == "C1" and "Cluster report" in text_of(post)
    assert "*lab*" in text_of(post) and "gpu" in text_of(post)
    done = await http_bot.standin.wait_for("response_url", timeout=10)
    assert done[-1].params.get("delete_original") is True
    assert not http_bot.standin.violations


async def _jobs_named(http_bot: HttpBot, name: str) -> list[str]:
    _, client = http_bot.rt.clusters.client(ALICE, "lab")
    res = await client.transport.run(["squeue", "-h", "--states=all", "-n", name, "-o", "%i"])
    return res.stdout.split()


async def assert_card_and_end_arrive_late(http_bot: HttpBot, tag: str, channel: str) -> None:
    """After Slack failed a job's card: the monitor posts it once, then the thread to the end."""
    [job_id] = await eventually(lambda: _jobs_named(http_bot, tag), bool, timeout=30)
    monitor = http_bot.rt.monitor

    async def ticked() -> bool:
        await monitor.tick("lab")
        thread = await monitor.store.thread("lab", job_id)
        return thread is not None and thread.done

    await eventually(ticked, bool, timeout=60, interval=1)
    posts = [c for c in http_bot.standin.calls_to("chat.postMessage") if "_fault" not in c.params]
    card = {"cluster": "lab", "job": job_id, "seq": 0, "kind": "card"}
    cards = [c for c in posts if c.params.get("metadata", {}).get("event_payload") == card]
    assert len(cards) == 1 and cards[0].params["channel"] == channel, cards
    [card_ts] = [
        ts
        for ts, m in http_bot.standin.messages.items()
        if m.get("metadata", {}).get("event_payload") == card
    ]
    replies = [c for c in posts if c.params.get("thread_ts") == card_ts]
    assert replies and "COMPLETED" in text_of(replies[-1]), [text_of(c) for c in replies]
    assert not http_bot.standin.violations


async def test_a_card_slack_fails_with_5xx_still_comes_with_the_jobs_end(
    http_bot: HttpBot,
) -> None:
    # A proxy answers 500 with a plain-text body, more times than the client retries.
    http_bot.standin.fail_next("chat.postMessage", status=500, times=3)
    tag = f"late{secrets.token_hex(3)}"
    await http_bot.command(f"submit -J {tag} -p cpu -- echo hi", ALICE, name="late")
    [note] = await http_bot.standin.wait_for(
        "response_url", where=lambda c: "did not take its card" in text_of(c), timeout=30
    )
    assert note.params.get("response_type") == "ephemeral"
    await assert_card_and_end_arrive_late(http_bot, tag, "C1")


async def test_a_dm_submit_whose_card_slack_fails_still_gets_card_and_end(
    http_bot: HttpBot,
) -> None:
    http_bot.standin.fail_next("chat.postMessage", status=500, times=3)
    tag = f"late{secrets.token_hex(3)}"
    event = {
        "type": "message",
        "channel_type": "im",
        "user": ALICE,
        "text": f"submit -J {tag} -p cpu -- echo hi",
        "channel": "D0ALICE",
        "ts": f"1700000{secrets.randbelow(10**6):06d}.000100",
    }
    status, _, _ = await http_bot.event(event, f"Ev-{secrets.token_hex(4)}")
    assert status == 200
    await assert_card_and_end_arrive_late(http_bot, tag, "D0ALICE")
