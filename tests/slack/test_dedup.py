"""Slack retries: an id is handled once while it is remembered, across a restart too."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.slack.dedup import RecentIds
from bot.store.state import open_state


async def test_recent_ids_once_within_ttl() -> None:
    seen = RecentIds(ttl=60, max_size=3)
    assert await seen.first_time("a") and not await seen.first_time("a")
    for k in "bcd":
        assert await seen.first_time(k)
    assert await seen.first_time("a")  # evicted by size


async def test_a_restart_or_another_process_on_the_state_still_knows_an_id(
    tmp_path: Path,
) -> None:
    assert await RecentIds(open_state(tmp_path / "state").seen).first_time("event:Ev1")
    again = RecentIds(open_state(tmp_path / "state").seen)  # restarted: memory is empty
    assert not await again.first_time("event:Ev1")
    state = open_state(None)
    one, two = RecentIds(state.seen), RecentIds(state.seen)  # two processes, one state
    assert await one.first_time("view:V1") and not await two.first_time("view:V1")


async def test_a_stored_id_expires_with_the_ttl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_000.0]
    monkeypatch.setattr(time, "time", lambda: now[0])
    state = open_state(tmp_path / "state")
    assert await RecentIds(state.seen, ttl=60).first_time("command:T1")
    now[0] += 30
    assert not await RecentIds(state.seen, ttl=60).first_time("command:T1")
    now[0] += 61
    assert await RecentIds(state.seen, ttl=60).first_time("command:T1")
