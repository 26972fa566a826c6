"""Benchmark: what the state costs as job threads pile up, measured through the feature
stores the bot uses (WatchStore on bot/store's TinyDB-format files: live shards in memory,
history by hour). For 1k / 10k / 100k job threads ever recorded (1k / 10k / 10k of them live)
and 10k watches: p50/p99 of a thread lookup by (channel, thread_ts) (`WatchStore.thread_at`),
of one durable transition (the monitor's intent, saved before its post), a poll tick's store
time with 100 transitions (reading the cluster's open threads, 100 intents, each durable at
once as a journal line, then the tick's post-marks in one batch, a tenth of them final),
start-up load time, file sizes, and RSS over the bare imports.
Goals at 100k recorded / 10k live: lookup p99 <= 2 ms, transition <= 20 ms, tick <= 200 ms,
start-up <= 2 s, RSS <= +25 MB (the state loaded; also shown: holding every open thread and
watch as models, what bench/memory.py measures, most of it the models themselves).
The old single-file store is gone; its figures, measured on this machine before it went
(`BEFORE`), are printed beside the new ones.
Workflow runs (FlowStore), at 100 / 1k active runs of 10 jobs among 10x as many finished ones
(ended over the 14 days kept, 50 users): p50/p99 of a poll tick's read of the cluster's active
runs (parsed), of one durable save of an active run, and of one user's `flows` (their active
and finished runs), each beside the same with the active runs alone.
Usage: uv run python bench/store_scale.py [--samples 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bot.core.flowruns import FlowCell, FlowRun, FlowStep
from bot.core.flows.store import FlowStore
from bot.core.models import JobState
from bot.core.records import JobThread
from bot.core.watches.store import WatchStore
from bot.store.backend import Doc
from bot.store.state import THREADS, open_state

SCALES = [(1_000, 1_000), (10_000, 10_000), (100_000, 10_000)]  # recorded, live
N_WATCHES = 10_000
TICK = 100  # transitions in one poll tick; a tenth of them final
FLOW_SCALES = [(100, 1_000), (1_000, 10_000)]  # active runs, finished runs
FLOW_JOBS = 10
FLOW_USERS = 50
GOALS = {"lookup": 2.0, "transition": 20.0, "tick": 200.0, "start-up": 2000.0, "RSS": 25.0}
# The old store (one TinyDB file re-read by every query, bot/core/store.py until issue 11),
# measured here with this bench's stage-1 version: p50 / p99 in ms; a tick estimated as one
# open_threads and 200 saves; start-up in ms; files and RSS in MB.
BEFORE: dict[int, dict[str, Any]] = {
    1_000: {"lookup": (47.0, 62.3), "transition": (116.5, 131.4), "tick": 23_327,
            "start-up": 82.7, "size": 2.9, "RSS": 2.9, "RSS held": 29.1},
    10_000: {"lookup": (119.9, 126.6), "transition": (219.5, 245.7), "tick": 44_042,
             "start-up": 136.1, "size": 5.5, "RSS": 3.5, "RSS held": 62.4},
    100_000: {"lookup": (1152.2, 1165.3), "transition": (1543.3, 1588.2), "tick": 309_341,
              "start-up": 1714.1, "size": 31.8, "RSS": 38.2, "RSS held": 174.5},
}  # fmt: skip


def thread(i: int, done: bool = False) -> Doc:
    """A job thread as the bot stores it (bot/core/watches/store.py's JobThread, dumped)."""
    return {
        "cluster": "lab",
        "job_id": str(100000 + i),
        "account": f"user{i % 50}",
        "user_id": f"U{i % 50:05d}",
        "channel": f"C{i % 20}",
        "card_ts": f"17000.{i}",
        "thread_ts": f"17000.{i}",
        "name": f"train-{i}",
        "state": "COMPLETED" if done else "RUNNING",
        "seq": 2 if done else 1,
        "in_flight": None,
        "time_warned": False,
        "broadcast": False,
        "done": done,
        "tasks": {},
        "key": f"lab:{100000 + i}",
    }


def watch(i: int) -> Doc:
    t = thread(i)
    return {
        "id": f"w{i:012x}",
        "kind": "job",
        "user_id": t["user_id"],
        "account": t["account"],
        "cluster": "lab",
        "channel": t["channel"],
        "job_id": t["job_id"],
        "created": 1.7e9,
        "baseline": [],
        "gpus": None,
        "partition": None,
        "continuous": False,
        "armed": True,
        "below_since": None,
        "fired": 0,
    }


def flow_run(i: int, now: float, done: bool) -> FlowRun:
    """A run of FLOW_JOBS jobs as the bot stores it: each with its rendered script, submitted;
    a finished one ended over the last 14 days."""
    steps = [
        FlowStep(
            name=f"step{j}",
            slurm_name=f"run{i}.step{j}",
            script=(
                f"#!/bin/bash\n#SBATCH --job-name=run{i}.step{j}\n#SBATCH --nodes=1\n"
                "#SBATCH --ntasks-per-node=1\n#SBATCH --cpus-per-task=4\n#SBATCH --partition=gpu\n"
                "#SBATCH --gpus-per-node=1\n#SBATCH --time=4:00:00\n: srunx-bot job script: "
                'directives end here\neval "$(conda shell.bash hook)" && conda activate ml\n'
                f"python train.py --stage {j} --out /scratch/run{i}\n"
            ),
            job_id=str(500000 + i * FLOW_JOBS + j),
            job_ids=[str(500000 + i * FLOW_JOBS + j)],
            state=JobState.COMPLETED if done or j < 3 else JobState.PENDING,
            elapsed="00:12:34" if done or j < 3 else "",
        )
        for j in range(FLOW_JOBS)
    ]
    ended = now - (i % (14 * 24)) * 3600 - 60 if done else None
    return FlowRun(
        id=f"f{i:012x}",
        name=f"pipeline{i}",
        cluster="lab",
        user_id=f"U{i % FLOW_USERS:05d}",
        account=f"user{i % FLOW_USERS}",
        channel=f"C{i % 20}",
        source="~/pipelines/train.yaml",
        parent_ts=f"17100.{i}",
        created=(ended or now) - 3600,
        ended=ended,
        cells=[FlowCell(steps=steps, phase="submitted")],
        seq=3,
        active=not done,
        outcome="completed" if done else "",
    )


def pct(ms: list[float], q: float) -> float:
    s = sorted(ms)
    return s[min(len(s) - 1, int(q * len(s)))]


async def timed(fn: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def load_in_subprocess(where: Path) -> dict[str, float]:
    """Start-up and RSS measured in a fresh process, as at a restart."""
    out = subprocess.run(
        [sys.executable, __file__, "--load", str(where)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result: dict[str, float] = json.loads(out.splitlines()[-1])
    return result


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def load(where: Path) -> None:
    with contextlib.suppress(ImportError):  # what `bot serve` loads: Bolt, aiohttp, ...
        import bot.slack.app  # noqa: F401
    base = rss_mb()
    t0 = time.perf_counter()
    ws = WatchStore(open_state(where))
    ms = (time.perf_counter() - t0) * 1000
    resident = rss_mb() - base
    threads, watches = await ws.open_threads("lab"), await ws.watches()  # bench/memory.py's
    figures = {"start-up": ms, "RSS": resident, "RSS held": rss_mb() - base}
    print(json.dumps(figures | {"held": len(threads) + len(watches)}))


def size_mb(where: Path) -> float:
    return sum(p.stat().st_size for p in where.rglob("*.json")) / 1e6


async def fill(where: Path, recorded: int, live: int) -> None:
    """The history spread evenly over the retention, as the jobs finished; then the live
    threads and the watches."""
    state = open_state(where)
    threads = state.backend.collection(THREADS)
    now, finished, hours = time.time(), recorded - live, 29 * 24
    for h in range(hours):
        docs = [thread(i, done=True) for i in range(h, finished, hours)]
        await threads.to_history(docs, at=now - (hours - h) * 3600)
    await threads.upsert_many(thread(i) for i in range(finished, recorded))
    await state.watches.apply(map(watch, range(N_WATCHES)), [])
    await state.close()


async def measure(recorded: int, live: int, samples: int, where: Path) -> dict[str, Any]:
    await fill(where, recorded, live)
    ws = WatchStore(open_state(where))
    rng = random.Random(1)
    live_ids = list(range(recorded - live, recorded))

    async def lookup() -> None:
        i = rng.randrange(recorded)
        assert await ws.thread_at(f"C{i % 20}", f"17000.{i}")

    async def transition() -> None:
        t = JobThread.model_validate(thread(rng.choice(live_ids)))
        await ws.record_intent(t.model_copy(update={"in_flight": f"{t.seq + 1}:RUNNING"}))

    async def tick() -> float:
        t0 = time.perf_counter()
        moving = rng.sample(await ws.open_threads("lab"), TICK)
        async with ws.batch():  # as JobMonitor.tick
            for i, t in enumerate(moving):
                seq = t.seq + 1
                await ws.record_intent(t.model_copy(update={"in_flight": f"{seq}:RUNNING"}))
                # ... the post leaves here ...
                done = i < TICK // 10
                await ws.save_thread(t.model_copy(update={"seq": seq, "done": done}))
        ms = (time.perf_counter() - t0) * 1000
        for t in moving[: TICK // 10]:  # followed again, for the next tick
            await ws.save_thread(t)
        return ms

    out = {
        "lookup": await timed(lookup, samples),
        "transition": await timed(transition, max(samples // 4, 20)),
        "tick": [await tick() for _ in range(20)],
    }
    return out | load_in_subprocess(where) | {"size": size_mb(where)}


async def fill_flows(where: Path, runs: range, now: float, done: bool) -> None:
    state = open_state(where)
    async with state.batch():  # filled as one write
        store = FlowStore(state)
        for i in runs:
            await store.save(flow_run(i, now, done))
    await state.close()


async def probe_flows(where: Path, samples: int) -> dict[str, Any]:
    """The reads and a save, on the state as a restarted bot finds it."""
    store, rng = FlowStore(open_state(where)), random.Random(2)
    runs = await store.active("lab")

    async def save() -> None:
        run = rng.choice(runs)
        await store.save(run.model_copy(update={"seq": run.seq + 1}))

    async def listing() -> None:
        assert await store.of_user(f"U{rng.randrange(FLOW_USERS):05d}")

    out = {
        "active": await timed(lambda: store.active("lab"), max(samples // 50, 10)),
        "save": await timed(save, max(samples // 10, 20)),
        "of_user": await timed(listing, max(samples // 100, 10)),
        "size": size_mb(where),
    }
    await store.state.close()
    return out


async def measure_flows(active: int, finished: int, samples: int, where: Path) -> dict[str, Any]:
    """The active runs alone first, then among the finished ones: what these cost them."""
    now = time.time()
    await fill_flows(where, range(active), now, done=False)
    alone = await probe_flows(where, samples)
    await fill_flows(where, range(active, active + finished), now, done=True)
    return await probe_flows(where, samples) | {"alone": alone}


def show_flows(figures: dict[str, Any]) -> None:
    def ms(key: str) -> str:
        v, alone = figures[key], figures["alone"][key]
        return (
            f"p50 {pct(v, 0.5):7.2f} p99 {pct(v, 0.99):7.2f} ms   (no finished runs: "
            f"{pct(alone, 0.5):.2f} / {pct(alone, 0.99):.2f})"
        )

    print(f"    active     {ms('active')}  a tick's read")
    print(f"    save       {ms('save')}  one active run")
    print(f"    of_user    {ms('of_user')}  a user's `flows`")
    print(f"    files {figures['size']:.1f} MB (no finished runs: {figures['alone']['size']:.1f})")


def show(figures: dict[str, Any], before: dict[str, Any]) -> None:
    def ms(key: str) -> str:
        v, (b50, b99) = figures[key], before[key]
        return f"p50 {pct(v, 0.5):7.2f} p99 {pct(v, 0.99):7.2f} ms   (before {b50:.0f} / {b99:.0f})"

    print(f"    lookup     {ms('lookup')}")
    print(f"    transition {ms('transition')}")
    tick = figures["tick"]
    print(
        f"    tick       p50 {pct(tick, 0.5):7.2f} p99 {pct(tick, 0.99):7.2f} ms   (store time, "
        f"{TICK} transitions; before ~{before['tick'] / 1000:.0f} s)"
    )
    print(
        f"    start-up {figures['start-up']:7.1f} ms (before {before['start-up']:.0f})   files "
        f"{figures['size']:.1f} MB (before {before['size']:.1f})"
    )
    print(
        f"    RSS +{figures['RSS']:.1f} MB (before +{before['RSS']:.1f}); holding every open "
        f"thread and watch as models +{figures['RSS held']:.1f} MB (before "
        f"+{before['RSS held']:.1f})"
    )


async def main(samples: int) -> int:
    for recorded, live in SCALES:
        print(f"{recorded:,} job threads recorded, {live:,} live, {N_WATCHES:,} watches")
        with tempfile.TemporaryDirectory() as tmp:
            figures = await measure(recorded, live, samples, Path(tmp) / "state")
        show(figures, BEFORE[recorded])
    for active, finished in FLOW_SCALES:
        mine = (active + finished) // FLOW_USERS
        print(
            f"{active:,} workflow runs active ({FLOW_JOBS} jobs each), {finished:,} finished, "
            f"{mine} a user"
        )
        with tempfile.TemporaryDirectory() as tmp:
            flows = await measure_flows(active, finished, samples, Path(tmp) / "state")
        show_flows(flows)
    got = {
        "lookup": pct(figures["lookup"], 0.99),
        "transition": pct(figures["transition"], 0.99),
        "tick": pct(figures["tick"], 0.99),
        "start-up": figures["start-up"],
        "RSS": figures["RSS"],
    }
    missed = [k for k, goal in GOALS.items() if got[k] > goal]
    print("goals at 100k/10k: " + ("all met" if not missed else "NOT met: " + ", ".join(missed)))
    return 0 if not missed else 1


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--load", metavar="PATH", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.load:
        asyncio.run(load(Path(args.load)))
        sys.exit(0)
    sys.exit(asyncio.run(main(max(args.samples, 100))))
