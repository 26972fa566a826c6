"""Benchmark: a workflow run on the lab. (a) the time from `flow run` to the last sbatch of a
DAG of N jobs (layers of 5-10, each job after 1-3 of the layer before), median of 3 runs,
and where it goes; (b) Slurm commands per workflow poll tick while runs are in Slurm, for
N = 10, 50 and 5 runs of 10. Goal: 50 jobs submitted in <= 2 s; the tick's cost does not
grow with the jobs. Every run it starts is cancelled (`flow cancel`) before it exits.
Usage: uv run python bench/flow_submit.py [--sizes 10,50,100]   (lab running)
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from poll_cost import Counting  # the same command-counting transport

from bot.core import replies as r
from bot.runtime import Runtime
from bot.store.state import open_state
from bot.transport.base import CommandResult, Transport
from labkit import ALICE, Lab, Recorder

RUNS = 3  # submissions timed per size
TIMEOUT = 480.0  # the whole benchmark, cleanup aside
LIVE_TIMEOUT = 90.0  # how long (b) follows a run of `true` jobs to its end
GOAL_S = 2.0
P = ParamSpec("P")
T = TypeVar("T")


class Timing(Counting):
    """Counts every command and keeps each sbatch's (start, end)."""

    def __init__(self, inner: Transport) -> None:
        super().__init__(inner)
        self.sbatch: list[tuple[float, float]] = []

    async def run(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float | None = None
    ) -> CommandResult:
        if argv[0] != "sbatch":
            return await super().run(argv, stdin=stdin, timeout=timeout)
        t0 = time.perf_counter()
        try:
            return await super().run(argv, stdin=stdin, timeout=timeout)
        finally:
            self.sbatch.append((t0, time.perf_counter()))


@dataclass
class Timer:
    """Total time spent in one awaited method (the store's saves)."""

    seconds: float = 0.0
    calls: int = 0

    def wrap(self, fn: Callable[P, Awaitable[T]]) -> Callable[P, Coroutine[Any, Any, T]]:
        async def timed(*args: P.args, **kwargs: P.kwargs) -> T:
            t0 = time.perf_counter()
            try:
                return await fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1

        return timed


@dataclass
class Submission:
    total: float  # `flow run` to its reply
    to_last: float  # `flow run` to the end of the last sbatch
    to_first: float  # `flow run` to the start of the first sbatch
    sbatch_wall: float  # time with at least one sbatch in flight
    sbatch_rtt: list[float] = field(default_factory=list)
    saves: float = 0.0
    save_calls: int = 0


def workflow(name: str, n: int, root_command: str = "true", seed: int = 1) -> tuple[str, int]:
    """A DAG of n jobs in layers of 5-10, each after 1-3 jobs of the layer before; its YAML
    and how many layers it has."""
    rng = random.Random(seed)
    layers: list[list[str]] = []
    made = 0
    while made < n:
        width = min(rng.randint(5, 10), n - made)
        layers.append([f"j{made + i:03d}" for i in range(width)])
        made += width
    lines = [f"name: {name}", "jobs:"]
    for depth, layer in enumerate(layers):
        for job in layer:
            command = root_command if depth == 0 else "true"
            lines += [
                f"  - name: {job}",
                f'    command: "{command}"',
                "    partition: cpu",
                '    time_limit: "00:01:00"',
            ]
            if depth:
                before = layers[depth - 1]
                parents = rng.sample(before, min(len(before), rng.randint(1, 3)))
                lines.append(f"    depends_on: [{', '.join(sorted(parents))}]")
    return "\n".join(lines) + "\n", len(layers)


class Bench:
    def __init__(self, rt: Runtime, timing: Timing) -> None:
        self.rt = rt
        self.timing = timing
        self.saves = Timer()
        store = rt.runs  # the same instance the commands and the monitor use
        store.save = self.saves.wrap(store.save)  # type: ignore[method-assign]
        store.add = self.saves.wrap(store.add)  # type: ignore[method-assign]

    async def start(self, yaml_text: str) -> tuple[str, Submission]:
        self.timing.sbatch.clear()
        self.saves.seconds, self.saves.calls = 0.0, 0
        t0 = time.perf_counter()
        reply = await self.rt.dispatch.handle(
            ALICE, f"flow run\n```yaml\n{yaml_text}```", channel="C1"
        )
        total = time.perf_counter() - t0
        if not (isinstance(reply, r.Done) and "started run" in reply.text):
            raise RuntimeError(f"flow run did not start: {reply!r}")
        spans = sorted(self.timing.sbatch)
        wall, reach = 0.0, t0
        for s, e in spans:  # the union of the sbatch intervals
            wall += max(0.0, e - max(s, reach))
            reach = max(reach, e)
        return reply.text.split()[2], Submission(
            total=total,
            to_last=max(e for _, e in spans) - t0,
            to_first=spans[0][0] - t0,
            sbatch_wall=wall,
            sbatch_rtt=[e - s for s, e in spans],
            saves=self.saves.seconds,
            save_calls=self.saves.calls,
        )

    async def cancel(self, run_id: str) -> None:
        run = await self.rt.runs.get(run_id)
        if run is not None and run.active:
            reply = await self.rt.dispatch.handle(ALICE, f"flow cancel {run_id}", channel="C1")
            if not isinstance(reply, r.Done):
                print(f"  could not cancel {run_id}: {reply!r}", file=sys.stderr)

    async def ticks(self, count: int) -> list[tuple[int, dict[str, int]]]:
        """Slurm commands of each of `count` workflow poll ticks, total and by program."""
        seen = []
        for _ in range(count):
            self.timing.programs.clear()
            await self.rt.flow_monitor.tick("lab")
            seen.append((sum(self.timing.programs.values()), dict(self.timing.programs)))
        return seen


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f}"


