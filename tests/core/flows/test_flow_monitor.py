"""What a run's thread gets, decided on a small simulated Slurm (tests/flowsim.py): starts and
ends once each, a failed branch not run and cancelled, retries rewiring their dependants,
sweep cells at most max_parallel in flight, and exactly once across a crash."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import pytest
from flowsim import SimSlurm

from bot.core.clusters import Clusters
from bot.core.flowruns import Dep, FlowRun, PendingPost
from bot.core.flows.monitor import FlowMonitor, Held
from bot.core.flows.store import FlowStore
from bot.core.ports import ThreadPost
from bot.core.slurm.client import SlurmClient
from bot.store.state import open_state
from labkit import Recorder, flow_run, flow_step


@dataclass
class ReadableRecorder(Recorder):
    """A Recorder whose run threads can be read back, as Slack's can."""

    seqs: set[tuple[str, int]] = field(default_factory=set)

    async def post_in_run(self, run: FlowRun, post: ThreadPost) -> None:
        await super().post_in_run(run, post)
        if post.seq is not None:
            self.seqs.add((run.id, post.seq))

    async def posted_in_run(self, run: FlowRun, seq: int) -> bool:
        return (run.id, seq) in self.seqs


class Bot:
    def __init__(self, out: Recorder | None = None) -> None:
        self.sim = SimSlurm()
        self.client = SlurmClient(self.sim.transport(), "lab")
        self.store = FlowStore(open_state(None))
        self.out = out or Recorder()
        self.monitor = FlowMonitor(cast(Clusters, None), self.store, self.out)

    async def start(self, run: FlowRun) -> FlowRun:
        run = await self.store.add(run)
        run = run.model_copy(update={"parent_ts": await self.out.post_run(run)})
        return await self.monitor.schedule(self.client, run)

    async def step(self, run: FlowRun) -> FlowRun:
        status = (await self.client.survey(None, run.live_ids())).status
        return await self.monitor.advance(self.client, run, status)

    def texts(self, run: FlowRun) -> list[str]:
        return self.out.run_texts(run.id)


def diamond() -> FlowRun:
    return flow_run(
        [flow_step("a"), flow_step("b", "a"), flow_step("c", "a"), flow_step("d", "b", "c")]
    )


async def test_a_diamond_posts_each_start_and_end_once_and_a_summary() -> None:
    bot = Bot()
    run = await bot.start(diamond())
    bot.sim.set("diamond.a", "RUNNING")
    run = await bot.step(run)
    run = await bot.step(run)  # nothing changed: nothing posted
    bot.sim.set("diamond.a", "COMPLETED")
    for name in ("b", "c"):
        bot.sim.set(f"diamond.{name}", "COMPLETED")
    run = await bot.step(run)
    bot.sim.set("diamond.d", "COMPLETED")
    run = await bot.step(run)
    texts = bot.texts(run)
    assert sum("`a`" in t and "RUNNING" in t for t in texts) == 1
    assert sum("`a`" in t and "COMPLETED" in t for t in texts) == 1
    assert sum("COMPLETED" in t for t in texts) == 5  # 4 jobs + the summary
    assert "run `diamond` completed" in texts[-1] and not run.active
    assert run.outcome == "completed" and (await bot.store.get(run.id)) == run
    assert bot.out.run_updates  # the parent table followed along


async def test_an_afternotok_branch_runs_when_its_parent_fails_and_afterok_is_cancelled() -> None:
    bot = Bot()
    branch = [
        flow_step("train"),
        flow_step("evaluate", "train"),
        flow_step("alert", deps=[Dep(kind="afternotok", on="train")]),
    ]
    run = await bot.start(flow_run(branch))
    bot.sim.set("diamond.train", "FAILED", exit_code="1:0")
    bot.sim.set("diamond.evaluate", "PENDING", reason="DependencyNeverSatisfied")
    run = await bot.step(run)
    evaluate = bot.sim.last("diamond.evaluate")
    assert (evaluate.job_id,) in bot.sim.scancels and evaluate.state == "CANCELLED"
    bot.sim.set("diamond.alert", "COMPLETED")
    run = await bot.step(run)
    texts = bot.texts(run)
    assert any("not run, a dependency failed: `evaluate`" in t for t in texts)
    assert "run `diamond` failed" in texts[-1] and "did not run: `evaluate`" in texts[-1]
    assert "`train` FAILED (exit 1:0)" in texts[-1]


async def test_a_retried_job_is_resubmitted_and_its_dependant_rewired() -> None:
    bot = Bot()
    run = await bot.start(flow_run([flow_step("a", retry=1), flow_step("b", "a")]))
    first = bot.sim.last("diamond.a").job_id
    bot.sim.set("diamond.a", "FAILED", exit_code="1:0")
    bot.sim.set("diamond.b", "PENDING", reason="DependencyNeverSatisfied")
    run = await bot.step(run)  # the failure, and a retry due now
    assert any("retrying now (attempt 2 of 2)" in t for t in bot.texts(run))
    run = await bot.step(run)  # the retry goes out
    second = bot.sim.last("diamond.a").job_id
    assert second != first and bot.sim.updates == [
        (bot.sim.last("diamond.b").job_id, f"afterok:{second}")
    ]
    assert any("retry 1 of 1 submitted as job" in t and "`b` now wait" in t for t in bot.texts(run))
    bot.sim.set("diamond.a", "COMPLETED")
    bot.sim.set("diamond.b", "COMPLETED")
    run = await bot.step(run)
    assert run.outcome == "completed" and "retries: 1" in bot.texts(run)[-1]
    assert run.steps()[0][1].job_ids == [first, second]


