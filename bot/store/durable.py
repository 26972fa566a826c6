"""A file whose content is rendered from memory, and batches of them written together.

Writes of one file run one at a time, each of the newest content; a write that finds its
change already on disk (written by a later caller) returns at once, so concurrent saves of
one file cost one write. Within `batch()` a task's writes wait for the batch's end, except
those committed `now`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path

from bot.store.atomic import write_atomic

_batch: ContextVar[set[DurableFile] | None] = ContextVar("store_batch", default=None)


class DurableFile:
    def __init__(
        self,
        path: Path,
        render: Callable[[], str],
        order: int = 0,
        on_written: Callable[[], None] | None = None,
    ) -> None:
        self.path = path
        self.order = order  # lower orders are written first (history before live)
        self._render = render
        self._on_written = on_written
        self._version = 0
        self._durable = 0
        self._lock = asyncio.Lock()

    def changed(self) -> None:
        self._version += 1

    async def write(self) -> None:
        wanted = self._version
        async with self._lock:
            if self._durable >= wanted:
                return
            version, text = self._version, self._render()
            await asyncio.to_thread(write_atomic, self.path, text)
            self._durable = version
            if self._durable == self._version and self._on_written is not None:
                self._on_written()


def batching() -> bool:
    """Whether this task's writes wait for a batch's end."""
    return _batch.get() is not None


async def commit(files: Iterable[DurableFile], now: bool = False) -> None:
    """Make the files' changes durable now, or at the end of the current batch."""
    pending = _batch.get()
    if pending is not None and not now:
        pending.update(files)
        return
    files = set(files)
    if pending:  # a write now must not overtake the pending ones it depends on (history
        # before live: a record moved out of a live file is in its history file first)
        top = max((f.order for f in files), default=0)
        files |= {f for f in pending if f.order < top}
    by_order: dict[int, list[DurableFile]] = {}
    for f in files:
        by_order.setdefault(f.order, []).append(f)
    for order in sorted(by_order):
        await asyncio.gather(*(f.write() for f in by_order[order]))


@asynccontextmanager
async def batch() -> AsyncIterator[None]:
    if _batch.get() is not None:  # nested: the outer batch writes
        yield
        return
    files: set[DurableFile] = set()
    token = _batch.set(files)
    try:
        yield
    finally:
        _batch.reset(token)
        await commit(files)
