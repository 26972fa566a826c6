"""The backends' contract: every backend must pass these (tests/storekit.py names them: the
files, memory, and PostgreSQL on the lab's server)."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from storekit import DURABLE, NAMES, THREADS, WATCHES, forget, open_backend

from bot.store.backend import Backend, Doc

Open = Callable[[], Backend]
NOW = 1_750_000_000.0
DAY = 86400.0


@pytest.fixture(params=NAMES)
async def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Open]:
    """Opens the backend on the same state each time (a restart)."""
    where = tmp_path / "state"
    yield lambda: open_backend(request.param, where)
    await forget(where)


def thread(i: int, cluster: str = "lab", **extra: object) -> Doc:
    return {
        "key": f"{cluster}:{i}",
        "cluster": cluster,
        "job_id": str(i),
        "channel": f"C{i % 3}",
        "thread_ts": f"17000.{i}",
        "seq": 0,
        **extra,
    }


def watch(i: int, kind: str = "job", user: str = "U1") -> Doc:
    return {"id": f"w{i}", "kind": kind, "cluster": "lab", "user_id": user}


async def test_upsert_get_all_and_restart(reopen: Open) -> None:
    threads = reopen().collection(THREADS)
    await threads.upsert(thread(1))
    await threads.upsert(thread(2))
    await threads.upsert(thread(1, seq=3))  # replaces
    assert await threads.get("lab:1") == thread(1, seq=3)
    assert await threads.get("lab:9") is None
    again = reopen().collection(THREADS)
    assert sorted(d["key"] for d in await again.all()) == ["lab:1", "lab:2"]
    assert await again.get("lab:1") == thread(1, seq=3)


async def test_find_by_index_follows_changes(reopen: Open) -> None:
    watches = reopen().collection(WATCHES)
    await watches.upsert_many([watch(1), watch(2, "mine"), watch(3, "mine", "U2")])
    assert [d["id"] for d in await watches.find(kind="mine", cluster="lab")] == ["w2", "w3"]
    assert [d["id"] for d in await watches.find(user_id="U1")] == ["w1", "w2"]
    await watches.upsert(watch(2, "gpus"))  # moved out of the index value it had
    assert [d["id"] for d in await watches.find(kind="mine", cluster="lab")] == ["w3"]
    assert await watches.find(kind="gpus", cluster="other") == []
    with pytest.raises(ValueError, match="no index"):
        await watches.find(cluster="lab")


async def test_insert_refuses_a_taken_key_and_remove(reopen: Open) -> None:
    watches = reopen().collection(WATCHES)
    assert await watches.insert(watch(1))
    assert not await watches.insert(watch(1, "mine"))
    assert (await watches.get("w1")) == watch(1)
    await watches.remove(["w1", "w-none"])
    assert await watches.get("w1") is None
    assert await watches.find(user_id="U1") == []
    assert await reopen().collection(WATCHES).all() == []


async def test_history_leaves_the_live_set_but_is_still_found(reopen: Open) -> None:
    threads = reopen().collection(THREADS)
    await threads.upsert_many([thread(1), thread(2)])
    await threads.to_history([thread(1, done=True)], at=NOW)
    for t in (threads, reopen().collection(THREADS)):
        assert [d["key"] for d in await t.all()] == ["lab:2"]
        assert [d["key"] for d in await t.find(cluster="lab")] == ["lab:2"]
        assert await t.get("lab:1") == thread(1, done=True)
        assert await t.find_one(channel="C1", thread_ts="17000.1") == thread(1, done=True)
        assert await t.find_one(channel="C1", thread_ts="17000.9") is None
    with pytest.raises(ValueError, match="no index"):
        await threads.find_one(cluster="lab")  # not unique


async def test_live_record_wins_over_history_and_newest_history_wins(reopen: Open) -> None:
    threads = reopen().collection(THREADS)
    await threads.to_history([thread(1, seq=1, done=True)], at=NOW - DAY)
    await threads.to_history([thread(1, seq=2, done=True)], at=NOW)
    assert (await threads.get("lab:1") or {})["seq"] == 2
    await threads.upsert(thread(1, seq=3))  # followed again
    for t in (threads, reopen().collection(THREADS)):
        assert (await t.get("lab:1") or {})["seq"] == 3
        assert (await t.find_one(channel="C1", thread_ts="17000.1") or {})["seq"] == 3


async def test_prune_drops_history_before_the_cutoff_only(reopen: Open) -> None:
    threads = reopen().collection(THREADS)
    await threads.to_history([thread(i, done=True) for i in range(5)], at=NOW - 40 * DAY)
    await threads.to_history([thread(i, done=True) for i in range(5, 8)], at=NOW - 2 * DAY)
    await threads.upsert(thread(9))
    assert await threads.prune(NOW - 30 * DAY) == 5
    assert await threads.prune(NOW - 30 * DAY) == 0
    for t in (threads, reopen().collection(THREADS)):
        assert await t.get("lab:1") is None
        assert await t.find_one(channel="C1", thread_ts="17000.1") is None
        assert await t.get("lab:6") == thread(6, done=True)
        assert await t.get("lab:9") == thread(9)


async def test_a_batch_is_durable_when_it_ends(reopen: Open) -> None:
    backend = reopen()
    threads, watches = backend.collection(THREADS), backend.collection(WATCHES)
    async with backend.batch():
        await threads.upsert_many([thread(i) for i in range(50)])
        await threads.to_history([thread(0, done=True)], at=NOW)
        await watches.remove(["w1"])
        await watches.upsert(watch(2))
        assert await threads.get("lab:0") == thread(0, done=True)  # reads see it at once
    again = reopen()
    assert len(await again.collection(THREADS).all()) == 49
    assert await again.collection(WATCHES).all() == [watch(2)]


async def test_concurrent_writers_all_land(reopen: Open) -> None:
    threads = reopen().collection(THREADS)
    await asyncio.gather(*(threads.upsert(thread(i)) for i in range(200)))
    assert len(await reopen().collection(THREADS).all()) == 200


# Writes without pause (transitions, intents in batches, moves to history, batches) and says
# which are durable.
WRITER = """
import asyncio, sys
from pathlib import Path
sys.path.insert(0, sys.argv[3])
from storekit import THREADS, open_backend
import bot.store.tiny
bot.store.tiny.JOURNAL_CAP = 30_000  # emptied every few intents, mid-run too

