"""JobMonitor's poll ticks without the lab: real captured Slurm output (tests/data/transitions)
replayed stage by stage. Each state change is posted once, repeated ticks and restarts post
nothing new, a refused post goes out next tick, nothing is said while Slurm cannot be read,
and each outage is announced once, only where its account's jobs are followed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.models import JobState
from bot.core.slurm import client as slurm_client
from bot.errors import UnreachableError
from labkit import ALICE, BOB
from scripted import CTLD_DOWN, DB_DOWN, OfflineBot, Transitions

JOBS = Transitions()
STEPS, CRASH, SWEEP = (JOBS.ids[n] for n in ("steps", "crash", "sweep"))
OUTAGE = "cluster lab cannot be reached"
BACK = "cluster lab answers again; catching up on what changed."


class Bot(OfflineBot):
    async def follow(self, job_id: str, user: str = ALICE, channel: str = "C1") -> None:
        await self.rt.monitor.follow(
            cluster="lab", job_id=job_id, user_id=user, channel=channel, card_ts=f"c{job_id}"
        )

    def stage(self, stage: str, *accounts: str) -> None:
        for account in accounts or ("alice",):
            self.slurm[account].answers = dict(JOBS.answers(stage))

    def down(self, *accounts: str) -> None:
        """slurmctld and slurmdbd both down: every state UNKNOWN."""
        for account in accounts or ("alice",):
            self.slurm[account].answers = {"squeue": CTLD_DOWN, "sacct": DB_DOWN}

    async def tick(self, times: int = 1) -> None:
        for _ in range(times):
            await self.rt.monitor.tick("lab")

    def notices(self, text: str) -> list[str]:
        return sorted(ch for ch, t in self.out.notices if t.startswith(text))


@pytest.fixture
async def bot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bot]:
    # Ask slurmctld again on every tick: the tests' ticks are milliseconds apart.
    monkeypatch.setattr(slurm_client, "CTLD_RECHECK_SECONDS", 0.0)
    b = await Bot.open(tmp_path)
    yield b
    await b.rt.close()


async def test_each_state_change_is_posted_once_however_often_the_tick_runs(bot: Bot) -> None:
    for job in (STEPS, CRASH, SWEEP):
        await bot.follow(job)
    for stage in Transitions.STAGES:
        bot.stage(stage)
        await bot.tick(3)
    steps, crash, sweep = (bot.out.texts(j) for j in (STEPS, CRASH, SWEEP))
    assert steps[:2] == ["PENDING: waiting for BeginTime", "RUNNING on node3 after 6 s in queue"]
    assert len(steps) == 3 and steps[2].startswith("*COMPLETED*, exit code 0:0\nelapsed 00:00:08")
    assert "all done" in steps[2]  # the job's last output lines
    assert crash[0] == "RUNNING on node3 after 0 s in queue"
    assert len(crash) == 2 and crash[1].startswith("*FAILED*, exit code 3:0")
    assert "trying" in crash[1]
    assert len(sweep) == 3 and sweep[0] == "PENDING (array tasks: PENDING 3)"
    assert sweep[1].startswith("RUNNING (array tasks: COMPLETED 1, ")
    assert sweep[2] == "*COMPLETED*\narray tasks: COMPLETED 3"
    assert bot.out.notices == [] and bot.out.cards == []
    assert await bot.rt.threads.open_threads("lab") == []
    # One squeue per tick for the account, whatever the number of jobs followed; none once
    # every job has ended (the last two ticks of the last stage).
    assert bot.slurm["alice"].count("squeue") == 7


async def test_an_array_is_posted_on_its_state_changes_not_on_each_task(bot: Bot) -> None:
    await bot.follow(SWEEP)
    bot.stage("1_pending")
    await bot.tick()
    bot.stage("2_running")
    await bot.tick(2)
    assert bot.out.updates == [(SWEEP, JobState.PENDING), (SWEEP, JobState.RUNNING)]
    assert len(bot.out.texts(SWEEP)) == 2


async def test_an_arrays_tally_counts_each_task_once(bot: Bot) -> None:
    await bot.follow(SWEEP)
    bot.stage("2_running")
    await bot.tick()
    thread = await bot.rt.threads.thread("lab", SWEEP)
    assert thread is not None and thread.tasks == {"COMPLETED": 1, "PENDING": 1, "RUNNING": 1}


async def test_a_refused_post_is_posted_on_the_next_tick_once(bot: Bot) -> None:
    await bot.follow(STEPS)
    bot.stage("1_pending")
    bot.out.refusing["post_reply"] = 1
    await bot.tick()
    thread = await bot.rt.threads.thread("lab", STEPS)
    assert bot.out.texts(STEPS) == []
    assert thread is not None and thread.state is None and thread.seq == 0
    assert thread.in_flight is None
    await bot.tick(2)
    assert bot.out.texts(STEPS) == ["PENDING: waiting for BeginTime"]


async def test_a_restarted_bot_posts_only_what_changed_since(bot: Bot) -> None:
    await bot.follow(STEPS)
    bot.stage("1_pending")
    await bot.tick()
    await bot.restart()
    bot.stage("1_pending")
    await bot.tick()
    assert bot.out.texts(STEPS) == ["PENDING: waiting for BeginTime"]
    bot.stage("2_running")
    await bot.tick(2)
    assert len(bot.out.texts(STEPS)) == 2
    thread = await bot.rt.threads.thread("lab", STEPS)
    assert thread is not None and thread.seq == 2 and thread.state == JobState.RUNNING


@pytest.mark.parametrize("accounting", ["down", "stale"])
async def test_nothing_is_posted_while_slurm_cannot_say(bot: Bot, accounting: str) -> None:
    for job in (STEPS, CRASH):
        await bot.follow(job)
    bot.stage("1_pending")
    await bot.tick()
    before = (list(bot.out.replies), list(bot.out.updates))
    # slurmctld down; accounting down too, or answering with what it knew (RUNNING, PENDING),
    # which may be stale by now: both are UNKNOWN, and UNKNOWN is never posted.
    sacct = DB_DOWN if accounting == "down" else JOBS.answers("1_pending")["sacct"]
    bot.slurm["alice"].answers = {"squeue": CTLD_DOWN, "sacct": sacct}
    await bot.tick(3)
    assert (bot.out.replies, bot.out.updates) == before
    thread = await bot.rt.threads.thread("lab", STEPS)
    assert thread is not None and thread.state == JobState.PENDING and not thread.done
    # Slurm answers again after both ended: the end is posted, what was missed is not made up.
    bot.stage("3_done")
    await bot.tick()
    [pending, done] = bot.out.texts(STEPS)
    assert pending.startswith("PENDING") and done.startswith("*COMPLETED*")
    assert bot.out.texts(CRASH)[-1].startswith("*FAILED*, exit code 3:0")


async def test_one_notice_per_outage_and_one_when_it_answers_again(bot: Bot) -> None:
    await bot.follow(STEPS)
    await bot.follow(CRASH)  # a second job in the same channel: still one notice there
    await bot.follow(SWEEP, channel="C3")
    bot.stage("1_pending")
    await bot.tick()
    for _ in range(2):  # two outages, each announced once
        bot.down()
        await bot.tick(3)
        bot.stage("2_running")
        await bot.tick(2)
    assert bot.notices(OUTAGE) == ["C1", "C1", "C3", "C3"]
    assert bot.notices(BACK) == ["C1", "C1", "C3", "C3"]
    assert len(bot.out.notices) == 8
    [(_, first), *_] = bot.out.notices
    assert first == (
        "cluster lab cannot be reached: slurmctld: squeue: error: Unable to contact slurm "
        "controller (connect failure); accounting: sacct: error: Problem talking to the database: "
        "Connection refused. Job states stay as they were; updates resume when it answers again."
    )
    assert bot.out.texts(STEPS)[-1].startswith("RUNNING")  # caught up after the first outage


async def test_one_accounts_outage_is_news_only_in_its_own_channels(bot: Bot) -> None:
    await bot.follow(STEPS, ALICE, "C1")
    await bot.follow(CRASH, BOB, "C2")
    bot.stage("1_pending", "alice", "bob")
    await bot.tick()
    broken = UnreachableError("alice's key was refused by 127.0.0.1:2222")
    bot.slurm["alice"].answers = {"squeue": broken, "sacct": broken}
    bot.stage("2_running", "bob")
    await bot.tick(2)
    assert bot.out.notices == [
        (
            "C1",
            "the jobs of alice on lab cannot be read: alice's key was refused by 127.0.0.1:2222. "
            "Job states stay as they were; updates resume when it answers again.",
        )
    ]
    assert bot.out.texts(CRASH)[-1].startswith("*FAILED*")  # bob's jobs go on as usual
    bot.stage("2_running", "alice")
    await bot.tick()
    assert bot.out.notices[1:] == [("C1", BACK)]
    # Every account failing alike: the cluster itself is down, said in every channel.
    await bot.follow(SWEEP, BOB, "C2")
    bot.down("alice", "bob")
    await bot.tick(2)
    assert bot.notices(OUTAGE) == ["C1", "C2"]
