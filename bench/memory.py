"""Benchmark: resident memory of the bot with 10,000 watches (and their job threads) in its
store, everything the `bot serve` process imports loaded. Goal: <= 80 MB.
Usage: uv run python bench/memory.py [--watches 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from bot.config import parse_config
from bot.core.records import JobThread, Watch
from bot.core.watches.store import WatchStore
from bot.runtime import Runtime
from bot.store.state import open_state


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def fill(ws: WatchStore, n: int) -> None:
    """n job threads and one watch each, spread over 50 users and 20 channels."""
    threads, watches = [], []
    for i in range(n):
        t = JobThread(
            cluster="lab",
            job_id=str(100000 + i),
            account=f"user{i % 50}",
            user_id=f"U{i % 50:05d}",
            channel=f"C{i % 20}",
            card_ts=f"17000.{i}",
            thread_ts=f"17000.{i}",
            name=f"train-{i}",
        )
        threads.append(t)
        watches.append(
            Watch(
                kind="job",
                user_id=t.user_id,
                account=t.account,
                cluster="lab",
                channel=t.channel,
                job_id=t.job_id,
            )
        )
    async with ws.batch():  # one write
        for t in threads:
            await ws.save_thread(t)
        await ws.apply(watches, [])


async def main(n: int) -> int:
    import bot.slack.app  # noqa: F401  (what `bot serve` loads: Bolt, slack_sdk, aiohttp, APScheduler)

    base = rss_mb()
    rt = await Runtime.open(
        parse_config({"clusters": [{"name": "lab", "host": "127.0.0.1", "port": 2222}]})
    )
    path = Path(tempfile.mkdtemp()) / "state"
    await fill(WatchStore(open_state(path)), n)
    store = open_state(path)  # loaded as at a restart
    ws = WatchStore(store)
    threads, watches = await ws.open_threads("lab"), await ws.watches()
    size = sum(f.stat().st_size for f in path.rglob("*.json"))
    now = rss_mb()
    print(
        f"{len(threads)} open job threads and {len(watches)} watches in the store "
        f"({size / 1e6:.1f} MB on disk), all loaded:"
    )
    print(f"  RSS after the imports of `bot serve`: {base:.1f} MB")
    print(
        f"  RSS with the store loaded: {now:.1f} MB (+{now - base:.1f} MB for the watches); "
        f"goal <= 80 MB: {'met' if now <= 80 else 'NOT met'}"
    )
    await store.close()
    await rt.close()
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--watches", type=int, default=10_000)
    sys.exit(asyncio.run(main(min(max(ap.parse_args().watches, 100), 100_000))))
