"""The store survives kill -9 in the middle of writes, every time."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tinydb import TinyDB

from bot.core.audit import AuditLog
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


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)  # the usual umask, under which files come out world-readable
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_state_dir_and_file_are_private_under_umask_022(
    tmp_path: Path, umask_022: None
) -> None:
    store = Store(tmp_path / "state" / "state.json")
    await store.run(lambda db: db.table("t").insert({"token": "x"}))
    store.close()
    assert _mode(tmp_path / "state") == 0o700
    assert _mode(tmp_path / "state" / "state.json") == 0o600


def test_a_leftover_temp_file_of_this_process_is_not_reused_with_its_wide_mode(
    tmp_path: Path, umask_022: None
) -> None:
    storage = AtomicJSONStorage(tmp_path / "state.json")
    leftover = tmp_path / f".state.json.{os.getpid()}.tmp"  # a write that failed midway
    leftover.write_text("")
    leftover.chmod(0o644)
    storage.write({"t": {}})
    assert _mode(tmp_path / "state.json") == 0o600


async def test_audit_log_is_private_under_umask_022(tmp_path: Path, umask_022: None) -> None:
    audit = AuditLog(tmp_path / "state" / "audit.jsonl")
    await audit.record(user="U1", channel=None, account="a", command="list", outcome="ok")
    assert _mode(tmp_path / "state") == 0o700
    assert _mode(tmp_path / "state" / "audit.jsonl") == 0o600
