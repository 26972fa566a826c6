"""Below the storage port (bot/store/port.py): keyed collections of JSON records, and a batch.

Every backend serves the same small interface (the contract in tests/store/): records are
JSON objects under a key field; `find` looks live records up by a declared index; a collection
with history moves finished records out of the live set (so saving one live record never
rewrites every finished one), still finds them by key or by a unique index, and prunes them
after the retention. `batch()` turns the writes inside it into one durable write; a write
with `now=True` is durable when it returns even inside a batch (an intent before its post).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Protocol

Doc = dict[str, Any]
Fields = tuple[str, ...]


@dataclass(frozen=True)
class Spec:
    name: str
    key: str = "id"  # the field that holds each record's key (a string)
    indexes: tuple[Fields, ...] = ()  # `find` on live records, e.g. ("kind", "cluster")
    # One record per value (the newest wins), found live or in history, e.g. a job's
    # (channel, thread_ts).
    unique: tuple[Fields, ...] = ()
    history: bool = False
    shards: int = 1  # live files: one write rewrites 1/shards of the live records

    def check(self, fields: Fields, among: Iterable[Fields]) -> None:
        if fields not in among:
            raise ValueError(f"{self.name}: no index on {', '.join(fields)}")


class Collection(Protocol):
    spec: Spec

    async def get(self, key: str) -> Doc | None:
        """The live record, else the newest one in history."""
        ...

    async def find(self, **match: Any) -> list[Doc]:
        """Live records whose fields equal `match` (the fields of an index or unique)."""
        ...

    async def find_json(self, **match: Any) -> list[str]:
        """`find`, each record as its JSON text (for a model to parse in one step)."""
        ...

    async def find_one(self, **match: Any) -> Doc | None:
        """By a unique index: the live record, else the newest one in history."""
        ...

    async def all(self) -> list[Doc]:
        """Every live record."""
        ...

    async def all_json(self) -> list[str]:
        """`all`, each record as its JSON text."""
        ...

    async def insert(self, doc: Doc) -> bool:
        """Add `doc` unless a live record has its key; whether it was added."""
        ...

    async def upsert(self, doc: Doc, *, now: bool = False) -> None: ...

    async def replace_if(self, doc: Doc, expect: dict[str, Any]) -> bool:
        """Replace the live record with `doc`'s key by `doc`, only if its fields equal
        `expect` (a missing field equals None), atomically among every process sharing the
        backend; whether it was replaced. Durable when it returns, batch or not."""
        ...

    async def upsert_many(self, docs: Iterable[Doc]) -> None:
        """Many records in one durable write."""
        ...

    async def remove(self, keys: Iterable[str]) -> None: ...

    async def to_history(
        self, docs: Iterable[Doc], at: float | None = None, *, now: bool = False
    ) -> None:
        """Records' final states leave the live set (finished at `at`, default now)."""
        ...

    async def prune(self, before: float) -> int:
        """Drop history finished before `before` (to the hour); how many records went."""
        ...


class Leases(Protocol):
    async def hold(self, name: str) -> bool: ...

    def held(self) -> list[str]: ...


class OneProcess:
    """The leases of a backend only one process uses (files, memory): it holds them all."""

    def __init__(self) -> None:
        self._held: set[str] = set()

    async def hold(self, name: str) -> bool:
        self._held.add(name)
        return True

    def held(self) -> list[str]:
        return sorted(self._held)


class Backend(Protocol):
    def collection(self, spec: Spec) -> Collection: ...

    @property
    def leases(self) -> Leases: ...

    async def describe(self) -> str:
        """What and where it is, and whether it answers; never a password."""
        ...

    def batch(self) -> AbstractAsyncContextManager[None]:
        """Writes inside (by this task) become durable together when it exits."""
        ...

    async def close(self) -> None: ...
