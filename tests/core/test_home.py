"""A user's App Home data: their jobs and GPUs read together, a part Slurm did not answer
named, with their own watches and reports."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.records import Watch
from bot.core.reports.store import ReportStore
from bot.core.schedules import ReportSchedule
from labkit import ALICE, BOB
from scripted import CTLD_DOWN, DATA, OfflineBot, captured, sinfo


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[OfflineBot]:
    b = await OfflineBot.open(tmp_path)
    yield b
    await b.rt.close()


async def test_the_home_shows_the_users_jobs_gpus_watches_and_reports(bot: OfflineBot) -> None:
    bot.slurm["alice"].answers = {
        "squeue": captured(DATA / "squeue_all.txt"),
        "sinfo": sinfo("busy"),
    }
    mine = Watch(kind="mine", user_id=ALICE, account="alice", cluster="lab", channel="C1")
    theirs = mine.model_copy(update={"id": "w2", "user_id": BOB, "account": "bob"})
    for w in (mine, theirs):
        await bot.rt.threads.add_watch(w)
    report = ReportSchedule(cluster="lab", channel="C1", user_id=ALICE, every="1h", interval=3600)
    await ReportStore(bot.rt.state).add(report)
    home = await bot.rt.home.build(ALICE)
    assert (home.cluster, home.account, home.problems) == ("lab", "alice", [])
    assert home.jobs and {j.user for j in home.jobs} == {"alice"}
    assert home.snapshot is not None and home.snapshot.partitions
    assert [w.id for w in home.watches] == [mine.id]
    assert [s.id for s in home.reports] == [report.id]


async def test_a_part_slurm_did_not_answer_is_named_not_shown_empty(bot: OfflineBot) -> None:
    bot.slurm["alice"].answers = {"squeue": captured(DATA / "squeue_all.txt"), "sinfo": CTLD_DOWN}
    home = await bot.rt.home.build(ALICE)
    assert home.jobs and home.snapshot is None
    [problem] = home.problems
    assert problem.startswith("GPUs: ") and "Unable to contact slurm controller" in problem
