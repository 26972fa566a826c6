"""A user's default cluster: in memory, persisted when the bot has a store, read once."""

from __future__ import annotations

from pathlib import Path

from bot.core.prefs import Prefs
from bot.store.state import open_state


async def test_without_a_store_prefs_last_the_session() -> None:
    prefs = Prefs()
    await prefs.load()
    assert prefs.default_cluster("U1") is None
    await prefs.set_default_cluster("U1", "lab")
    assert prefs.default_cluster("U1") == "lab" and prefs.default_cluster("U2") is None


async def test_a_stored_default_is_read_back_by_the_next_process(tmp_path: Path) -> None:
    state = open_state(tmp_path)
    await Prefs(state.prefs).set_default_cluster("U1", "jump")
    await state.close()
    state = open_state(tmp_path)
    prefs = Prefs(state.prefs)
    assert prefs.default_cluster("U1") is None  # not read before `load`
    await prefs.load()
    assert prefs.default_cluster("U1") == "jump"
    await state.close()
