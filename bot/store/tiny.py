"""The embedded backend: TinyDB-format JSON files in the state directory, every read served
from memory (loaded once at start), every write atomic and fsynced.

Per collection: live records in `NAME.I.json` (I < spec.shards, by key), history in
`NAME.history/HOUR.PART.json`. Saving a record rewrites only its live shard; moving records
to history writes their hour's bucket first and then their shards, so a crash in between
leaves a record in both at worst, which loading resolves (the history copy wins). A write
that must be durable at once inside a batch (an intent) is a line in `NAME.journal` until the
batch writes its shard (bot/store/journal.py).
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

from tinydb.storages import Storage

from bot.store import durable
from bot.store.atomic import (
    clear_stale,
    make_private_dir,
    read_json,
    remove_durably,
    write_atomic,
)
from bot.store.backend import Doc, Fields, OneProcess, Spec
from bot.store.durable import DurableFile
from bot.store.history import History
from bot.store.journal import Journal
from bot.store.live import Live, LiveReads, stamp_of

HISTORY, LIVE = 0, 1  # write order
JOURNAL_CAP = 1 << 20  # bytes of journal (a few thousand intents) before it is emptied


class AtomicJSONStorage(Storage):
    """TinyDB's storage on these files (TinyDB's own JSONStorage rewrites in place, so a crash
    mid-write could leave the file torn)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        make_private_dir(self.path.parent)
        clear_stale(self.path.parent, self.path.name)

    def read(self) -> dict[str, dict[str, Any]] | None:
        data: dict[str, dict[str, Any]] | None = read_json(self.path)
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        write_atomic(self.path, json.dumps(data, separators=(",", ":")))

    def close(self) -> None:
        return None


class TinyCollection(LiveReads):
    def __init__(self, root: Path, spec: Spec) -> None:
        self.spec = spec
        self._live = Live(spec)
        self._journal = Journal(root / f"{spec.name}.journal")
        self._shards = [
            DurableFile(root / f"{spec.name}.{i}.json", partial(self._render, i), LIVE)
            for i in range(spec.shards)
        ]
        self._history = History(spec, root / f"{spec.name}.history") if spec.history else None
        self._buckets: dict[int, DurableFile] = {}
        self._load()

    def _render(self, shard: int) -> str:
        return self._live.render(shard, self._journal.n)

    def _load(self) -> None:
        stamps, files, misplaced = self._load_shards()
        entries = sorted(self._journal.entries(), key=lambda e: e.n)
        self._journal.n = max([*stamps.values(), *(e.n for e in entries)], default=0)
        # What the shards missed when the bot stopped: the intents of an unfinished batch.
        dirty = {self._live.put(e.doc) for e in entries if e.n > stamps.get(e.shard, 0)}
        if misplaced:  # written with another number of shards: rewrite all, drop the rest
            dirty = set(range(len(self._shards)))
        if self._history is not None:
            dirty |= self._load_history()
        for i in sorted(dirty):
            write_atomic(self._shards[i].path, self._render(i))
        if misplaced:
            for path in set(files) - {f.path for f in self._shards}:
                remove_durably(path)
        if entries:  # every line is in a durable shard now
            self._journal.clear()

    def _load_shards(self) -> tuple[dict[int, int], list[Path], bool]:
        """The live files, each one's journal stamp by its number, and whether a record was
        in another shard than this number of shards puts it."""
        files = sorted(self._shards[0].path.parent.glob(f"{self.spec.name}.*.json"))
        files = [p for p in files if p.name.split(".")[1].isdigit()]
        stamps: dict[int, int] = {}
        misplaced = False
        for path in files:
            data = AtomicJSONStorage(path).read() or {}
            stamps[int(path.name.split(".")[1])] = stamp_of(data)
            for doc in data.get(self.spec.name, {}).values():
                shard = self._live.put(doc)
                misplaced |= path != self._shards[shard].path
        return stamps, files, misplaced

    def _load_history(self) -> set[int]:
        """Loads the history; returns the shards to rewrite where a crash came between a
        move's two writes (the record is in its history bucket already: the move finishes)."""
        assert self._history is not None
        make_private_dir(self._history.folder)
        self._history.load()
        key = (self.spec.key,)
        moved = [
            k
            for k, text in list(self._live.texts())
            if self._history.find(key, (k,)) == json.loads(text)
        ]
        return {s for k in moved if (s := self._live.pop(k)) is not None}

    def _from_history(self, fields: Fields, match: tuple[Any, ...]) -> Doc | None:
        return self._history.find(fields, match) if self._history else None

    async def upsert(self, doc: Doc, *, now: bool = False) -> None:
        shard = self._live.put(doc)
        if not (now and durable.batching()):
            await self._commit([self._shards[shard]], now=now)
            return
        # Durable at once inside a batch: a journal line now, its shard at the batch's end.
        n, text = self._journal.number(), self._live.get(str(doc[self.spec.key]))
        assert text is not None
        await self._commit([self._shards[shard]])
        await self._journal.append(n, shard, text)
        if self._journal.size > JOURNAL_CAP:
            await self._compact()

    async def _compact(self) -> None:
        """Every shard durable, then the journal emptied: under the journal's lock, so that
        no line appended in between is lost."""
        async with self._journal.lock:
            if self._journal.size > JOURNAL_CAP:  # not done by another task meanwhile
                await durable.commit(self._shards, now=True)
                await asyncio.to_thread(self._journal.clear)

    async def upsert_many(self, docs: Iterable[Doc]) -> None:
        await self._commit(self._shards[self._live.put(d)] for d in docs)

    async def remove(self, keys: Iterable[str]) -> None:
        await self._commit(self._shards[i] for k in keys if (i := self._live.pop(k)) is not None)

    async def to_history(
        self, docs: Iterable[Doc], at: float | None = None, *, now: bool = False
    ) -> None:
        if self._history is None:
            raise ValueError(f"{self.spec.name} keeps no history")
        when = time.time() if at is None else at
        files: list[DurableFile] = []
        for doc in docs:
            files.append(self._bucket(self._history.add(doc, when)))
            shard = self._live.pop(str(doc[self.spec.key]))
            if shard is not None:
                files.append(self._shards[shard])
        await self._commit(files, now=now)

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

    async def _commit(self, files: Iterable[DurableFile], now: bool = False) -> None:
        touched = set(files)
        for f in touched:
            f.changed()
        await durable.commit(touched, now=now)


class TinyBackend:
    def __init__(self, root: Path) -> None:
        make_private_dir(root)
        self.root = root
        self._collections: dict[str, TinyCollection] = {}
        self.leases = OneProcess()  # one process per state dir: it leads every cluster

    async def describe(self) -> str:
        return f"TinyDB files in {self.root.absolute()} (one process)"

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