async def submissions(bench: Bench, sizes: list[int]) -> dict[int, float]:
    print(f"(a) `flow run` of an N-job DAG to its last sbatch, median of {RUNS} runs (ms)")
    print(
        f"  {'N':>4} {'layers':>6} {'to last sbatch':>14} {'reply':>6} {'1st sbatch':>10} "
        f"{'in sbatch':>9} {'sbatch rtt p50/max':>18} {'saves':>11}"
    )
    medians: dict[int, float] = {}
    for n in sizes:
        text, layers = workflow(f"bench{n}", n)
        got: list[Submission] = []
        for _ in range(RUNS):
            run_id, sub = await bench.start(text)
            await bench.cancel(run_id)  # nothing of it left running or queued
            got.append(sub)
        med = sorted(got, key=lambda s: s.to_last)[RUNS // 2]
        medians[n] = med.to_last
        rtt = med.sbatch_rtt
        print(
            f"  {n:>4} {layers:>6} {_ms(med.to_last):>14} {_ms(med.total):>6} "
            f"{_ms(med.to_first):>10} {_ms(med.sbatch_wall):>9} "
            f"{_ms(statistics.median(rtt)) + '/' + _ms(max(rtt)):>18} "
            f"{_ms(med.saves) + f' ({med.save_calls})':>11}"
        )
    return medians


async def polling(bench: Bench) -> None:
    print("(b) Slurm commands per `flow_monitor.tick('lab')` while runs are in Slurm")
    print("  steady (roots `sleep 300`, the rest pending on them), 6 ticks each:")
    for label, runs, n in [("1 run of 10", 1, 10), ("1 run of 50", 1, 50), ("5 runs of 10", 5, 10)]:
        ids = [
            (await bench.start(workflow(f"poll{n}x{i}", n, "sleep 300", seed=i + 2)[0]))[0]
            for i in range(runs)
        ]
        try:
            seen = await bench.ticks(6)
        finally:
            for run_id in ids:
                await bench.cancel(run_id)
        print(f"    {label:<13} ({runs * n:>2} jobs): {[t for t, _ in seen]}  last: {seen[-1][1]}")

    print(f"  live (a run of 50 `true` jobs followed to its end, at most {LIVE_TIMEOUT:.0f} s):")
    run_id, _ = await bench.start(workflow("live50", 50)[0])
    deadline = time.monotonic() + LIVE_TIMEOUT
    rows: list[tuple[int, int]] = []  # (commands, jobs that ended) per tick
    try:
        ended_before = 0
        while time.monotonic() < deadline:
            ((total, _),) = await bench.ticks(1)
            run = await bench.rt.runs.get(run_id)
            assert run is not None
            ended = sum(1 for _, s in run.steps() if s.settled)
            rows.append((total, ended - ended_before))
            ended_before = ended
            if not run.active:
                break
            await asyncio.sleep(1.0)
    finally:
        await bench.cancel(run_id)
    run = await bench.rt.runs.get(run_id)
    outcome = run.outcome if run is not None else "?"
    print(f"    {len(rows)} ticks, run {outcome}; per tick (commands / jobs that ended):")
    print("    " + " ".join(f"{t}/{e}" for t, e in rows))
    quiet = sorted({t for t, e in rows if not e})
    busy = [(t, e) for t, e in rows if e]
    extra = sum(t - 2 for t, _ in busy)
    print(
        f"    ticks with no end: {quiet} command(s); ticks with ends: squeue + sacct and "
        f"{extra} more for the {sum(e for _, e in busy)} jobs that ended (their exit summaries)"
    )


async def main(sizes: list[int]) -> int:
    lab = Lab.running()
    if lab is None:
        return 2
    rt = await Runtime.open(
        lab.config(), open_state(Path(tempfile.mkdtemp()) / "state"), Recorder()
    )
    _, client = rt.clusters.client(ALICE, "lab")
    timing = Timing(client.transport)
    client.transport = timing
    bench = Bench(rt, timing)
    try:
        await client.partitions()  # the connection and sinfo's cache, as a running bot has them
        medians = await asyncio.wait_for(_both(bench, sizes), TIMEOUT)
        if 50 in medians:
            verdict = "met" if medians[50] <= GOAL_S else "NOT met"
            print(f"goal: 50 jobs submitted in <= {GOAL_S:.0f} s: {verdict} ({medians[50]:.2f} s)")
    finally:
        for run in await rt.runs.active("lab"):  # this script's own store: all its runs
            await bench.cancel(run.id)
        await rt.close()
    return 0


async def _both(bench: Bench, sizes: list[int]) -> dict[int, float]:
    medians = await submissions(bench, sizes)
    await polling(bench)
    return medians


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,50,100")
    given = [min(max(int(x), 1), 200) for x in ap.parse_args().sizes.split(",")]
    sys.exit(asyncio.run(main(given)))
