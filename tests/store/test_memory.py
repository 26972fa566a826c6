"""The memory backend (the console's session state): one collection per spec, nothing kept
past `close`. The contract it shares with the file backend is tests/store/test_backend.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store.backend import Spec
from bot.store.memory import MemoryBackend

SPEC = Spec("threads", key="key", unique=(("channel", "ts"),), history=True)


async def test_a_collection_opened_again_is_the_same_one() -> None:
    backend = MemoryBackend()
    await backend.collection(SPEC).upsert({"key": "lab:1", "channel": "C1", "ts": "1"})
    assert await backend.collection(SPEC).get("lab:1") is not None
    with pytest.raises(ValueError, match="opened twice with different specs"):
        backend.collection(Spec("threads"))


async def test_records_are_copies_a_caller_cannot_change_behind_its_back() -> None:
    c = MemoryBackend().collection(SPEC)
    tags = ["a"]
    doc = {"key": "lab:1", "channel": "C1", "ts": "1", "tags": tags}
    await c.upsert(doc)
    tags.append("b")
    await c.to_history([doc])
    tags.append("c")
    found = await c.find_one(channel="C1", ts="1")
    assert found is not None and found["tags"] == ["a", "b"]


async def test_only_a_spec_with_history_keeps_one() -> None:
    c = MemoryBackend().collection(Spec("prefs", key="user_id"))
    with pytest.raises(ValueError, match="prefs keeps no history"):
        await c.to_history([{"user_id": "U1"}])


async def test_it_writes_nothing_and_forgets_everything_on_close(tmp_path: Path) -> None:
    backend = MemoryBackend()
    async with backend.batch():
        await backend.collection(SPEC).upsert({"key": "lab:1", "channel": "C1", "ts": "1"})
    await backend.close()
    assert await backend.collection(SPEC).all() == [] and list(tmp_path.iterdir()) == []
