"""Cluster reports on the real lab: `report now` against what Slurm says at that moment, and a
crontab schedule firing at its slot on a real APScheduler, across restarts. The schedulers'
clock is shifted so that a crontab minute slot is two seconds away instead of up to sixty."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core import commands as c
from bot.core import replies as r
from bot.core.models import Job, JobResource, JobState
from bot.core.reports.scheduler import ReportScheduler
from bot.core.reports.store import ReportStore
from bot.core.slurm.parse import tres_gpu_count
from bot.errors import AccessDenied, UsageError
from bot.runtime import Runtime
from bot.store.state import CollectionState, open_state
from labkit import ADMIN, ALICE, BOB, Lab, Posts, Recorder, eventually, wait_state

pytestmark = pytest.mark.lab


def clock_reaching(moment: datetime, seconds: float) -> Callable[[], datetime]:
    """A running clock that reaches `moment` `seconds` from now (real time)."""
    offset = moment - timedelta(seconds=seconds) - datetime.now(UTC)
    return lambda: datetime.now(UTC) + offset


def next_minute() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)


@dataclass
class Bot:
    """One bot process's report machinery, over a store that outlives it."""

    rt: Runtime
    reports: ReportScheduler
    scheduler: AsyncIOScheduler

    async def stop(self) -> None:
        if self.scheduler.running:
            self.scheduler.shutdown(wait=False)


Starter = Callable[["Posts", Callable[[], datetime]], Awaitable[Bot]]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[CollectionState]:
    s = open_state(tmp_path / "state")
    yield s
    await s.close()


@pytest.fixture
async def posting(lab: Lab, tmp_path: Path) -> AsyncIterator[tuple[Runtime, Posts]]:
    """The bot's parts over a state file, posting into a recorder."""
    posts = Recorder()
    rt = await Runtime.open(lab.config(), open_state(tmp_path / "posting"), posts)
    yield rt, posts
    await rt.close()


@pytest.fixture
async def start(lab: Lab, store: CollectionState) -> AsyncIterator[Starter]:
    bots: list[Bot] = []

    async def starter(posts: Posts, clock: Callable[[], datetime]) -> Bot:
        rt = await Runtime.open(lab.config())
        reports = ReportScheduler(
            rt.access, rt.clusters, ReportStore(store), posts, rt.config.reports, clock=clock
        )
        scheduler = AsyncIOScheduler()
        scheduler.start()
        await reports.start(scheduler)
        bot = Bot(rt, reports, scheduler)
        bots.append(bot)
        return bot

    yield starter
    for bot in bots:
        await bot.stop()
        await bot.rt.close()


async def _gpu_job(rt: Runtime, gpus: int) -> str:
    _, client = rt.clusters.client(ALICE, "lab")
    job = Job(
        name=f"rep{secrets.token_hex(2)}",
        command="sleep 120",
        resources=JobResource(partition="gpu", gpus_per_node=gpus),
    )
    job_id = await client.submit(rt.jobs.renderer.render(job))
    await wait_state(client, job_id, {JobState.RUNNING})
    return job_id


async def test_report_now_matches_sinfo_and_squeue(lab: Lab, rt: Runtime) -> None:
    job_id = await _gpu_job(rt, 3)
    try:
        reply = await rt.dispatch.handle(
            ALICE, "report now --include resources,jobs,user,running", channel="C1"
        )
        assert isinstance(reply, r.ClusterReport), reply
        # What Slurm says, asked as root and counted here independently of the bot's parser.
        sinfo = await lab.sh("sinfo", "-h", "-N", "-p", "gpu", "-o", "%N %G")
        total = sum(int(line.split("gpu:")[1]) for line in sinfo.splitlines())
        squeue = await lab.sh("squeue", "-h", "-t", "RUNNING", "-p", "gpu", "-O", "tres-alloc:0")
        used = sum(tres_gpu_count(line.strip()) or 0 for line in squeue.splitlines())
        running = await lab.sh("squeue", "-h", "-t", "RUNNING", "-o", "%i")
        pending = await lab.sh("squeue", "-h", "-t", "PENDING", "-r", "-o", "%i")
        gpu = {p.partition: p for p in reply.partitions or []}["gpu"]
        assert (gpu.gpus_total, gpu.gpus_used, gpu.gpus_free) == (total, used, total - used)
        assert used >= 3
        assert reply.queue is not None
        assert reply.queue.running == len(running.split())
        assert reply.queue.pending == len(pending.split())
        assert job_id in [j.job_id for j in reply.user_jobs or []]
        assert job_id in [j.job_id for j in reply.running or []]
        assert reply.cluster == "lab" and reply.account == "alice" and not reply.problems
    finally:
        await lab.sh("scancel", job_id)


