"""The embedded backend's own promises: what it writes, how little, and how it loads."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from storekit import THREADS, record_writes
from tinydb import TinyDB

from bot.store import atomic, history
from bot.store.backend import Doc, Spec
from bot.store.tiny import AtomicJSONStorage, TinyBackend

NOW = 1_750_000_000.0


def doc(i: int, **extra: object) -> Doc:
    return {"key": f"lab:{i}", "cluster": "lab", "channel": "C1", "thread_ts": f"1.{i}", **extra}


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files written durably, in order."""
    return record_writes(monkeypatch)


async def test_saving_one_record_rewrites_only_its_shard(
    tmp_path: Path, writes: list[Path]
) -> None:
    threads = TinyBackend(tmp_path).collection(THREADS)
    await threads.upsert_many([doc(i) for i in range(100)])
    assert len(writes) == THREADS.shards
    writes.clear()
    await threads.upsert(doc(7, seq=1))
    assert writes == [tmp_path / f"threads.{threads._live.shard_of('lab:7')}.json"]


async def test_a_batch_writes_each_file_once_history_first(
    tmp_path: Path, writes: list[Path]
) -> None:
    backend = TinyBackend(tmp_path)
    threads = backend.collection(THREADS)
    await threads.upsert_many([doc(i) for i in range(100)])
    writes.clear()
    async with backend.batch():
        for i in range(100):
            await threads.upsert(doc(i, seq=1))
        await threads.to_history([doc(3, done=True)], at=NOW)
        assert writes == []
    assert writes[0].parent.name == "threads.history"
    assert sorted(p.name for p in writes[1:]) == [f"threads.{i}.json" for i in range(4)]


async def test_files_are_private_and_tinydb_reads_them(tmp_path: Path) -> None:
    state = tmp_path / "state"
    threads = TinyBackend(state).collection(THREADS)
    await threads.upsert(doc(1))
    await threads.to_history([doc(2, done=True)], at=NOW)
    for folder in (state, state / "threads.history"):
        assert stat.S_IMODE(folder.stat().st_mode) == atomic.PRIVATE_DIR
    files = sorted(state.rglob("*.json"))  # one live shard and one hour of history
    assert len(files) == 2
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == atomic.PRIVATE_FILE
    docs = [d for p in files for d in TinyDB(p, storage=AtomicJSONStorage).table("threads")]
    assert sorted(d["key"] for d in docs) == ["lab:1", "lab:2"]


async def test_loading_finishes_a_move_a_crash_interrupted(tmp_path: Path) -> None:
    threads = TinyBackend(tmp_path).collection(THREADS)
    await threads.upsert_many([doc(1), doc(2)])
    shard_file = tmp_path / f"threads.{threads._live.shard_of('lab:1')}.json"
    before = shard_file.read_text()
    await threads.to_history([doc(1)], at=NOW)  # the same record: written to history ...
    shard_file.write_text(before)  # ... but the crash came before its shard was rewritten
    again = TinyBackend(tmp_path).collection(THREADS)
    assert [d["key"] for d in await again.all()] == ["lab:2"]
    assert await again.get("lab:1") == doc(1)
    assert "lab:1" not in shard_file.read_text()


async def test_another_number_of_shards_is_taken_over(tmp_path: Path) -> None:
    one = Spec("threads", key="key", indexes=(("cluster",),), shards=1)
    await TinyBackend(tmp_path).collection(one).upsert_many([doc(i) for i in range(30)])
    threads = TinyBackend(tmp_path).collection(THREADS)
    assert len(await threads.find(cluster="lab")) == 30
    assert len(list(tmp_path.glob("threads.*.json"))) == THREADS.shards
    assert len(await TinyBackend(tmp_path).collection(THREADS).all()) == 30


async def test_history_splits_busy_hours_and_finds_beyond_its_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history, "BUCKET_CAP", 10)
    threads = TinyBackend(tmp_path).collection(THREADS)
    await threads.to_history([doc(i, done=True) for i in range(100)], at=NOW)  # 10 files
    await threads.to_history([doc(i, done=True) for i in range(100, 200)], at=NOW - 86400)
    assert len(list((tmp_path / "threads.history").glob("*.json"))) == 20
    for t in (threads, TinyBackend(tmp_path).collection(THREADS)):
        for i in range(0, 200, 7):
            assert await t.find_one(channel="C1", thread_ts=f"1.{i}") == doc(i, done=True)
    assert await threads.prune(NOW - 3600) == 100
    assert json.loads(next((tmp_path / "threads.history").glob("*.json")).read_text())
