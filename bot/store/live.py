"""Live records in memory, as their JSON text (compact, and a file is written by joining the
texts), spread over shards by key, with the declared indexes kept up to date."""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any

from bot.store.backend import Doc, Fields, Spec

STAMP = "journal"  # the table holding a live file's journal stamp


def dumps(doc: Doc) -> str:
    return json.dumps(doc, separators=(",", ":"))


def table_text(name: str, texts: Iterator[str] | list[str], stamp: int = 0) -> str:
    """A TinyDB file with one table (TinyDB can open every file the store writes), and the
    journal's stamp (bot/store/journal.py) in a table of its own once there is one."""
    rows = ",".join(f'"{i}":{text}' for i, text in enumerate(texts, 1))
    stamped = f',"{STAMP}":{{"1":{{"n":{stamp}}}}}' if stamp else ""
    return f'{{"{name}":{{{rows}}}{stamped}}}'


def stamp_of(data: dict[str, Any]) -> int:
    n: int = data.get(STAMP, {}).get("1", {}).get("n", 0)
    return n


def values(doc: Doc, fields: Fields) -> tuple[Any, ...]:
    return tuple(doc.get(f) for f in fields)


class Live:
    def __init__(self, spec: Spec) -> None:
        self.spec = spec
        self.shards: list[dict[str, str]] = [{} for _ in range(spec.shards)]
        self._index: dict[Fields, dict[tuple[Any, ...], set[str]]] = {
            f: {} for f in (*spec.indexes, *spec.unique)
        }

    def shard_of(self, key: str) -> int:
        return zlib.crc32(key.encode()) % len(self.shards)

    def get(self, key: str) -> str | None:
        return self.shards[self.shard_of(key)].get(key)

    def put(self, doc: Doc) -> int:
        """Add or replace; returns the shard written."""
        key = str(doc[self.spec.key])
        i = self.shard_of(key)
        old = self.shards[i].get(key)
        if old is not None:
            self._unindex(key, json.loads(old))
        self.shards[i][key] = dumps(doc)
        for fields, index in self._index.items():
            index.setdefault(values(doc, fields), set()).add(key)
        return i

    def pop(self, key: str) -> int | None:
        """Remove; returns the shard written, None when there was no such record."""
        i = self.shard_of(key)
        old = self.shards[i].pop(key, None)
        if old is None:
            return None
        self._unindex(key, json.loads(old))
        return i

    def keys(self, fields: Fields, match: tuple[Any, ...]) -> list[str]:
        return sorted(self._index[fields].get(match, ()))

    def texts(self) -> Iterator[tuple[str, str]]:
        for shard in self.shards:
            yield from shard.items()

    def render(self, shard: int, stamp: int = 0) -> str:
        return table_text(self.spec.name, list(self.shards[shard].values()), stamp)

    def _unindex(self, key: str, doc: Doc) -> None:
        for fields, index in self._index.items():
            v = values(doc, fields)
            keys = index.get(v)
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del index[v]


class LiveReads:
    """The reads every backend serves from its live records in memory, falling back to its
    history (`_from_history`) for a key or a unique index."""

    spec: Spec
    _live: Live

    def _from_history(self, fields: Fields, match: tuple[Any, ...]) -> Doc | None:
        return None

    async def get(self, key: str) -> Doc | None:
        text = self._live.get(key)
        if text is not None:
            doc: Doc = json.loads(text)
            return doc
        return self._from_history((self.spec.key,), (key,))

    async def find_json(self, **match: Any) -> list[str]:
        fields = tuple(match)
        self.spec.check(fields, (*self.spec.indexes, *self.spec.unique))
        found = (self._live.get(k) for k in self._live.keys(fields, tuple(match.values())))
        return [text for text in found if text is not None]

    async def find(self, **match: Any) -> list[Doc]:
        return [json.loads(text) for text in await self.find_json(**match)]

    async def find_one(self, **match: Any) -> Doc | None:
        self.spec.check(tuple(match), self.spec.unique)
        live = await self.find(**match)
        return live[-1] if live else self._from_history(tuple(match), tuple(match.values()))

    async def all_json(self) -> list[str]:
        return [text for _, text in self._live.texts()]

    async def all(self) -> list[Doc]:
        return [json.loads(text) for text in await self.all_json()]

    async def insert(self, doc: Doc) -> bool:
        if self._live.get(str(doc[self.spec.key])) is not None:
            return False
        await self.upsert(doc)
        return True

    async def upsert(self, doc: Doc, *, now: bool = False) -> None:
        raise NotImplementedError

    async def replace_if(self, doc: Doc, expect: dict[str, Any]) -> bool:
        # One process, one event loop: nothing runs between the look and the write.
        text = self._live.get(str(doc[self.spec.key]))
        if text is None:
            return False
        current = json.loads(text)
        if any(current.get(k) != v for k, v in expect.items()):
            return False
        await self.upsert(doc, now=True)
        return True
