"""The embedded backend: TinyDB-format JSON files in the state directory, every read served
from memory (loaded once at start), every write atomic and fsynced.

Per collection: live records in `NAME.I.json` (I < spec.shards, by key), history in
`NAME.history/HOUR.PART.json`. Saving a record rewrites only its live shard; moving records
to history writes their hour's bucket first and then their shards, so a crash in between
leaves a record in both at worst, which loading resolves (the history copy wins).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from functools import partial
from pathlib import Path
from typing import Any

from bot.store import durable
from bot.store.atomic import AtomicJSONStorage, make_private_dir, remove_durably, write_atomic
from bot.store.durable import DurableFile
from bot.store.history import History
from bot.store.live import Live
from bot.store.port import Doc, Spec

HISTORY, LIVE = 0, 1  # write order


class TinyCollection:
    def __init__(self, root: Path, spec: Spec) -> None:
        self.spec = spec
        self._live = Live(spec)
        self._shards = [
            DurableFile(root / f"{spec.name}.{i}.json", partial(self._live.render, i), LIVE)
            for i in range(spec.shards)
        ]
        self._history = History(spec, root / f"{spec.name}.history") if spec.history else None
        self._buckets: dict[int, DurableFile] = {}
        self._load()

    def _load(self) -> None:
        files = sorted(self._shards[0].path.parent.glob(f"{self.spec.name}.*.json"))
        files = [p for p in files if p.name.split(".")[1].isdigit()]
        misplaced = False
        for path in files:
            data = AtomicJSONStorage(path).read() or {}
            for doc in data.get(self.spec.name, {}).values():
                shard = self._live.put(doc)
                misplaced |= path != self._shards[shard].path
        if misplaced:  # written with another number of shards: rewrite, then drop the rest
            for i, f in enumerate(self._shards):
                write_atomic(f.path, self._live.render(i))
            for path in set(files) - {f.path for f in self._shards}:
                remove_durably(path)
        if self._history is None:
            return
        make_private_dir(self._history.folder)
        self._history.load()
        key = (self.spec.key,)
        moved = [  # a crash came between a move's two writes: finish the move
            k
            for k, text in list(self._live.texts())
            if self._history.find(key, (k,)) == json.loads(text)
        ]
        for i in {s for k in moved if (s := self._live.pop(k)) is not None}:
            write_atomic(self._shards[i].path, self._live.render(i))

    async def get(self, key: str) -> Doc | None:
        text = self._live.get(key)
        if text is not None:
            doc: Doc = json.loads(text)
            return doc
        return self._history.find((self.spec.key,), (key,)) if self._history else None

    async def find(self, **match: Any) -> list[Doc]:
        fields = tuple(match)
        self.spec.check(fields, (*self.spec.indexes, *self.spec.unique))
        found = (self._live.get(k) for k in self._live.keys(fields, tuple(match.values())))
        return [json.loads(text) for text in found if text is not None]

    async def find_one(self, **match: Any) -> Doc | None:
        fields = tuple(match)
        self.spec.check(fields, self.spec.unique)
        live = await self.find(**match)
        if live:
            return live[-1]
        if self._history is None:
            return None
        return self._history.find(fields, tuple(match.values()))

    async def all(self) -> list[Doc]:
        return [json.loads(text) for _, text in self._live.texts()]

    async def insert(self, doc: Doc) -> bool:
        if self._live.get(str(doc[self.spec.key])) is not None:
            return False
        await self.upsert(doc)
        return True

    async def upsert(self, doc: Doc) -> None:
        await self.upsert_many([doc])

    async def upsert_many(self, docs: Iterable[Doc]) -> None:
        await self._commit(self._shards[self._live.put(d)] for d in docs)

    async def remove(self, keys: Iterable[str]) -> None:
        await self._commit(self._shards[i] for k in keys if (i := self._live.pop(k)) is not None)

    async def to_history(self, docs: Iterable[Doc], at: float | None = None) -> None:
        if self._history is None:
            raise ValueError(f"{self.spec.name} keeps no history")
        when = time.time() if at is None else at
        files: list[DurableFile] = []
        for doc in docs:
            files.append(self._bucket(self._history.add(doc, when)))
            shard = self._live.pop(str(doc[self.spec.key]))
            if shard is not None:
                files.append(self._shards[shard])
        await self._commit(files)

    async def prune(self, before: float) -> int:
        if self._history is None:
            return 0
        gone = self._history.expired(before)
        paths = [self._history.path(b) for b in gone]
        for b in gone:
            self._buckets.pop(b, None)
        count = self._history.forget(gone)
        for path in paths:
            await asyncio.to_thread(remove_durably, path)
        return count

    def _bucket(self, bucket: int) -> DurableFile:
        assert self._history is not None
        f = self._buckets.get(bucket)
        if f is None:
            h = self._history
            f = DurableFile(
                h.path(bucket), partial(h.render, bucket), HISTORY, partial(h.written, bucket)
            )
            self._buckets[bucket] = f
        return f

    async def _commit(self, files: Iterable[DurableFile]) -> None:
        touched = set(files)
        for f in touched:
            f.changed()
        await durable.commit(touched)


class TinyBackend:
    def __init__(self, root: Path) -> None:
        make_private_dir(root)
        self.root = root
        self._collections: dict[str, TinyCollection] = {}

    def collection(self, spec: Spec) -> TinyCollection:
        """The collection, loaded from its files the first time it is asked for."""
        have = self._collections.get(spec.name)
        if have is None:
            have = self._collections[spec.name] = TinyCollection(self.root, spec)
        elif have.spec != spec:
            raise ValueError(f"collection {spec.name} opened twice with different specs")
        return have

    def batch(self) -> AbstractAsyncContextManager[None]:
        return durable.batch()

    async def close(self) -> None:
        self._collections.clear()  # every write is durable when it returns
