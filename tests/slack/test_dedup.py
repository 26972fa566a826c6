"""Slack retries: an id is handled once while it is remembered."""

from __future__ import annotations

from bot.slack.dedup import RecentIds


def test_recent_ids_once_within_ttl() -> None:
    seen = RecentIds(ttl=60, max_size=3)
    assert seen.first_time("a") and not seen.first_time("a")
    for k in "bcd":
        assert seen.first_time(k)
    assert seen.first_time("a")  # evicted by size
