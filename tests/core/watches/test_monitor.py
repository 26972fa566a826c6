"""JobMonitor with a scripted Slurm and the real SlackNotifier on the Slack stand-in: a crash
between a transition's intent and its post, and a card Slack did not take at submit."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from slack_sdk.web.async_client import AsyncWebClient
from storekit import record_appends, record_writes

from bot.config import NotifyConfig, parse_config
from bot.core.access import Access
from bot.core.clusters import Clusters
from bot.core.models import JobInfo, JobState
from bot.core.ports import ThreadPost
from bot.core.prefs import Prefs
from bot.core.records import JobThread
from bot.core.slurm.client import Output, Survey
from bot.core.watches.monitor import JobMonitor
from bot.core.watches.store import WatchStore
from bot.errors import SlurmError
from bot.slack.app import web_client
from bot.slack.notifier import ChannelPacer, SlackNotifier
from bot.store.state import THREADS, CollectionState, open_state
from bot.transport.pool import TransportPool
from slack_standin import SlackStandIn
from slackkit import settings_for

ALICE = "U0ALICE"


class Killed(BaseException):
    """The bot process dies here (kill -9): nothing after it runs, no except Exception."""


class FakeSlurm:
    """The SlurmClient calls a tick makes, answering with the states a test sets."""

    def __init__(self) -> None:
        self.states: dict[str, JobState] = {}

    async def survey(self, user: str | None, job_ids: Iterable[str]) -> Survey:
        status = {j: JobInfo(job_id=j, state=self.states[j], name="train") for j in job_ids}
        return Survey(jobs=[], status=status)

    async def usage(self, job_id: str) -> None:
        raise SlurmError("no accounting here")

    async def tail(self, job_id: str, lines: int) -> Output:
        raise SlurmError("no output here")


class DiesWhilePosting(SlackNotifier):
    """Records the transition's intent, then dies: before the Slack call or just after it."""

    def __init__(self, client: AsyncWebClient, *, after_post: bool) -> None:
        super().__init__(client, ChannelPacer(0))
        self.after_post = after_post

    async def post_reply(self, thread: JobThread, post: ThreadPost) -> None:
        async def intent_then_maybe_die() -> None:
            assert post.before_send is not None
            await post.before_send()
            if not self.after_post:
                raise Killed

        await super().post_reply(thread, replace(post, before_send=intent_then_maybe_die))
        raise Killed


@dataclass
class Rig:
    slack: SlackStandIn
    client: AsyncWebClient
    path: Path
    slurm: FakeSlurm
    clusters: Clusters
    stores: list[CollectionState] = field(default_factory=list)

    def start(self, notifier: SlackNotifier | None = None) -> JobMonitor:
        """A (re)started bot: a fresh store on the same state file and a fresh monitor."""
        store = open_state(self.path)
        self.stores.append(store)
        notifier = notifier or SlackNotifier(self.client, ChannelPacer(0))
        clusters = self.clusters
        return JobMonitor(clusters.access, clusters, WatchStore(store), notifier, NotifyConfig())

    def thread_texts(self, card_ts: str) -> list[str]:
        return [
            str(m["text"])
            for m in sorted(self.slack.messages.values(), key=lambda m: str(m["ts"]))
            if m.get("thread_ts") == card_ts
        ]

    def cards(self) -> list[dict[str, Any]]:
        return [
            m
            for m in self.slack.messages.values()
            if m.get("metadata", {}).get("event_payload", {}).get("kind") == "card"
        ]


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    config = parse_config(
        {"clusters": [{"name": "lab"}], "access": {"users": {ALICE: {"account": "alice"}}}},
        "test config",
    )
    clusters = Clusters(config, Access(config.access), Prefs(), TransportPool())
    slurm = FakeSlurm()
    monkeypatch.setattr(clusters, "client", lambda user, cluster: (config.clusters[0], slurm))
    async with SlackStandIn() as slack:
        client = web_client(settings_for(slack, http=True))
        r = Rig(slack, client, tmp_path / "state", slurm, clusters)
        yield r
        for store in r.stores:
            await store.close()
        await clusters.close()


