"""Slack redelivers events it thinks failed (same event_id, `X-Slack-Retry-Num`, or a Socket
Mode envelope's `retry_attempt`). Remembering recent ids makes each command run once.

Ids are kept in memory (the fast path) and, with a store, in the state too: a restart, or
another process on the same state, still knows them."""

from __future__ import annotations

import time
from collections import OrderedDict

from bot.store.port import Seen


class RecentIds:
    def __init__(
        self, store: Seen | None = None, ttl: float = 3600.0, max_size: int = 10_000
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._max = max_size
        self._seen: OrderedDict[str, float] = OrderedDict()

    async def first_time(self, key: str) -> bool:
        """True the first time `key` is seen within the TTL; False for a redelivery."""
        now = time.time()
        while self._seen and (
            len(self._seen) >= self._max or next(iter(self._seen.values())) < now - self._ttl
        ):
            self._seen.popitem(last=False)
        if key in self._seen:
            return False
        self._seen[key] = now
        return self._store is None or await self._store.first(key, now, now - self._ttl)