async def main() -> None:
    backend = open_backend(sys.argv[1], Path(sys.argv[2]))
    threads = backend.collection(THREADS)
    await threads.get("lab:0")  # connected (PostgreSQL): the kills land among the writes
    print("ready", flush=True)
    i = 0
    while True:
        doc = {"key": f"lab:{i % 40}", "cluster": "lab", "channel": "C1",
               "thread_ts": f"1.{i % 40}", "seq": i, "pad": "x" * 3000}
        if i % 5 == 4:
            await threads.to_history([{**doc, "done": True}], at=1.75e9 + i)
        elif i % 3 == 0:  # an intent (durable at once: the journal), then its post-mark
            async with backend.batch():
                await threads.upsert(doc, now=True)
                print(i, flush=True)
                await threads.upsert({**doc, "posted": True})
            i += 1
            continue
        elif i % 7 == 0:
            async with backend.batch():
                await threads.upsert_many(
                    [{**doc, "key": f"lab:b{j}", "thread_ts": f"2.{j}"} for j in range(20)]
                )
                await threads.upsert(doc)
        else:
            await threads.upsert(doc)
        print(i, flush=True)
        i += 1

asyncio.run(main())
"""


@pytest.mark.parametrize("name", DURABLE)
def test_kill_9_mid_write_leaves_old_or_new_state(name: str, tmp_path: Path) -> None:
    state, helpers = tmp_path / "state", str(Path(__file__).parents[1])
    open_backend(name, state)  # its place made here (a schema): forgotten whatever happens
    try:
        _kill_writers(name, state, helpers)
    finally:
        asyncio.run(forget(state))


def _kill_writers(name: str, state: Path, helpers: str) -> None:
    rng = random.Random(11)
    for _ in range(30):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, name, str(state), helpers],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.05))
        proc.send_signal(signal.SIGKILL)
        acked = [int(line) for line in proc.stdout.read().split()]
        proc.wait()
        last = acked[-1] if acked else None
        live, got = asyncio.run(_found(name, state, None if last is None else f"lab:{last % 40}"))
        assert all(not d.get("done") for d in live)  # a move is whole: live or history
        if last is not None:  # the last acknowledged write, or a newer one, is there
            assert got is not None and got["seq"] >= last, (last, got)
        for path in state.rglob("*.json"):
            json.loads(path.read_text())  # never torn


async def _found(name: str, state: Path, key: str | None) -> tuple[list[Doc], Doc | None]:
    """What a restarted bot finds: the live threads, and the one under `key`."""
    backend = open_backend(name, state)
    threads = backend.collection(THREADS)
    try:
        return await threads.all(), None if key is None else await threads.get(key)
    finally:
        await backend.close()
