"""One cluster report, taken as the caller's account and stamped in the configured time zone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.core import commands as c
from bot.core.reports.build import ReportBuilder
from bot.errors import UsageError
from labkit import ALICE
from scripted import CTLD_DOWN, DATA, OfflineBot, captured, sinfo

AT = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[OfflineBot]:
    b = await OfflineBot.open(tmp_path)
    b.slurm["alice"].answers = {
        "sinfo": sinfo("busy"),
        "squeue": captured(DATA / "squeue_queue.txt"),
    }
    yield b
    await b.rt.close()


def _builder(bot: OfflineBot, timezone: str) -> ReportBuilder:
    return ReportBuilder(bot.rt.access, bot.rt.clusters, timezone)


async def test_a_report_is_stamped_in_the_configured_time_zone(bot: OfflineBot) -> None:
    opts = c.ReportNow(include=("resources", "jobs", "user"))
    report = await _builder(bot, "Asia/Tokyo").build(ALICE, None, opts, title="Daily", at=AT)
    assert (report.cluster, report.title, report.at) == ("lab", "Daily", "2026-11-27 17:00 JST")
    assert report.account == "alice" and report.user_jobs and report.partitions
    assert report.problems == []


async def test_without_its_jobs_part_a_report_names_no_account(bot: OfflineBot) -> None:
    report = await _builder(bot, "UTC").build(ALICE, "lab", c.ReportNow(), at=AT)
    assert report.account is None and report.queue is not None
    bot.slurm["alice"].answers["squeue"] = CTLD_DOWN
    down = await _builder(bot, "UTC").build(ALICE, "lab", c.ReportNow(include=("user",)), at=AT)
    assert down.account is None and down.problems[0].startswith("queue: ")


async def test_an_unknown_partition_is_refused_before_reading_anything(bot: OfflineBot) -> None:
    with pytest.raises(UsageError, match="unknown partition `big`"):
        await _builder(bot, "UTC").build(ALICE, None, c.ReportNow(partition="big"))
    assert bot.slurm["alice"].count("squeue") == 0