async def _crash_between_intent_and_answer(rig: Rig, *, after_post: bool) -> str:
    """Job 5's COMPLETED is recorded as in flight, then the bot dies; returns the card's ts."""
    first = rig.start(DiesWhilePosting(rig.client, after_post=after_post))
    card = await first.notifier.post_card(
        "C1", None, "lab", JobInfo(job_id="5", state=JobState.PENDING)
    )
    await first.follow(cluster="lab", job_id="5", user_id=ALICE, channel="C1", card_ts=card)
    rig.slurm.states["5"] = JobState.COMPLETED
    with pytest.raises(Killed):
        await first.tick("lab")
    thread = await first.store.thread("lab", "5")
    assert thread is not None and thread.in_flight == "1:COMPLETED"
    return card


async def _restart_and_settle(rig: Rig) -> JobMonitor:
    monitor = rig.start()
    for _ in range(2):  # the second tick must post nothing more
        await monitor.tick("lab")
    return monitor


async def test_a_transition_posted_just_before_a_crash_is_found_in_the_thread_not_reposted(
    rig: Rig,
) -> None:
    card = await _crash_between_intent_and_answer(rig, after_post=True)
    monitor = await _restart_and_settle(rig)
    texts = rig.thread_texts(card)
    assert len(texts) == 1 and texts[0].startswith("*COMPLETED*"), texts
    thread = await monitor.store.thread("lab", "5")
    assert thread is not None and thread.done and thread.seq == 1 and thread.in_flight is None
    assert "COMPLETED" in str(rig.slack.messages[card]["blocks"])  # the card caught up too
    [lookup, *_] = rig.slack.calls_to("conversations.replies")
    assert lookup.params["include_all_metadata"] in ("1", "true")


async def test_a_transition_the_crash_kept_from_slack_is_posted_after_the_restart(
    rig: Rig,
) -> None:
    card = await _crash_between_intent_and_answer(rig, after_post=False)
    assert rig.thread_texts(card) == []
    await _restart_and_settle(rig)
    texts = rig.thread_texts(card)
    assert len(texts) == 1 and texts[0].startswith("*COMPLETED*"), texts


@pytest.mark.parametrize("lookup", ["missing_scope", "http_500"])
async def test_without_a_readable_thread_the_transition_is_posted_again(
    rig: Rig, lookup: str
) -> None:
    card = await _crash_between_intent_and_answer(rig, after_post=True)
    if lookup == "missing_scope":
        rig.slack.history_granted = False
    else:
        rig.slack.fail_next("conversations.replies", status=500, times=3)
    monitor = await _restart_and_settle(rig)
    texts = rig.thread_texts(card)
    # A rare duplicate beats a lost end notice.
    assert len(texts) == 2 and all(t.startswith("*COMPLETED*") for t in texts), texts
    thread = await monitor.store.thread("lab", "5")
    assert thread is not None and thread.done


async def test_a_transition_waiting_for_its_channel_slot_is_not_in_flight_yet(rig: Rig) -> None:
    notifier = SlackNotifier(rig.client, ChannelPacer(0))
    monitor = rig.start(notifier)
    card = await notifier.post_card("C1", None, "lab", JobInfo(job_id="5", state=JobState.PENDING))
    await monitor.follow(cluster="lab", job_id="5", user_id=ALICE, channel="C1", card_ts=card)
    rig.slurm.states["5"] = JobState.COMPLETED
    async with notifier.pacer.slot("C1"):  # other posts hold the channel for a while
        tick = asyncio.create_task(monitor.tick("lab"))
        await asyncio.sleep(0.3)
        thread = await monitor.store.thread("lab", "5")
        assert thread is not None and thread.in_flight is None  # queued, not sent
        tick.cancel()  # the bot dies while the post waits its turn
    with pytest.raises(asyncio.CancelledError):
        await tick
    await _restart_and_settle(rig)
    texts = rig.thread_texts(card)
    assert len(texts) == 1 and texts[0].startswith("*COMPLETED*"), texts