async def test_report_now_into_another_channel_needs_a_grant(
    posting: tuple[Runtime, Posts],
) -> None:
    rt, posts = posting
    with pytest.raises(AccessDenied, match=r"ask an admin to add you to access\.reports\.C0HPC"):
        await rt.reports.now(ALICE, c.ReportNow(channel="C0HPC"), "C1")
    done = await rt.reports.now(ADMIN, c.ReportNow(channel="C0HPC"), "C1")
    assert isinstance(done, r.Done) and "<#C0HPC>" in done.text
    [(channel, report)] = posts.sent
    assert channel == "C0HPC" and isinstance(report, r.ClusterReport)
    bad = await rt.dispatch.handle(ALICE, "report now -p gpux", channel="C1")
    assert isinstance(bad, r.ErrorReply) and "partitions: cpu, gpu" in bad.message


async def test_crontab_report_fires_at_its_slot_and_survives_restarts(
    start: Starter, store: CollectionState
) -> None:
    posts = Posts()
    first: Bot = await start(posts, clock_reaching(next_minute(), 3))
    done = await first.reports.every(
        ADMIN, c.ReportEvery(every="* * * * *", cron="* * * * *", include=("resources",)), "C1"
    )
    assert isinstance(done, r.Done) and "first at" in done.text
    [(channel, hello)] = posts.sent  # said in the channel before it was saved
    assert channel == "C1" and isinstance(hello, r.Alert)
    [schedule] = await ReportStore(store).all()

    await eventually(
        lambda: asyncio.sleep(0, posts.of(r.ClusterReport)), bool, timeout=10, interval=0.2
    )
    [report] = posts.of(r.ClusterReport)
    assert report.title == f"Scheduled report {schedule.id}" and report.cluster == "lab"
    slot = first.reports.clock().replace(second=0, microsecond=0)
    assert report.at == slot.strftime("%Y-%m-%d %H:%M UTC")
    posted = await ReportStore(store).get(schedule.id)
    assert posted is not None and posted.last_slot == slot.timestamp()
    await first.stop()

    # Restarted a moment after that slot: the same slot is not posted again ...
    second: Bot = await start(posts, lambda: slot + timedelta(seconds=0.5))
    assert not await second.reports.fire(schedule.id, slot.timestamp())
    job = second.scheduler.get_job(f"report-{schedule.id}")
    assert job is not None and job.args[1] == (slot + timedelta(minutes=1)).timestamp()
    await asyncio.sleep(1)
    assert len(posts.of(r.ClusterReport)) == 1
    await second.stop()

    # ... and after five minutes down, the missed slots are skipped, not replayed in a burst.
    later = slot + timedelta(minutes=5, seconds=30)
    third: Bot = await start(posts, lambda: later)
    job = third.scheduler.get_job(f"report-{schedule.id}")
    assert job is not None and job.args[1] == (slot + timedelta(minutes=6)).timestamp()
    await asyncio.sleep(1)
    assert len(posts.of(r.ClusterReport)) == 1
    await third.stop()

    # The next slot still comes, once.
    await start(posts, clock_reaching(slot + timedelta(minutes=7), 2))
    await eventually(
        lambda: asyncio.sleep(0, len(posts.of(r.ClusterReport))), lambda n: n == 2, timeout=10
    )
    await asyncio.sleep(1.5)
    assert len(posts.of(r.ClusterReport)) == 2


async def test_scheduling_rules(posting: tuple[Runtime, Posts]) -> None:
    rt, _ = posting
    reports = rt.reports
    scheduler = AsyncIOScheduler()
    scheduler.start()
    try:
        await reports.start(scheduler)
        with pytest.raises(AccessDenied):
            await reports.every(BOB, c.ReportEvery(every="1h", interval=3600), "C1")
        with pytest.raises(UsageError, match="too often; the shortest allowed is 300 s"):
            await reports.every(ADMIN, c.ReportEvery(every="1m", interval=60), "C1")
        # A DM is the caller's own: no grant needed.
        own = await rt.dispatch.handle(BOB, "report every 1h -p gpu", channel="D1", dm=True)
        assert isinstance(own, r.Done) and "every 1h in your DM" in own.text
        listed = await rt.dispatch.handle(BOB, "reports", channel="D1", dm=True)
        assert isinstance(listed, r.ReportsReply) and len(listed.reports) == 1
        rid = listed.reports[0].id
        denied = await rt.dispatch.handle(ALICE, f"report stop {rid}", channel="C1")
        assert isinstance(denied, r.ErrorReply) and "no report" in denied.message
        stopped = await rt.dispatch.handle(BOB, f"report stop {rid}", channel="D1", dm=True)
        assert isinstance(stopped, r.Done) and scheduler.get_job(f"report-{rid}") is None
        assert not await reports.store.all()
    finally:
        scheduler.shutdown(wait=False)
