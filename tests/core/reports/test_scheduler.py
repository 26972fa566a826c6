"""Report rendering, and `report every` storing and announcing its schedule (the slot
arithmetic is tests/core/test_schedules.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import parse_config
from bot.core import commands as c
from bot.core import ids
from bot.core import replies as r
from bot.core.models import JobState, PartitionResources, QueueJob, QueueSummary
from bot.core.reports.scheduler import ReportScheduler
from bot.core.reports.store import ReportStore
from bot.core.schedules import ReportSchedule
from bot.errors import PostRefused
from bot.render.blocks import render_blocks
from bot.render.text import render_text, wait_text
from bot.runtime import Runtime
from bot.store.state import open_state


def test_wait_text() -> None:
    assert [wait_text(x) for x in (None, 7, 240, 3900, 2 * 86400 + 3 * 3600)] == [
        "-",
        "7s",
        "4m",
        "1h 05m",
        "2d 3h",
    ]


def _report() -> r.ClusterReport:
    gpu = PartitionResources(
        partition="gpu",
        gpus_total=8,
        gpus_used=3,
        gpus_free=5,
        gpus_unavailable=0,
        nodes_idle=1,
        nodes_mixed=1,
    )
    mine = QueueJob(
        job_id="12", state=JobState.RUNNING, user="alice", partition="gpu", name="<!channel>"
    )
    waiting = QueueJob(
        job_id="13", state=JobState.PENDING, user="bob", partition="gpu", pending_seconds=3900
    )
    return r.ClusterReport(
        cluster="lab",
        at="2026-11-28 09:00 UTC",
        partitions=[gpu],
        queue=QueueSummary(
            running=1, pending=1, longest_pending_seconds=3900, longest_pending_job="13"
        ),
        account="alice",
        user_jobs=[mine, waiting],
        running=[mine],
        problems=["queue: slurmctld is down"],
    )


def test_report_as_text() -> None:
    lines = render_text(_report()).splitlines()
    assert lines[0] == "Cluster report: lab at 2026-11-28 09:00 UTC"
    assert lines[1].startswith("gpu: 5/8 GPUs free (3 in use)")
    assert "nodes idle 1, mixed 1, alloc 0, down 0, drain 0" in lines[1]
    assert lines[2] == "queue: 1 running, 1 pending; longest wait 1h 05m (job 13)"
    assert lines[3] == "jobs of alice:"
    assert lines[-1] == "could not read queue: slurmctld is down"


def test_report_is_one_safe_message() -> None:
    text, blocks = render_blocks(_report())
    assert len(blocks) <= 50
    body = str(blocks)
    assert "*lab*" in body and "5/8" in body and "1/1/0/0/0" in body
    assert "<!channel>" not in body and "<!channel>" not in text
    assert "longest wait 1h 05m" in body


# ---------------------------------------------------------------- issue 10: unique report ids
class _Posts:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.sent: list[tuple[str, r.Reply]] = []

    async def posted(self, channel: str, mark: str) -> bool:
        return False

    async def post(self, channel: str, reply: r.Reply, mark: str | None = None) -> str:
        if self.fail:
            raise PostRefused("the bot is not in that channel")
        self.sent.append((channel, reply))
        return "ts-1"


@pytest.fixture
async def scheduling(tmp_path: Path) -> AsyncIterator[tuple[Runtime, ReportStore]]:
    config = parse_config(
        {"clusters": [{"name": "lab"}], "access": {"users": {"U1": {"account": "alice"}}}},
        "test config",
    )
    rt = await Runtime.open(config)
    store = open_state(tmp_path / "state")
    yield rt, ReportStore(store)
    await store.close()
    await rt.close()


async def test_report_every_announces_the_unique_id_it_stored(
    scheduling: tuple[Runtime, ReportStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    rt, store = scheduling
    taken = ReportSchedule(
        id="r" + "c" * 12, cluster="lab", channel="C1", user_id="U1", every="1h", interval=3600
    )
    await store.save(taken)
    digits = iter(["c" * 12, "d" * 12])
    monkeypatch.setattr(ids, "token_hex", lambda n: next(digits))
    posts = _Posts()
    reports = ReportScheduler(rt.access, rt.clusters, store, posts, rt.config.reports)
    reports.scheduler = AsyncIOScheduler()  # not started: jobs are only recorded
    cmd = c.ReportEvery(every="1h", interval=3600)
    done = await reports.every("U1", cmd, "D1", dm=True)
    assert isinstance(done, r.Done) and done.text.startswith("report r" + "d" * 12)
    [(_, alert)] = posts.sent
    assert isinstance(alert, r.Alert) and "(report r" + "d" * 12 + ")" in alert.text
    assert sorted(s.id for s in await store.all()) == ["r" + "c" * 12, "r" + "d" * 12]


async def test_report_every_that_cannot_be_announced_is_not_kept(
    scheduling: tuple[Runtime, ReportStore],
) -> None:
    rt, store = scheduling
    reports = ReportScheduler(rt.access, rt.clusters, store, _Posts(fail=True), rt.config.reports)
    reports.scheduler = AsyncIOScheduler()
    with pytest.raises(PostRefused):
        await reports.every("U1", c.ReportEvery(every="1h", interval=3600), "D1", dm=True)
    assert await store.all() == []
    assert reports.scheduler.get_jobs() == []
