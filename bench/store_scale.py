"""Benchmark: what the state costs as job threads pile up, before (one TinyDB file, bot/core/
store.py + WatchStore) and after (bot/store's TinyBackend: live shards in memory, history by
hour). For 1k / 10k / 100k job threads ever recorded (1k / 10k / 10k of them live) and 10k
watches: p50/p99 of a thread lookup by (channel, thread_ts), of one durable transition, a poll
tick's store time with 100 transitions, start-up load time, file sizes, and RSS over the
bare imports. Goals at 100k recorded / 10k live: lookup p99 <= 2 ms, transition <= 20 ms,
tick <= 200 ms, start-up <= 2 s, RSS <= +25 MB (the store loaded; also shown: holding every
open thread and watch as read, what bench/memory.py measured, most of it the records' dicts).
Usage: uv run python bench/store_scale.py [--no-before] [--samples 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from storekit import THREADS, WATCHES

from bot.store.port import Doc
from bot.store.tiny import TinyBackend

SCALES = [(1_000, 1_000), (10_000, 10_000), (100_000, 10_000)]  # recorded, live
N_WATCHES = 10_000
TICK = 100  # transitions in one poll tick; a tenth of them final
DAY = 86400.0
# The specs the contract tests use, with the shards a 10k-live state wants.
THREAD_SPEC = dataclasses.replace(THREADS, shards=16)
WATCH_SPEC = dataclasses.replace(WATCHES, shards=16)
GOALS = {"lookup": 2.0, "transition": 20.0, "tick": 200.0, "start-up": 2000.0, "RSS": 25.0}


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


def load_in_subprocess(mode: str, where: Path) -> dict[str, float]:
    """Start-up and RSS measured in a fresh process, as at a restart."""
    out = subprocess.run(
        [sys.executable, __file__, "--load", mode, str(where)],
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


async def load(mode: str, where: Path) -> None:
    with contextlib.suppress(ImportError):  # what `bot serve` loads: Bolt, aiohttp, ...
        import bot.slack.app  # noqa: F401
    if mode == "before":
        from bot.core.store import Store
        from bot.core.watches.store import WatchStore
    base = rss_mb()
    t0 = time.perf_counter()
    if mode == "before":  # TinyDB without a cache keeps nothing: each query re-reads it all
        ws = WatchStore(Store(where))
        await ws.thread("lab", "0")
    else:
        backend = TinyBackend(where)
        threads, watches = backend.collection(THREAD_SPEC), backend.collection(WATCH_SPEC)
    ms = (time.perf_counter() - t0) * 1000
    resident = rss_mb() - base
    if mode == "before":  # what bench/memory.py held: every open thread and every watch
        held: list[Any] = [await ws.open_threads("lab"), await ws.watches()]
    else:
        held = [await threads.find(cluster="lab"), await watches.all()]
    figures = {"start-up": ms, "RSS": resident, "RSS held": rss_mb() - base}
    print(json.dumps(figures | {"held": len(held[0]) + len(held[1])}))


def size_mb(where: Path) -> float:
    files = [where] if where.is_file() else [p for p in where.rglob("*.json")]
    return sum(p.stat().st_size for p in files) / 1e6


async def after(recorded: int, live: int, samples: int, where: Path) -> dict[str, Any]:
    backend = TinyBackend(where)
    threads = backend.collection(THREAD_SPEC)
    now = time.time()
    finished = recorded - live
    hours = 29 * 24  # the history spread evenly over the retention, as they finished
    for h in range(hours):
        docs = [thread(i, done=True) for i in range(h, finished, hours)]
        await threads.to_history(docs, at=now - (hours - h) * 3600)
    await threads.upsert_many(thread(i) for i in range(finished, recorded))
    await backend.collection(WATCH_SPEC).upsert_many(watch(i) for i in range(N_WATCHES))
    rng = random.Random(1)
    live_ids = list(range(finished, recorded))

    async def lookup() -> None:
        i = rng.randrange(recorded)
        assert await threads.find_one(channel=f"C{i % 20}", thread_ts=f"17000.{i}")

    async def transition() -> None:
        doc = thread(rng.choice(live_ids))
        await threads.upsert({**doc, "seq": doc["seq"] + 1})

    async def tick() -> float:
        t0 = time.perf_counter()
        open_now = await threads.find(cluster="lab")
        moving = rng.sample(open_now, TICK)
        async with backend.batch():  # the intents, durable before anything is posted
            await threads.upsert_many({**d, "in_flight": "2:RUNNING"} for d in moving)
        async with backend.batch():  # what was posted; a tenth of the jobs ended
            await threads.upsert_many({**d, "seq": 2} for d in moving[TICK // 10 :])
            await threads.to_history({**d, "done": True} for d in moving[: TICK // 10])
        ms = (time.perf_counter() - t0) * 1000
        await threads.upsert_many(moving[: TICK // 10])  # live again, for the next tick
        return ms

    out = {
        "lookup": await timed(lookup, samples),
        "transition": await timed(transition, max(samples // 4, 20)),
        "tick": [await tick() for _ in range(20)],
    }
    return out | load_in_subprocess("after", where) | {"size": size_mb(where)}


async def before(recorded: int, live: int, samples: int, where: Path) -> dict[str, Any]:
    from bot.core.records import JobThread
    from bot.core.store import Store
    from bot.core.watches.store import WatchStore

    store = Store(where)
    docs = [thread(i, done=i < recorded - live) for i in range(recorded)]
    await store.run(lambda db: db.table("threads").insert_multiple(docs))
    await store.run(lambda db: db.table("watches").insert_multiple(map(watch, range(N_WATCHES))))
    ws = WatchStore(store)
    live_threads = [JobThread.model_validate(d) for d in docs[recorded - live :]]
    n = max(3, samples // (recorded // 100))  # each op re-reads the whole file
    rng = random.Random(1)

    async def lookup() -> None:
        i = rng.randrange(recorded)
        assert await ws.thread_at(f"C{i % 20}", f"17000.{i}")

    async def transition() -> None:
        await ws.save_thread(rng.choice(live_threads))

    out = {"lookup": await timed(lookup, n), "transition": await timed(transition, n)}
    # A tick is 100 saves of intents and 100 of posts, after one open_threads.
    t0 = time.perf_counter()
    await ws.open_threads("lab")
    read_ms = (time.perf_counter() - t0) * 1000
    out["tick"] = [read_ms + 2 * TICK * pct(out["transition"], 0.5)]  # estimated from saves
    store.close()
    return out | load_in_subprocess("before", where) | {"size": size_mb(where)}


def show(name: str, figures: dict[str, Any]) -> None:
    def ms(key: str) -> str:
        v = figures[key]
        return f"p50 {pct(v, 0.5):8.2f} p99 {pct(v, 0.99):8.2f} ms"

    print(f"  {name}:")
    print(f"    lookup     {ms('lookup')}")
    print(f"    transition {ms('transition')}")
    how = "estimated: open_threads + 2 saves each" if name == "before" else "store time"
    print(f"    tick       {ms('tick')}  ({how}, {TICK} transitions)")
    print(
        f"    start-up {figures['start-up']:8.1f} ms   files {figures['size']:6.1f} MB   "
        f"RSS +{figures['RSS']:.1f} MB (+{figures['RSS held']:.1f} MB holding every open "
        "thread and watch read)"
    )


async def main(samples: int, with_before: bool) -> int:
    for recorded, live in SCALES:
        print(f"{recorded:,} job threads recorded, {live:,} live, {N_WATCHES:,} watches")
        if with_before:
            with tempfile.TemporaryDirectory() as tmp:
                show("before", await before(recorded, live, samples, Path(tmp) / "state.json"))
        with tempfile.TemporaryDirectory() as tmp:
            figures = await after(recorded, live, samples, Path(tmp) / "state")
            show("after", figures)
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
    ap.add_argument("--no-before", action="store_true", help="skip the old store (slow)")
    ap.add_argument("--load", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.load:
        asyncio.run(load(args.load[0], Path(args.load[1])))
        sys.exit(0)
    sys.exit(asyncio.run(main(max(args.samples, 100), not args.no_before)))
