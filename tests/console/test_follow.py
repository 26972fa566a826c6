"""`watch job|mine|gpus` in the console: the same ticks as `bot serve`, printed by the
terminal outbox, until the job ends, a one-shot GPU watch fires, or Ctrl-C."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.console.follow import Follower
from bot.console.outbox import TerminalOutbox, plain
from bot.console.repl import run_one
from bot.core.ports import TERMINAL
from bot.core.replies import ErrorReply
from bot.runtime import Runtime
from labkit import ALICE
from scripted import Answer, Scripted, Transitions, open_runtime, scripted_accounts, sinfo

JOBS = Transitions()


class Console:
    def __init__(self, rt: Runtime, slurm: dict[str, Scripted], lines: list[str]) -> None:
        self.rt, self.slurm, self.lines = rt, slurm, lines

    def follower(self, *stages: dict[str, Answer]) -> Follower:
        """Polls as the console does; after each poll, Slurm answers as at the next stage."""
        todo: Iterator[dict[str, Answer]] = iter(stages)

        async def advance(cluster: str) -> None:
            stage = next(todo, None)
            if stage is not None:
                self.slurm["alice"].answers = dict(stage)

        ticks = [*self.rt.ticks, advance]
        return Follower(self.rt.clusters, self.rt.threads, ticks, 0.01, self.lines.append)

    @property
    def out(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    lines: list[str] = []
    slurm = scripted_accounts()
    rt = await open_runtime(tmp_path / "state", TerminalOutbox(lines.append), slurm)
    rt.dispatch.follow_in = TERMINAL
    yield Console(rt, slurm, lines)
    await rt.close()


async def test_watch_job_prints_each_transition_and_returns_at_the_end(console: Console) -> None:
    console.slurm["alice"].answers = dict(JOBS.answers("1_pending"))
    follower = console.follower(JOBS.answers("2_running"), JOBS.answers("3_done"))
    steps = JOBS.ids["steps"]
    assert await run_one(console.rt.dispatch, ALICE, f"watch job {steps}", follower=follower)
    out = console.out
    assert f"job {steps} `steps` on lab: PENDING" in out  # the card
    assert out.index(f"job {steps} on lab: RUNNING on node3") < out.index(
        f"job {steps} on lab: COMPLETED, exit code 0:0"
    )
    assert "all done" in out and "*" not in out  # the output's tail, no mrkdwn
    # what it followed ends with it: nothing is left to print at the next watch
    assert await console.rt.threads.open_threads() == []
    assert await console.rt.threads.watches() == []


async def test_watch_mine_follows_until_ctrl_c(console: Console) -> None:
    console.slurm["alice"].answers = dict(JOBS.answers("1_pending"))
    follower = console.follower(JOBS.answers("2_running"))
    polls = 0

    async def interrupt_later(cluster: str) -> None:
        nonlocal polls
        polls += 1
        if polls == 3:
            os.kill(os.getpid(), signal.SIGINT)

    follower.ticks = [*follower.ticks, interrupt_later]
    assert await run_one(console.rt.dispatch, ALICE, "watch mine", follower=follower)
    out = console.out
    assert "following here until Ctrl-C" in out and out.endswith("stopped following")
    assert f"job {JOBS.ids['steps']} on lab: RUNNING on node3" in out
    assert await console.rt.threads.watches() == []


async def test_one_shot_gpu_watch_returns_when_it_fires(console: Console) -> None:
    console.slurm["alice"].answers = {"sinfo": sinfo("busy")}
    follower = console.follower({"sinfo": sinfo("idle")})
    assert await run_one(console.rt.dispatch, ALICE, "watch gpus 6 -p gpu", follower=follower)
    assert "8 GPUs are free on gpu on lab (8/8); you asked for 6. Watch" in console.out
    assert await console.rt.threads.watches() == []


async def test_without_a_terminal_watches_are_still_refused(tmp_path: Path) -> None:
    rt = await open_runtime(tmp_path / "state", TerminalOutbox(print), scripted_accounts())
    try:
        reply = await rt.dispatch.handle(ALICE, "watch mine")
        assert isinstance(reply, ErrorReply) and "use them in Slack" in reply.message
    finally:
        await rt.close()


def test_thread_text_reads_as_plain_text() -> None:
    text = "*COMPLETED*, exit code 0:0\nlast lines of output:\n```a\nb```"
    assert plain(text) == "COMPLETED, exit code 0:0\nlast lines of output:\na\nb"
