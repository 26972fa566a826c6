"""ReportScheduler's slots without the lab, on its own clock, with sinfo and squeue captured
from the lab (tests/data): each slot is posted once, a restarted bot does not post the slot it
posted before, and slots missed while it was down are skipped, not replayed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core import replies as r
from bot.core.reports.scheduler import POSTING_STALE
from labkit import ALICE
from scripted import DATA, OfflineBot, captured, sinfo

T0 = datetime(2026, 11, 27, 8, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


@dataclass
class Bot(OfflineBot):
    now: datetime = T0

    async def start(self) -> None:
        """A (re)started bot: its reports on our clock, on a paused scheduler (its jobs are
        only recorded, one per id as when running: the tests fire the slots)."""
        self.rt.reports.clock = lambda: self.now
        scheduler = AsyncIOScheduler()
        scheduler.start(paused=True)
        await self.rt.reports.start(scheduler)

    def stop(self) -> None:
        assert self.rt.reports.scheduler is not None
        self.rt.reports.scheduler.shutdown(wait=False)

    async def restart_at(self, at: datetime) -> None:
        self.stop()
        await self.restart()
        self.now = at
        await self.start()

    def next_slots(self) -> list[datetime]:
        """The slot each scheduled report waits for."""
        scheduler = self.rt.reports.scheduler
        assert scheduler is not None
        return [datetime.fromtimestamp(j.args[1], UTC) for j in scheduler.get_jobs()]

    async def fire(self, report_id: str, slot: datetime) -> bool:
        self.now = slot
        return await self.rt.reports.fire(report_id, slot.timestamp())

    def reports(self) -> list[r.ClusterReport]:
        return self.out.of(r.ClusterReport)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    b = await Bot.open(tmp_path)
    queue = captured(DATA / "squeue_queue.txt")
    b.slurm["alice"].answers.update(sinfo=sinfo("busy"), squeue=queue)
    await b.start()
    yield b
    b.stop()
    await b.rt.close()


async def _every_hour(bot: Bot) -> str:
    """`report every 1h` into Alice's DM at T0; returns the report's id."""
    done = await bot.rt.dispatch.handle(ALICE, "report every 1h", channel="D1", dm=True)
    assert isinstance(done, r.Done), done
    assert bot.next_slots() == [T0 + HOUR]
    [report] = await bot.rt.reports.store.all()
    return report.id


async def test_each_slot_is_posted_once(bot: Bot) -> None:
    report_id = await _every_hour(bot)
    assert await bot.fire(report_id, T0 + HOUR)
    assert not await bot.fire(report_id, T0 + HOUR)  # the same slot again: not news
    [posted] = bot.reports()
    assert posted.title == f"Scheduled report {report_id}" and posted.at == "2026-11-27 09:00 UTC"
    assert posted.queue is not None and posted.queue.running == 1
    assert bot.next_slots() == [T0 + 2 * HOUR]
    assert await bot.fire(report_id, T0 + 2 * HOUR)
    assert len(bot.reports()) == 2


async def test_a_restart_does_not_post_the_slot_posted_before(bot: Bot) -> None:
    report_id = await _every_hour(bot)
    assert await bot.fire(report_id, T0 + HOUR)
    await bot.restart_at(T0 + HOUR + timedelta(seconds=1))
    assert bot.next_slots() == [T0 + 2 * HOUR]
    assert not await bot.fire(report_id, T0 + HOUR)  # a late run of the old slot's job
    assert len(bot.reports()) == 1


async def test_slots_missed_while_down_are_skipped(bot: Bot) -> None:
    report_id = await _every_hour(bot)
    assert await bot.fire(report_id, T0 + HOUR)
    await bot.restart_at(T0 + 5 * HOUR + timedelta(minutes=30))
    assert bot.next_slots() == [T0 + 6 * HOUR]  # not 2h, 3h, 4h, 5h
    assert await bot.fire(report_id, T0 + 6 * HOUR)
    assert [p.at for p in bot.reports()] == ["2026-11-27 09:00 UTC", "2026-11-27 14:00 UTC"]


async def test_a_slot_slack_refused_counts_as_posted(bot: Bot) -> None:
    # At most once: the slot is recorded before its post, so a refusal is not retried.
    report_id = await _every_hour(bot)
    bot.out.refusing["post"] = 1
    assert not await bot.fire(report_id, T0 + HOUR)
    assert not await bot.fire(report_id, T0 + HOUR)
    assert bot.reports() == [] and bot.next_slots() == [T0 + 2 * HOUR]
    assert await bot.fire(report_id, T0 + 2 * HOUR)


async def test_a_stopped_report_posts_no_more(bot: Bot) -> None:
    report_id = await _every_hour(bot)
    done = await bot.rt.dispatch.handle(ALICE, f"report stop {report_id}", channel="D1", dm=True)
    assert isinstance(done, r.Done)
    assert bot.next_slots() == []
    assert not await bot.fire(report_id, T0 + HOUR)
    assert bot.reports() == []


async def _died_posting(bot: Bot, report_id: str, *, posted: bool) -> None:
    """The replica that took the first slot died while posting it (before or after the post
    left): the stored schedule still says it is being posted, since long enough."""
    report = await bot.rt.reports.store.get(report_id)
    assert report is not None
    slot = (T0 + HOUR).timestamp()
    stale = time.time() - POSTING_STALE - 1
    await bot.rt.reports.store.save(
        report.model_copy(update={"last_slot": slot, "posting_since": stale})
    )
    if posted:
        bot.out.marks.append(("D1", f"report:{report_id}:{slot:.0f}"))


async def test_a_slot_whose_replica_died_posting_it_is_posted_by_another(bot: Bot) -> None:
    report_id = await _every_hour(bot)
    await _died_posting(bot, report_id, posted=False)
    assert await bot.rt.reports.sync() == 1
    assert len(bot.reports()) == 1  # posted once, by this replica
    report = await bot.rt.reports.store.get(report_id)
    assert report is not None and report.posting_since is None
    await bot.rt.reports.sync()
    assert len(bot.reports()) == 1  # and only once


async def test_a_slot_posted_just_before_its_replica_died_is_not_posted_again(bot: Bot) -> None:
    report_id = await _every_hour(bot)
    await _died_posting(bot, report_id, posted=True)
    await bot.rt.reports.sync()
    assert bot.reports() == []  # found in the channel: not posted twice
    report = await bot.rt.reports.store.get(report_id)
    assert report is not None and report.posting_since is None


async def test_a_slot_being_posted_now_is_left_to_its_replica(bot: Bot) -> None:
    report_id = await _every_hour(bot)
    report = await bot.rt.reports.store.get(report_id)
    assert report is not None
    fresh = report.model_copy(update={"last_slot": T0.timestamp(), "posting_since": time.time()})
    await bot.rt.reports.store.save(fresh)
    await bot.rt.reports.sync()
    assert bot.reports() == []