async def test_every_post_of_the_monitor_carries_the_job_and_its_sequence(rig: Rig) -> None:
    notifier = SlackNotifier(rig.client, ChannelPacer(0))
    monitor = rig.start(notifier)
    card = await notifier.post_card("C1", None, "lab", JobInfo(job_id="5", state=JobState.PENDING))
    await monitor.follow(cluster="lab", job_id="5", user_id=ALICE, channel="C1", card_ts=card)
    for state in (JobState.RUNNING, JobState.COMPLETED):
        rig.slurm.states["5"] = state
        await monitor.tick("lab")
    posts = sorted(rig.slack.messages.values(), key=lambda m: str(m["ts"]))
    assert [m["metadata"] for m in posts] == [
        {
            "event_type": "srunx_job_update",
            "event_payload": {"cluster": "lab", "job": "5", "seq": seq, "kind": kind},
        }
        for seq, kind in [(0, "card"), (1, "transition"), (2, "transition")]
    ]
    assert not rig.slack.violations


async def test_a_card_slack_did_not_take_is_posted_once_slack_answers_then_its_thread(
    rig: Rig,
) -> None:
    monitor = rig.start()
    # Slack failed the submit's card even after the client's retries: followed, no card yet.
    await monitor.follow(cluster="lab", job_id="6", user_id=ALICE, channel="C1", card_ts="")
    rig.slurm.states["6"] = JobState.PENDING
    rig.slack.fail_next("chat.postMessage", status=500, times=3)
    await monitor.tick("lab")  # still failing: nothing lost, tried again next tick
    thread = await monitor.store.thread("lab", "6")
    assert thread is not None and thread.card_ts == "" and not thread.done
    await monitor.tick("lab")
    rig.slurm.states["6"] = JobState.COMPLETED
    for _ in range(2):
        await monitor.tick("lab")
    [card] = rig.cards()
    assert card["channel"] == "C1" and "job 6" in str(card["blocks"])
    texts = rig.thread_texts(str(card["ts"]))
    assert texts[0].startswith("PENDING") and texts[-1].startswith("*COMPLETED*"), texts
    assert "COMPLETED" in str(card["blocks"])  # updated in place


async def test_a_ticks_post_marks_are_one_write_at_its_end_its_intents_one_each(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monitor = rig.start()
    jobs = ["7", "8", "9"]
    for j in jobs:
        info = JobInfo(job_id=j, state=JobState.PENDING)
        card = await monitor.notifier.post_card("C1", None, "lab", info)
        await monitor.follow(cluster="lab", job_id=j, user_id=ALICE, channel="C1", card_ts=card)
        rig.slurm.states[j] = JobState.RUNNING
    written, appended = record_writes(monkeypatch), record_appends(monkeypatch)
    await monitor.tick("lab")
    shards = {zlib.crc32(f"lab:{j}".encode()) % THREADS.shards for j in jobs}
    assert len(appended) == len(jobs)  # each intent one journal line (bot/store/journal.py)
    assert sorted(p.name for p in written) == sorted(f"threads.{s}.json" for s in shards)
    restarted = rig.start()  # all of it durable when the tick returned
    for j in jobs:
        thread = await restarted.store.thread("lab", j)
        assert thread is not None and thread.seq == 1 and thread.in_flight is None


async def test_a_tick_prunes_old_threads_at_most_once_an_hour(rig: Rig) -> None:
    monitor = rig.start()
    await monitor.follow(cluster="lab", job_id="5", user_id=ALICE, channel="C1", card_ts="c5")
    rig.slurm.states["5"] = JobState.NOT_FOUND
    await monitor.tick("lab")  # closed: kept for the retention (the tick pruned nothing)
    later = time.time() + monitor.store.retention + 2 * 3600
    assert await monitor.store.prune(later) == 1
    assert await monitor.store.thread("lab", "5") is None
    assert await monitor.store.prune(later + 60) == 0  # within the hour: not even looked
