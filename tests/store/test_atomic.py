"""Every state file survives kill -9 in the middle of its writes, and is private."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tinydb import TinyDB

from bot.core.records import JobThread
from bot.core.watches.store import WatchStore
from bot.store.state import open_state
from bot.store.tiny import AtomicJSONStorage

# A writer that never stops: big documents, so a kill lands inside a write often.
WRITER = """
import sys
from tinydb import TinyDB
from bot.store.tiny import AtomicJSONStorage
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
    threads = WatchStore(open_state(tmp_path / "state"))
    thread = JobThread(cluster="lab", job_id="1", account="a", user_id="U1", channel="C1")
    await threads.save_thread(thread)
    await threads.save_thread(thread.model_copy(update={"done": True}))  # to the history
    await threads.state.prefs.set_cluster("U1", "lab")
    assert _mode(tmp_path / "state") == 0o700
    assert _mode(tmp_path / "state" / "threads.history") == 0o700
    files = list((tmp_path / "state").rglob("*.json"))
    assert len(files) >= 3 and all(_mode(f) == 0o600 for f in files)


def test_a_leftover_temp_file_of_this_process_is_not_reused_with_its_wide_mode(
    tmp_path: Path, umask_022: None
) -> None:
    storage = AtomicJSONStorage(tmp_path / "state.json")
    leftover = tmp_path / f".state.json.{os.getpid()}.tmp"  # a write that failed midway
    leftover.write_text("")
    leftover.chmod(0o644)
    storage.write({"t": {}})
    assert _mode(tmp_path / "state.json") == 0o600
