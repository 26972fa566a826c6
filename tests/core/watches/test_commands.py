"""`watch job`, `watch mine`, `unwatch` through the dispatch, with scripted Slurm answers and a
real state file: who may follow or stop following what, and where threads go."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core import replies as r
from bot.core.records import JobThread, Watch
from bot.core.watches.store import WatchStore
from bot.runtime import Runtime
from bot.store.state import open_state
from labkit import ADMIN, ALICE, BOB, Lab, Recorder
from scripted import Answer, Scripted, ScriptedPool

CTLD_DOWN = (1, "", "squeue: error: Unable to contact slurm controller (connect failure)\n")
DB_DOWN = (1, "", "sacct: error: Problem talking to the database: Connection refused\n")


def squeue_row(job_id: str, user: str, state: str = "RUNNING") -> str:
    return (
        f"{job_id}|{job_id}|N/A|{state}|{user}|cpu|1|node3|cpu=1|0:05|UNLIMITED|"
        "2026-11-28T17:23:22|2026-11-28T17:23:22|None|0|train\n"
    )


@dataclass
class Bot:
    rt: Runtime
    watches: WatchStore
    notifier: Recorder
    slurm: dict[str, Scripted]  # per cluster account

    async def say(self, user: str, text: str, channel: str = "C1") -> str:
        reply = await self.rt.dispatch.handle(user, text, channel=channel)
        assert isinstance(reply, r.Done | r.ErrorReply), reply
        return reply.text if isinstance(reply, r.Done) else f"error: {reply.message}"

    def answer(self, account: str, **answers: Answer) -> None:
        self.slurm[account].answers.update(answers)

    async def alices_thread(self, job_id: str = "5000") -> JobThread:
        thread = JobThread(
            cluster="lab", job_id=job_id, account="alice", user_id=ALICE, channel="C1", card_ts="1"
        )
        await self.watches.save_thread(thread)
        return thread

    async def is_open(self, job_id: str = "5000") -> bool:
        thread = await self.watches.thread("lab", job_id)
        return thread is not None and not thread.done


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    slurm = {a: Scripted({}) for a in ("alice", "bob", "hpcuser")}
    notifier = Recorder()
    store = open_state(tmp_path / "state")
    rt = await Runtime.open(Lab.from_env().config(), store, notifier, pool=ScriptedPool(slurm))
    yield Bot(rt, rt.threads, notifier, slurm)
    await rt.close()


# ---------------------------------------------------------------------- unwatch (item 1)
async def test_unwatch_job_id_of_another_user_keeps_their_thread(bot: Bot) -> None:
    await bot.alices_thread()
    said = await bot.say(BOB, "unwatch 5000")
    assert said == (
        "error: job 5000 on lab is followed by someone else; "
        "you can stop following only your own jobs (`watches` lists yours)"
    )
    assert await bot.is_open()
    assert (
        await bot.say(ALICE, "unwatch 5000") == "stopped 0 watches; job 5000 is no longer followed"
    )
    assert not await bot.is_open()


async def test_admin_may_stop_following_anyones_job(bot: Bot) -> None:
    await bot.alices_thread()
    assert "job 5000 is no longer followed" in await bot.say(ADMIN, "unwatch 5000")
    assert not await bot.is_open()


async def test_unwatch_own_watch_on_another_users_job_leaves_their_thread(bot: Bot) -> None:
    await bot.alices_thread()
    watch = Watch(
        kind="job", user_id=BOB, account="bob", cluster="lab", channel="C2", job_id="5000"
    )
    for target in (watch.id, "5000"):
        await bot.watches.add_watch(watch)
        said = await bot.say(BOB, f"unwatch {target}")
        assert said == "stopped 1 watch; job 5000 stays followed in its owner's thread"
        assert await bot.watches.watches(BOB) == [] and await bot.is_open()


# ---------------------------------------------------------------------- watch job (item 8)
async def test_watch_job_refuses_while_the_owner_cannot_be_read(bot: Bot) -> None:
    bot.answer("bob", squeue=CTLD_DOWN, sacct=DB_DOWN)
    said = await bot.say(BOB, "watch job 5000")
    assert said.startswith("error: cannot check who owns job 5000 right now (slurmctld: ")
    assert "Problem talking to the database" in said
    assert said.endswith("; try again when the cluster answers")
    assert bot.notifier.cards == [] and await bot.watches.thread("lab", "5000") is None
    # An admin may follow any job, so the owner does not matter.
    bot.answer("hpcuser", squeue=CTLD_DOWN, sacct=DB_DOWN)
    assert (await bot.say(ADMIN, "watch job 5000")).startswith("watching job 5000 on lab")


async def test_watch_job_refuses_a_job_with_no_user_recorded(bot: Bot) -> None:
    bot.answer("bob", squeue=(0, squeue_row("5000", ""), ""))
    said = await bot.say(BOB, "watch job 5000")
    assert said == (
        "error: cannot check who owns job 5000 right now (Slurm has no user recorded for it); "
        "try again when the cluster answers"
    )
    assert bot.notifier.cards == []


async def test_watch_job_of_another_user_is_still_refused_and_own_job_followed(bot: Bot) -> None:
    bot.answer("bob", squeue=(0, squeue_row("5000", "alice"), ""))
    said = await bot.say(BOB, "watch job 5000")
    assert said == "error: job 5000 belongs to alice; you can watch your own jobs"
    bot.answer("alice", squeue=(0, squeue_row("5000", "alice"), ""))
    assert (await bot.say(ALICE, "watch job 5000")).startswith("watching job 5000 on lab")
    assert bot.notifier.cards == [("C1", "5000")]


# ---------------------------------------------------------------------- watch mine (item 14)
async def test_second_watch_mine_in_another_channel_moves_it(bot: Bot) -> None:
    bot.answer("alice", squeue=(0, squeue_row("4000", "alice", "COMPLETED"), ""))
    first = await bot.say(ALICE, "watch mine", channel="C1")
    assert first.startswith("watching all jobs of alice on lab, new ones too (watch w")
    moved = await bot.say(ALICE, "watch mine", channel="C2")
    assert moved == (
        "moved your `watch mine` on lab from <#C1> to here: new jobs get their threads here "
        "(threads already open stay where they are)"
    )
    again = await bot.say(ALICE, "watch mine", channel="C2")
    assert again.startswith("already watching all jobs of alice on lab here (watch w")
    [watch] = await bot.watches.watches(ALICE)
    assert watch.channel == "C2" and watch.baseline == ["4000"]
    # The next job of hers gets its thread in the channel the watch moved to.
    bot.answer(
        "alice",
        squeue=(0, squeue_row("4000", "alice", "COMPLETED") + squeue_row("4001", "alice"), ""),
    )
    await bot.rt.monitor.tick("lab")
    assert bot.notifier.cards == [("C2", "4001")]
