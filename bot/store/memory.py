"""A backend that keeps everything in memory and writes nothing: the console's session-only
state, and a second backend for the contract tests."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from bot.store.backend import Doc, Fields, OneProcess, Spec
from bot.store.history import HOUR
from bot.store.live import Live, LiveReads, values


def _copy(doc: Doc) -> Doc:
    copied: Doc = json.loads(json.dumps(doc))
    return copied


class MemoryCollection(LiveReads):
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self._live = Live(spec)
        self._history: list[tuple[int, Doc]] = []  # (hour finished, record), oldest first

    def _from_history(self, fields: Fields, match: tuple[Any, ...]) -> Doc | None:
        found = [(h, i) for i, (h, d) in enumerate(self._history) if values(d, fields) == match]
        return _copy(self._history[max(found)[1]][1]) if found else None

    async def upsert(self, doc: Doc, *, now: bool = False) -> None:
        self._live.put(doc)

    async def upsert_many(self, docs: Iterable[Doc]) -> None:
        for doc in docs:
            self._live.put(doc)

    async def remove(self, keys: Iterable[str]) -> None:
        for key in keys:
            self._live.pop(key)

    async def to_history(
        self, docs: Iterable[Doc], at: float | None = None, *, now: bool = False
    ) -> None:
        if not self.spec.history:
            raise ValueError(f"{self.spec.name} keeps no history")
        hour = int((time.time() if at is None else at) // HOUR)
        for doc in docs:
            self._history.append((hour, _copy(doc)))
            self._live.pop(str(doc[self.spec.key]))

    async def prune(self, before: float) -> int:
        cut = int(before // HOUR)  # whole hours, as the file backend prunes
        kept = [(h, d) for h, d in self._history if h >= cut]
        gone = len(self._history) - len(kept)
        self._history = kept
        return gone


class MemoryBackend:
    def __init__(self) -> None:
        self._collections: dict[str, MemoryCollection] = {}
        self.leases = OneProcess()

    async def describe(self) -> str:
        return "memory (this process only; nothing is kept)"

    def collection(self, spec: Spec) -> MemoryCollection:
        have = self._collections.setdefault(spec.name, MemoryCollection(spec))
        if have.spec != spec:
            raise ValueError(f"collection {spec.name} opened twice with different specs")
        return have

    def batch(self) -> AbstractAsyncContextManager[None]:
        return _nothing()

    async def close(self) -> None:
        self._collections.clear()


@asynccontextmanager
async def _nothing() -> AsyncIterator[None]:
    yield
