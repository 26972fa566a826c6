"""The core's outbox in Slack, on the Slack stand-in: every post about a job or a workflow run
marked with its metadata (so a restarted bot can read its thread), a run's message updated in
place, one channel's posts paced, and a refusal turned into a sentence saying what to do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import replies as r
from bot.core.flowruns import FlowRun
from bot.core.models import JobInfo, JobState
from bot.core.ports import ThreadPost
from bot.core.records import JobThread
from bot.errors import PostRefused
from bot.slack.notifier import ChannelPacer, SlackNotifier, job_metadata
from labkit import flow_run, flow_step
from slack_standin import SlackStandIn

JOB = JobInfo(job_id="7", state=JobState.RUNNING)


@pytest.fixture
def notifier(standin: SlackStandIn) -> SlackNotifier:
    client = AsyncWebClient(token=standin.bot_token, base_url=standin.api_url)
    return SlackNotifier(client, ChannelPacer(interval=0.0))


@pytest.fixture
async def thread(notifier: SlackNotifier) -> AsyncIterator[JobThread]:
    card = await notifier.post_card("C1", None, "lab", JOB)
    yield JobThread(
        cluster="lab",
        job_id="7",
        account="alice",
        user_id="U1",
        channel="C1",
        card_ts=card,
        thread_ts=card,
        seq=1,
    )


@pytest.fixture
async def run(notifier: SlackNotifier) -> FlowRun:
    """A run whose parent message is posted (the thread the tests reply in)."""
    unposted = flow_run([flow_step("a", job_id="7", state=JobState.RUNNING), flow_step("b", "a")])
    ts = await notifier.post_run(unposted)
    return unposted.model_copy(update={"parent_ts": ts, "seq": 1})


def test_a_jobs_metadata_names_its_cluster_job_sequence_and_kind() -> None:
    assert job_metadata("lab", "7", 2, "transition") == {
        "event_type": "srunx_job_update",
        "event_payload": {"cluster": "lab", "job": "7", "seq": 2, "kind": "transition"},
    }


async def test_the_card_is_marked_and_updated_in_place(
    standin: SlackStandIn, notifier: SlackNotifier, thread: JobThread
) -> None:
    [posted] = standin.calls_to("chat.postMessage")
    assert posted.params["metadata"] == job_metadata("lab", "7", 0, "card")
    await notifier.update_card(thread, JOB.model_copy(update={"state": JobState.COMPLETED}))
    [update] = standin.calls_to("chat.update")
    assert update.params["ts"] == thread.card_ts and "COMPLETED" in str(update.params["blocks"])


async def test_a_transition_is_escaped_marked_and_found_in_the_thread_again(
    standin: SlackStandIn, notifier: SlackNotifier, thread: JobThread
) -> None:
    sent: list[str] = []

    async def leaving() -> None:
        sent.append("now")

    await notifier.post_reply(thread, ThreadPost("<!channel> RUNNING", seq=2, before_send=leaving))
    reply = standin.calls_to("chat.postMessage")[-1]
    assert reply.params["text"] == "&lt;!channel&gt; RUNNING" and sent == ["now"]
    assert reply.params["thread_ts"] == thread.thread_ts
    assert reply.params.get("reply_broadcast") is False
    assert await notifier.posted_in_thread(thread, 2)
    assert not await notifier.posted_in_thread(thread, 3)


async def test_only_a_final_state_of_a_broadcast_thread_goes_to_the_channel(
    standin: SlackStandIn, notifier: SlackNotifier, thread: JobThread
) -> None:
    loud = thread.model_copy(update={"broadcast": True})
    await notifier.post_reply(loud, ThreadPost("*COMPLETED*", final=True, seq=3))
    note = ThreadPost("about 9 min left")
    await notifier.post_reply(loud, note)
    final, warning = standin.calls_to("chat.postMessage")[-2:]
    assert final.params["reply_broadcast"] is True
    assert warning.params["metadata"]["event_payload"]["kind"] == "note"
    assert warning.params.get("reply_broadcast") is False


async def test_an_unreadable_thread_counts_as_not_posted(
    standin: SlackStandIn, notifier: SlackNotifier, thread: JobThread
) -> None:
    standin.history_granted = False
    assert not await notifier.posted_in_thread(thread, 1)


async def test_a_refused_post_says_to_invite_the_bot(
    standin: SlackStandIn, notifier: SlackNotifier
) -> None:
    standin.fail_next("chat.postMessage", status=200, error="not_in_channel")
    with pytest.raises(PostRefused) as refused:
        await notifier.post("C9", r.Alert(text="GPUs free"))
    assert str(refused.value) == (
        "Slack would not let me post in <#C9> (not_in_channel); invite @srunx to <#C9> first"
    )
    assert await notifier.post("C9", r.Alert(text="GPUs free"))  # the ts it got


async def test_a_notice_is_escaped_and_flagged(
    standin: SlackStandIn, notifier: SlackNotifier
) -> None:
    await notifier.post_notice("C1", "cluster <lab> cannot be reached")
    [notice] = standin.calls_to("chat.postMessage")
    assert notice.params["text"] == ":warning: cluster &lt;lab&gt; cannot be reached"


async def test_one_channels_posts_are_paced_in_order_others_do_not_wait() -> None:
    pacer = ChannelPacer(interval=0.1)
    entered: list[tuple[str, float]] = []

    async def post(channel: str) -> None:
        async with pacer.slot(channel):
            entered.append((channel, time.monotonic()))

    await asyncio.gather(post("C1"), post("C1"), post("C2"))
    (first, t1), (other, t2), (second, t3) = sorted(entered, key=lambda e: e[1])
    assert (first, other, second) == ("C1", "C2", "C1")
    assert t3 - t1 >= 0.09 and t2 - t1 < 0.05


async def test_a_runs_message_is_marked_with_its_id_and_updated_in_place(
    standin: SlackStandIn, notifier: SlackNotifier, run: FlowRun
) -> None:
    [posted] = standin.calls_to("chat.postMessage")
    assert posted.params["metadata"] == job_metadata("lab", f"flow:{run.id}", 0, "card")
    assert posted.params["channel"] == "C1" and "flow_cancel" in str(posted.params["blocks"])
    assert not posted.params.get("thread_ts")
    step = run.cells[0].steps[0].model_copy(update={"state": JobState.COMPLETED})
    done = run.model_copy(
        update={"cells": [run.cells[0].model_copy(update={"steps": [step]})], "active": False}
    )
    await notifier.update_run(done)
    [update] = standin.calls_to("chat.update")
    assert update.params["ts"] == run.parent_ts and "COMPLETED" in str(update.params["blocks"])
    assert "flow_cancel" not in str(update.params["blocks"])  # an ended run: nothing to cancel
    assert not standin.violations


async def test_a_runs_transition_goes_in_its_thread_marked_and_is_found_again(
    standin: SlackStandIn, notifier: SlackNotifier, run: FlowRun, thread: JobThread
) -> None:
    sent: list[str] = []

    async def leaving() -> None:
        sent.append("now")

    post = ThreadPost("a: <!here> RUNNING", seq=2, before_send=leaving)
    await notifier.post_in_run(run, post)
    reply = standin.calls_to("chat.postMessage")[-1]
    assert reply.params["thread_ts"] == run.parent_ts and sent == ["now"]
    assert reply.params["text"] == "a: &lt;!here&gt; RUNNING"
    assert reply.params["metadata"] == job_metadata("lab", f"flow:{run.id}", 2, "transition")
    assert reply.params.get("reply_broadcast") is False
    assert await notifier.posted_in_run(run, 2)
    assert not await notifier.posted_in_run(run, 3)
    # Marks of a run and of a job never stand for each other.
    await notifier.post_reply(thread, ThreadPost("RUNNING", seq=4))
    assert not await notifier.posted_in_run(
        run.model_copy(update={"parent_ts": thread.thread_ts}), 4
    )


async def test_a_note_in_a_run_carries_its_count_not_a_transition(
    standin: SlackStandIn, notifier: SlackNotifier, run: FlowRun
) -> None:
    await notifier.post_in_run(run, ThreadPost("cancelled by <@U1>"))
    note = standin.calls_to("chat.postMessage")[-1]
    assert note.params["metadata"]["event_payload"] == {
        "cluster": "lab",
        "job": f"flow:{run.id}",
        "seq": 1,
        "kind": "note",
    }
    assert not await notifier.posted_in_run(run, 1)


async def test_an_unreadable_run_thread_counts_as_not_posted(
    standin: SlackStandIn, notifier: SlackNotifier, run: FlowRun
) -> None:
    await notifier.post_in_run(run, ThreadPost("a: RUNNING", seq=2))
    standin.history_granted = False
    assert not await notifier.posted_in_run(run, 2)


async def test_a_refused_run_message_says_to_invite_the_bot(
    standin: SlackStandIn, notifier: SlackNotifier
) -> None:
    standin.fail_next("chat.postMessage", status=200, error="channel_not_found")
    with pytest.raises(PostRefused, match=r"\(channel_not_found\); invite @srunx to <#C1> first"):
        await notifier.post_run(flow_run([flow_step("a")]))


async def test_who_cancelled_a_run_is_a_mention_and_other_ids_stay_text(
    standin: SlackStandIn, notifier: SlackNotifier, run: FlowRun
) -> None:
    by_admin = run.model_copy(update={"cancelled_by": "U0ADMIN"})
    await notifier.post_in_run(by_admin, ThreadPost("cancelled by <@U0ADMIN>; output: <@U0EVE>"))
    text = standin.calls_to("chat.postMessage")[-1].params["text"]
    assert "<@U0ADMIN>" in text and "&lt;@U0EVE&gt;" in text


async def test_a_marked_post_is_found_again_in_its_channel(
    standin: SlackStandIn, notifier: SlackNotifier
) -> None:
    await notifier.post("C1", r.Done(text="report"), mark="report:r1:1700000000")
    await notifier.post("C1", r.Done(text="other"))
    assert await notifier.posted("C1", "report:r1:1700000000")
    assert not await notifier.posted("C1", "report:r1:1700003600")
    assert not await notifier.posted("C2", "report:r1:1700000000")
    standin.history_granted = False  # cannot read the channel: counts as not posted
    assert not await notifier.posted("C1", "report:r1:1700000000")
