"""Where the state lives (`open_state`): files in a directory, or memory for a session; the
Slack retry filter's ids seen once, and swept once expired."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.store import state as st
from bot.store.memory import MemoryBackend
from bot.store.state import open_state
from bot.store.tiny import TinyBackend


async def test_a_directory_holds_the_state_over_a_restart(tmp_path: Path) -> None:
    s = open_state(tmp_path)
    assert isinstance(s.backend, TinyBackend)
    await s.prefs.set_cluster("U1", "lab")
    await s.close()
    assert any(tmp_path.iterdir())
    s = open_state(tmp_path)
    assert await s.prefs.clusters() == {"U1": "lab"}
    await s.close()


async def test_without_a_directory_the_state_is_the_sessions_own() -> None:
    a, b = open_state(None), open_state(None)
    assert isinstance(a.backend, MemoryBackend)
    await a.prefs.set_cluster("U1", "lab")
    assert await b.prefs.clusters() == {}
    await a.close()
    await b.close()


async def test_an_id_is_seen_once_until_it_expires() -> None:
    seen = open_state(None).seen
    assert await seen.first("Ev1", at=100.0, expired=0.0)
    assert not await seen.first("Ev1", at=101.0, expired=0.0)  # Slack's retry
    assert await seen.first("Ev1", at=900.0, expired=500.0)  # long gone: new again


async def test_expired_ids_are_swept_every_so_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(st, "SEEN_SWEEP", 3)
    s = open_state(None)
    for i, at in enumerate((1.0, 2.0, 50.0)):
        await s.seen.first(f"E{i}", at=at, expired=10.0)
    kept = await s.backend.collection(st.SEEN).all()
    assert [d["id"] for d in kept] == ["E2"]


async def test_applying_no_change_to_watches_writes_nothing() -> None:
    s = open_state(None)
    await s.watches.apply([], [])
    assert await s.watches.of_user() == []
