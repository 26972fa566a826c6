"""Benchmark: what one poll tick costs with 1,000 followed jobs (tasks of a job array on the
lab) on one cluster: Slurm commands per tick and tick duration. Goal: <= 2 commands per account.
Usage: uv run python bench/poll_cost.py [--jobs 1000]   (lab running)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bot.config import NotifyConfig
from bot.core.records import JobThread
from bot.core.slurm.client import SlurmClient
from bot.core.watches.monitor import JobMonitor
from bot.core.watches.store import WatchStore
from bot.runtime import Runtime
from bot.store.state import open_state
from bot.transport.base import CommandResult, Transport
from labkit import ALICE, Lab, Recorder


class Counting:
    """Wraps the real transport and counts every command it runs."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner
        self.description = inner.description
        self.programs: Counter[str] = Counter()

    async def run(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float | None = None
    ) -> CommandResult:
        self.programs[argv[0]] += 1
        return await self.inner.run(argv, stdin=stdin, timeout=timeout)

    async def close(self) -> None:
        await self.inner.close()


async def counted_runtime(lab: Lab) -> tuple[Runtime, SlurmClient, Counting]:
    """The bot's parts on the lab whose client for alice counts every command it runs."""
    rt = await Runtime.open(lab.config())
    _, client = rt.clusters.client(ALICE, "lab")
    counting = Counting(client.transport)
    client.transport = counting
    return rt, client, counting


async def main(n: int) -> int:
    lab = Lab.running()
    if lab is None:
        return 2
    rt, client, counting = await counted_runtime(lab)
    res = await client.transport.run(
        ["sbatch", "--parsable", "-p", "cpu", f"--array=0-{n - 1}", "--wrap", "sleep 600"]
    )
    array = res.stdout.strip()
    store = open_state(Path(tempfile.mkdtemp()) / "state")
    watches = WatchStore(store)
    try:
        ids = [f"{array}_{i}" for i in range(n)]
        states = await client.status(ids)
        docs = [
            JobThread(
                cluster="lab",
                job_id=j,
                account="alice",
                user_id=ALICE,
                channel="C1",
                card_ts=f"c{i}",
                thread_ts=f"c{i}",
                state=states[j].state,
            )
            for i, j in enumerate(ids)
        ]
        async with watches.batch():  # one write
            for d in docs:
                await watches.save_thread(d)
        monitor = JobMonitor(
            rt.access, rt.clusters, watches, Recorder(), NotifyConfig(time_limit_warning=0)
        )
        durations, commands = [], []
        for _ in range(5):
            counting.programs.clear()
            t0 = time.perf_counter()
            report = await monitor.tick("lab")
            durations.append((time.perf_counter() - t0) * 1000)
            commands.append(sum(counting.programs.values()))
        print(
            f"poll tick with {n} followed jobs (tasks of array {array}) on one cluster, "
            f"{report.accounts} account:"
        )
        print(f"  Slurm commands per tick: {commands} (last: {dict(counting.programs)})")
        print(
            f"  tick duration: median {statistics.median(durations):.0f} ms, "
            f"max {max(durations):.0f} ms over {len(durations)} ticks"
        )
        verdict = "met" if max(commands) <= 2 else "NOT met"
        print(f"  goal <= 2 commands per account per tick: {verdict}")
    finally:
        await client.transport.run(["scancel", array])
        await store.close()
        await rt.close()
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1000)
    sys.exit(asyncio.run(main(min(max(ap.parse_args().jobs, 10), 5000))))
