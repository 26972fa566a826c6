"""The journal (bot/store/journal.py): an intent inside a batch is one fsynced line, durable
when it returns; at load only what the shards missed is replayed, and a torn line is not."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from storekit import THREADS, record_writes

from bot.store import atomic, tiny
from bot.store.backend import Doc
from bot.store.journal import Journal
from bot.store.tiny import TinyBackend, TinyCollection

NOW = 1_750_000_000.0


def doc(i: int, **extra: object) -> Doc:
    return {"key": f"lab:{i}", "cluster": "lab", "channel": "C1", "thread_ts": f"1.{i}", **extra}


def threads(root: Path) -> TinyCollection:
    return TinyBackend(root).collection(THREADS)


def journal(root: Path) -> Path:
    return root / "threads.journal"


@pytest.fixture
def writes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files written durably, in order."""
    return record_writes(monkeypatch)


async def test_an_intent_in_a_batch_is_a_line_durable_before_the_batch_ends(
    tmp_path: Path, writes: list[Path]
) -> None:
    backend = TinyBackend(tmp_path)
    live = backend.collection(THREADS)
    await live.upsert_many([doc(i) for i in range(20)])
    writes.clear()
    async with backend.batch():
        for i in range(10):
            await live.upsert(doc(i, in_flight="1:RUNNING"), now=True)
        assert writes == []  # no shard rewritten per intent
        assert len(Journal(journal(tmp_path)).entries()) == 10
        assert stat.S_IMODE(journal(tmp_path).stat().st_mode) == atomic.PRIVATE_FILE
        # A crash here: a restart finds every intent, and takes the journal into its shards.
        again = threads(tmp_path)
        assert [(await again.get(f"lab:{i}") or {}).get("in_flight") for i in range(10)] == [
            "1:RUNNING"
        ] * 10
        assert journal(tmp_path).read_bytes() == b""
        for i in range(10):
            await live.upsert(doc(i, seq=1))  # the post-marks
    assert len(writes) == len({live._live.shard_of(f"lab:{i}") for i in range(10)})
    assert [(await threads(tmp_path).get(f"lab:{i}") or {}).get("seq") for i in range(3)] == [1] * 3


async def test_a_line_the_shards_hold_a_newer_state_of_is_not_replayed(tmp_path: Path) -> None:
    backend = TinyBackend(tmp_path)
    live = backend.collection(THREADS)
    async with backend.batch():
        await live.upsert(doc(1, in_flight="1:RUNNING"), now=True)
        await live.upsert(doc(2, in_flight="1:RUNNING"), now=True)
        await live.upsert(doc(1, seq=1))
        await live.to_history([doc(2, seq=1, done=True)], at=NOW)
    assert len(Journal(journal(tmp_path)).entries()) == 2  # kept: emptied at its cap or a load
    again = threads(tmp_path)
    assert await again.get("lab:1") == doc(1, seq=1)
    assert [d["key"] for d in await again.all()] == ["lab:1"]
    assert await again.get("lab:2") == doc(2, seq=1, done=True)


async def test_a_torn_last_line_is_ignored(tmp_path: Path) -> None:
    backend = TinyBackend(tmp_path)
    live = backend.collection(THREADS)
    async with backend.batch():
        await live.upsert(doc(1, seq=1), now=True)
        await live.upsert(doc(2, seq=1), now=True)
        whole = journal(tmp_path).read_bytes()
        journal(tmp_path).write_bytes(whole[:-9])  # the second append cut short by a crash
        again = threads(tmp_path)
    assert await again.get("lab:1") == doc(1, seq=1)
    assert await again.get("lab:2") is None
    line = whole.split(b"\n")[0] + b"\n"
    journal(tmp_path).write_bytes(line + b'{"n":9,"s":0,"doc":{"key"\n')  # torn mid-line
    assert [e.doc for e in Journal(journal(tmp_path)).entries()] == [doc(1, seq=1)]


async def test_the_journal_is_emptied_at_its_cap_after_the_shards_are_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writes: list[Path]
) -> None:
    monkeypatch.setattr(tiny, "JOURNAL_CAP", 500)
    backend = TinyBackend(tmp_path)
    live = backend.collection(THREADS)
    async with backend.batch():
        for i in range(12):
            await live.upsert(doc(i, seq=1), now=True)
        assert writes  # the shards went first ...
        assert journal(tmp_path).stat().st_size < 500  # ... then the journal was emptied
        assert {(await threads(tmp_path).get(f"lab:{i}") or {}).get("seq") for i in range(12)} == {
            1
        }


async def test_outside_a_batch_a_write_now_rewrites_its_shard(
    tmp_path: Path, writes: list[Path]
) -> None:
    live = threads(tmp_path)
    await live.upsert(doc(1), now=True)
    assert writes == [tmp_path / f"threads.{live._live.shard_of('lab:1')}.json"]
    assert not journal(tmp_path).exists()
