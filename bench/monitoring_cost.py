"""Benchmark: what GPU watches and cluster reports cost on the lab. Slurm commands and
duration of one GPU-watch poll with 1,000 watches on one cluster, and of `report now`
(all sections) as seen by the user. Usage: uv run python bench/monitoring_cost.py (lab running)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from poll_cost import counted_runtime  # the same command-counting transport

from bot.config import NotifyConfig
from bot.core import replies as r
from bot.core.records import Watch
from bot.core.watches.gpus import GpuWatcher
from bot.core.watches.store import WatchStore
from bot.store.state import open_state
from labkit import ALICE, Lab

WATCHES = 1000
ROUNDS = 20


class Quiet:
    async def post(self, channel: str, reply: r.Reply, mark: str | None = None) -> str:
        return "ts"

    async def posted(self, channel: str, mark: str) -> bool:
        return False


def _summary(ms: list[float]) -> str:
    return f"median {statistics.median(ms):.0f} ms, max {max(ms):.0f} ms over {len(ms)} runs"


async def main() -> int:
    lab = Lab.running()
    if lab is None:
        return 2
    rt, _, counting = await counted_runtime(lab)
    store = open_state(Path(tempfile.mkdtemp()) / "state")
    try:
        watches = WatchStore(store)
        # Never satisfied (more GPUs than the lab has), so every poll checks all of them.
        docs = [
            Watch(
                kind="gpus", user_id=ALICE, account="alice", cluster="lab", channel="C1", gpus=99
            ).model_dump(mode="json")
            for _ in range(WATCHES)
        ]
        await store.watches.apply(docs, [])  # one write
        watcher = GpuWatcher(rt.access, rt.clusters, watches, Quiet(), NotifyConfig())
        ticks, per_tick = [], []
        for _ in range(ROUNDS):
            counting.programs.clear()
            t0 = time.perf_counter()
            await watcher.tick("lab")
            ticks.append((time.perf_counter() - t0) * 1000)
            per_tick.append(sum(counting.programs.values()))
        print(f"GPU-watch poll with {WATCHES} watches on one cluster:")
        print(f"  Slurm commands per poll: {sorted(set(per_tick))} ({dict(counting.programs)})")
        print(f"  poll duration: {_summary(ticks)}")

        text = "report now --include resources,jobs,user,running"
        reports, per_report = [], []
        for _ in range(ROUNDS):
            counting.programs.clear()
            t0 = time.perf_counter()
            reply = await rt.dispatch.handle(ALICE, text, channel="C1")
            reports.append((time.perf_counter() - t0) * 1000)
            per_report.append(sum(counting.programs.values()))
            assert isinstance(reply, r.ClusterReport), reply
        print(f"`{text}`:")
        print(f"  Slurm commands per report: {sorted(set(per_report))} ({dict(counting.programs)})")
        print(f"  time to the reply: {_summary(reports)}")
    finally:
        await store.close()
        await rt.close()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
