"""Benchmark: replicas on PostgreSQL, how fast one takes over and what a transition costs.

1. Failover: two `bot serve --http` replicas on the lab, the Slack stand-in and the lab's
   PostgreSQL (a schema of its own) follow a few short jobs each round; the leader (the
   replica polling the cluster) is SIGKILLed while a transition is owed, and a new replica
   starts in its place. Printed: the time from each SIGKILL to the next post (by the new
   leader), and their median. Goal: <= one poll interval + 2 s.
2. The store's cost of one job transition, as the monitor pays it (bot/core/watches/store.py
   WatchStore): the claim before the post (`record_intent`) and the save after it
   (`save_thread`, the end of the tick's batch included), p50/p99, on PostgreSQL and TinyDB,
   with as many threads open as transitions timed.
Everything on 127.0.0.1; bounded: at most 60 s per round, 12 jobs of a few seconds each.
Usage: uv run --frozen python bench/failover.py [--kills 5] [--transitions 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "slack"))

from storekit import forget, pg_url
from test_replicas_lab import (
    POLL,
    Fleet,
    Replica,
    cancel_jobs,
    first_post_after,
    unposted,
    wait_until,
)

from bot.core.models import JobState
from bot.core.records import JobThread
from bot.core.watches.store import WatchStore
from bot.store.state import CollectionState, open_state, open_store
from labkit import ALICE, BOB, Lab
from slack_standin import SlackStandIn

JOBS_PER_ROUND = 3  # fewer than the cpu partition's 4 CPUs: each starts at once
CHANNEL = "C0FAIL"  # + the job's number: one channel each (no pacing between them)


async def _round(fleet: Fleet, standin: SlackStandIn, lab: Lab, prefix: str, n: int) -> float:
    """Jobs through the replicas that stay, the leader killed once one owes a post; seconds
    from the SIGKILL to the next post."""
    leader = await fleet.leader()
    others: list[Replica] = [r for r in fleet.alive if r is not leader]
    for j in range(JOBS_PER_ROUND):
        i = n * JOBS_PER_ROUND + j
        text = f"submit -J {prefix}{i:03d} -p cpu -- sleep {4 + j}"
        user = ALICE if j % 2 == 0 else BOB
        await others[j % len(others)].command(standin, text, user, f"s{i}", f"{CHANNEL}{i:03d}")

    async def owed() -> bool:
        return bool(await unposted(lab, standin, prefix))

    await wait_until("a transition owed", owed, 60, every=0.05)
    killed = await leader.kill()
    await wait_until("the next post", lambda: first_post_after(standin, killed), 30, every=0.05)
    first = first_post_after(standin, killed)
    assert first is not None
    return first.at - killed


async def failover(lab: Lab, kills: int) -> list[float]:
    where = Path(tempfile.mkdtemp(prefix="failover-"))
    prefix = f"fo{secrets.token_hex(3)}-"
    async with SlackStandIn() as standin:
        fleet = Fleet(where, lab, standin, pg_url(where))
        try:
            await asyncio.gather(fleet.start("r0"), fleet.start("r1"))
            took = []
            for n in range(kills):
                took.append(await _round(fleet, standin, lab, prefix, n))
                print(f"  kill {n + 1}: next post {took[-1]:.2f} s after SIGKILL")
                await fleet.start(f"r{n + 2}")  # two replicas again
            return took
        finally:
            await fleet.close()
            await cancel_jobs(lab, prefix)
            await forget(where)


def _threads(n: int) -> list[JobThread]:
    return [
        JobThread(
            cluster="lab",
            job_id=str(900_000 + i),
            account="alice",
            user_id=ALICE,
            channel="C1",
            card_ts=f"1700000000.{i:06d}",
            thread_ts=f"1700000000.{i:06d}",
            state=JobState.PENDING,
        )
        for i in range(n)
    ]


async def transition_cost(state: CollectionState, n: int) -> tuple[list[float], list[float]]:
    """ms per claim and per save, one transition (PENDING -> RUNNING) of each of `n` open
    threads, each in a tick (batch) of its own."""
    store = WatchStore(state)
    threads = _threads(n)
    async with store.batch():
        for t in threads:
            await store.save_thread(t)
    claims, saves = [], []
    for t in threads:
        intent = t.model_copy(update={"in_flight": "1:RUNNING"})
        posted = intent.model_copy(update={"seq": 1, "state": JobState.RUNNING, "in_flight": None})
        async with store.batch():
            t0 = time.perf_counter()
            await store.record_intent(intent)
            t1 = time.perf_counter()
            await store.save_thread(posted)
        t2 = time.perf_counter()
        claims.append((t1 - t0) * 1000)
        saves.append((t2 - t1) * 1000)
    return claims, saves


def _pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def _cost_line(name: str, claims: list[float], saves: list[float]) -> str:
    total = [c + s for c, s in zip(claims, saves, strict=True)]
    parts = [
        f"{what} p50 {_pct(v, 50):6.2f} p99 {_pct(v, 99):6.2f}"
        for what, v in (("claim", claims), ("save", saves), ("both", total))
    ]
    return f"  {name:<10} " + "  |  ".join(parts) + " ms"


async def costs(n: int) -> None:
    where = Path(tempfile.mkdtemp(prefix="transition-cost-"))
    tiny = open_state(where / "tiny")
    try:
        tiny_claims, tiny_saves = await transition_cost(tiny, n)
    finally:
        await tiny.close()
    pg = open_store(pg_url(where / "pg"), where)
    try:
        pg_claims, pg_saves = await transition_cost(pg, n)
    finally:
        await pg.close()
        await forget(where / "pg")
    print(f"store cost of one transition ({n} transitions, {n} threads open):")
    print(_cost_line("PostgreSQL", pg_claims, pg_saves))
    print(_cost_line("TinyDB", tiny_claims, tiny_saves))


async def main(kills: int, transitions: int) -> int:
    lab = Lab.running()
    if lab is None:
        return 2
    why = lab.why_no_postgres()
    if why is not None:
        print(why, file=sys.stderr)
        return 2
    print(f"failover: 2 replicas, poll interval {POLL:.0f} s, {kills} SIGKILLs of the leader")
    took = await failover(lab, kills)
    median = statistics.median(took)
    goal = POLL + 2
    verdict = "met" if median <= goal else "NOT met"
    print(
        f"  SIGKILL -> next post by the new leader: median {median:.2f} s, max {max(took):.2f} s "
        f"(goal <= poll interval + 2 s = {goal:.0f} s: {verdict})"
    )
    await costs(transitions)
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=5)
    ap.add_argument("--transitions", type=int, default=1000)
    args = ap.parse_args()
    sys.exit(asyncio.run(main(min(max(args.kills, 1), 20), min(max(args.transitions, 10), 10_000))))
