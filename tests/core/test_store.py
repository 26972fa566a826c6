"""The store survives kill -9 in the middle of writes, every time."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tinydb import TinyDB

from bot.core.store import AtomicJSONStorage, Store

# A writer that never stops: big documents, so a kill lands inside a write often.
WRITER = """
import sys
from tinydb import TinyDB
from bot.core.store import AtomicJSONStorage
db = TinyDB(sys.argv[1], storage=AtomicJSONStorage)
t = db.table("watches")
print("ready", flush=True)
i = 0
while True:
    t.insert({"i": i, "pad": "x" * 2000})
    if i % 7 == 0:
        t.update({"seen": i}, doc_ids=[1])
    i += 1
"""


def test_kill_9_during_writes_never_corrupts(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    rng = random.Random(7)
    counts = []
    for _ in range(100):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)], stdout=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.03))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        json.loads(path.read_text())  # whole JSON, never torn
        counts.append(len(TinyDB(path, storage=AtomicJSONStorage).table("watches")))
    assert counts == sorted(counts)  # nothing that was written is ever lost
    assert counts[-1] > 0
    assert not list(tmp_path.glob(".*.tmp")) or all(
        p.stat().st_size >= 0 for p in tmp_path.glob(".*.tmp")
    )


async def test_store_serializes_access(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.json")

    def insert(i: int) -> Callable[[TinyDB], int]:
        return lambda db: int(db.table("t").insert({"i": i}))

    await asyncio.gather(*(store.run(insert(i)) for i in range(50)))
    assert await store.run(lambda db: len(db.table("t"))) == 50
    store.close()
    assert len(TinyDB(tmp_path / "s.json", storage=AtomicJSONStorage).table("t")) == 50