async def test_a_sweep_keeps_at_most_max_parallel_cells_in_flight() -> None:
    bot = Bot()
    cells = [[flow_step("t", slurm_name=f"sw.c{i}.t")] for i in range(3)]
    run = await bot.start(flow_run(*cells, max_parallel=2))
    assert {j.name for j in bot.sim.jobs.values()} == {"sw.c0.t", "sw.c1.t"}
    bot.sim.set("sw.c0.t", "COMPLETED")
    run = await bot.step(run)
    assert {j.name for j in bot.sim.jobs.values()} == {"sw.c0.t", "sw.c1.t", "sw.c2.t"}
    for i in (1, 2):
        bot.sim.set(f"sw.c{i}.t", "COMPLETED")
    run = await bot.step(run)
    assert run.outcome == "completed"


async def test_fail_fast_cancels_the_rest_at_the_first_failed_cell() -> None:
    bot = Bot()
    cells = [[flow_step("t", slurm_name=f"ff.c{i}.t")] for i in range(3)]
    run = await bot.start(flow_run(*cells, max_parallel=2, fail_fast=True))
    bot.sim.set("ff.c0.t", "FAILED", exit_code="1:0")
    run = await bot.step(run)
    assert bot.sim.last("ff.c1.t").state == "CANCELLED" and not bot.sim.named("ff.c2.t")
    assert run.outcome == "failed" and "fail_fast: cell 0 failed" in bot.texts(run)[-1]


async def test_a_refused_job_cancels_what_was_submitted_and_ends_the_run() -> None:
    bot = Bot()
    bot.sim.refuse["diamond.b"] = "Invalid partition name specified"
    run = await bot.start(diamond())
    assert run.outcome == "failed" and not run.active
    assert bot.sim.last("diamond.a").state == "CANCELLED"
    assert (
        "job `b` was refused: " in bot.texts(run)[-1]
        and "cancelled the 2 job(s)" in bot.texts(run)[-1]
    )


async def test_cancel_stops_every_job_with_one_scancel() -> None:
    bot = Bot()
    run = await bot.start(diamond())
    run, stopped = await bot.monitor.cancel(bot.client, run, by="U0ALICE")
    assert stopped == 4 and len(bot.sim.scancels) == 1
    assert all(j.state == "CANCELLED" for j in bot.sim.jobs.values())
    assert run.outcome == "cancelled" and "cancelled by <@U0ALICE>" in bot.texts(run)[-1]


async def test_a_post_refused_goes_out_once_on_the_next_tick() -> None:
    bot = Bot()
    run = await bot.start(flow_run([flow_step("a")]))
    bot.sim.set("diamond.a", "RUNNING")
    bot.out.refusing["post_in_run"] = 1
    with pytest.raises(Held):  # refused: saved as in flight, nothing more this tick
        await bot.step(run)
    stored = await bot.store.get(run.id)
    assert stored is not None and stored.in_flight is not None and bot.texts(run) == []
    run = await bot.step(stored)
    run = await bot.step(run)
    assert sum("RUNNING" in t for t in bot.texts(run)) == 1


async def test_after_a_crash_a_post_found_in_the_thread_is_not_posted_again() -> None:
    bot = Bot(ReadableRecorder())
    run = await bot.start(flow_run([flow_step("a")]))
    bot.sim.set("diamond.a", "RUNNING")
    run = await bot.step(run)
    # The bot died after the post left but before it heard back: the record says in flight.
    stored = await bot.store.get(run.id)
    assert stored is not None
    pending = stored.model_copy(
        update={"in_flight": PendingPost(seq=run.seq, text=bot.texts(run)[-1])}
    )
    await bot.store.save(pending, now=True)
    restarted = FlowMonitor(cast(Clusters, None), bot.store, bot.out)
    status = (await bot.client.survey(None, pending.live_ids())).status
    run = await restarted.advance(bot.client, pending, status)
    assert run.in_flight is None and sum("RUNNING" in t for t in bot.texts(run)) == 1


async def test_a_cell_half_submitted_when_the_bot_died_is_completed_not_doubled() -> None:
    bot = Bot()
    run = await bot.store.add(diamond())
    run = run.model_copy(update={"parent_ts": await bot.out.post_run(run)})
    full = await bot.monitor.submit(bot.client, run, 0)  # all four reach Slurm...
    d = bot.sim.jobs.pop(full.cells[0].steps[3].job_id or "")  # ...but d never did
    bot.sim.next_id = int(d.job_id) + 1
    died = run.model_copy(
        update={"cells": [run.cells[0].model_copy(update={"phase": "submitting"})]}
    )  # the record as saved before the first sbatch
    run = await bot.step(died)
    assert run.cells[0].phase == "submitted"
    assert sorted(j.name for j in bot.sim.jobs.values()) == [f"diamond.{n}" for n in "abcd"]
    by_name = {s.name: s.job_id for s in run.cells[0].steps}
    assert by_name["a"] == full.cells[0].steps[0].job_id  # found again, not submitted twice
    assert bot.sim.last("diamond.d").dependency == f"afterok:{by_name['b']}:{by_name['c']}"
