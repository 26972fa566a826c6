"""How long finished records (job threads, workflow runs) are kept, and their pruning."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

PRUNE_EVERY = 3600.0  # history is kept by the hour: pruning more often finds nothing


class Retention:
    """Forgets what finished longer than `seconds` ago, through the port's `prune`; at most
    once an hour (a poll tick calls it), so it costs nothing most of the time."""

    def __init__(self, seconds: float, prune: Callable[[float], Awaitable[int]]) -> None:
        self.seconds = seconds
        self._prune = prune
        self._pruned = 0.0

    def kept_since(self, now: float | None = None) -> float:
        """What finished before this is forgotten."""
        return (time.time() if now is None else now) - self.seconds

    async def prune(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        if now - self._pruned < PRUNE_EVERY:
            return 0
        self._pruned = now
        return await self._prune(self.kept_since(now))
