"""The storage port (bot/store/port.py) on a backend's collections, and where the state lives.

`open_state(dir)`: TinyDB-format files in `dir` (an old single `state.json` there is imported
first, once); `open_state(None)`: memory only, for a session (the console);
`open_store(url, dir)`: PostgreSQL at `url` (shared by replicas), else the files in `dir`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from bot.store.backend import Backend, Collection, Doc, Leases, Spec
from bot.store.history import HOUR

if TYPE_CHECKING:
    from bot.store.legacy import Legacy

THREADS = Spec(
    "threads",
    key="key",
    indexes=(("cluster",),),
    unique=(("channel", "thread_ts"),),
    history=True,
    shards=16,  # 10k open threads: one save rewrites ~600 of them
)
WATCHES = Spec("watches", indexes=(("kind", "cluster"), ("user_id",)), shards=8)
REPORTS = Spec("reports", indexes=(("user_id",),))
# Active runs live (a save rewrites an eighth of them, never a finished one), finished ones in
# history by the hour they ended; FLOW_OWNERS lists these by user (history is found by id).
FLOWS = Spec("flows", indexes=(("cluster",), ("user_id",)), history=True, shards=8)
FLOW_OWNERS = Spec("flow_owners", indexes=(("user_id",),), shards=2)
PREFS = Spec("prefs", key="user_id")
DEFAULTS = Spec("defaults", key="key")  # a user's own job defaults, one record per cluster
SEEN = Spec("seen", shards=4)
SEEN_SWEEP = 500  # every this many ids recorded, the expired ones are dropped


class StoredThreads:
    def __init__(self, c: Collection) -> None:
        self._c = c

    async def save(self, doc: Doc, *, now: bool = False) -> None:
        await self._c.upsert(doc, now=now)

    async def by_key(self, key: str) -> Doc | None:
        return await self._c.get(key)

    async def at(self, channel: str, thread_ts: str) -> Doc | None:
        return await self._c.find_one(channel=channel, thread_ts=thread_ts)

    async def claim(self, doc: Doc, seq: int) -> bool:
        return await self._c.replace_if(doc, {"seq": seq, "in_flight": None})

    async def open_json(self, cluster: str | None = None) -> list[str]:
        return await (self._c.all_json() if cluster is None else self._c.find_json(cluster=cluster))

    async def close(self, docs: Iterable[Doc], *, now: bool = False) -> None:
        await self._c.to_history(docs, now=now)

    async def prune(self, before: float) -> int:
        return await self._c.prune(before)


class _ByUser:
    def __init__(self, c: Collection) -> None:
        self._c = c

    async def add(self, doc: Doc) -> bool:
        return await self._c.insert(doc)

    async def save(self, doc: Doc) -> None:
        await self._c.upsert(doc)

    async def of_user(self, user_id: str | None = None) -> list[Doc]:
        return await (self._c.all() if user_id is None else self._c.find(user_id=user_id))


class StoredWatches(_ByUser):
    def __init__(self, c: Collection, batch: Callable[[], AbstractAsyncContextManager[None]]):
        super().__init__(c)
        self._batch = batch

    async def of_kind(self, kind: str, cluster: str) -> list[Doc]:
        return await self._c.find(kind=kind, cluster=cluster)

    async def apply(self, changed: Iterable[Doc], removed: Iterable[str]) -> None:
        changed, removed = list(changed), list(removed)
        if not changed and not removed:
            return
        async with self._batch():
            await self._c.upsert_many(changed)
            await self._c.remove(removed)

    async def remove(self, ids: Iterable[str]) -> None:
        await self._c.remove(ids)


class StoredReports(_ByUser):
    async def claim(self, doc: Doc, last_slot: float | None) -> bool:
        return await self._c.replace_if(doc, {"last_slot": last_slot})

    async def reclaim(self, doc: Doc, posting_since: float) -> bool:
        return await self._c.replace_if(doc, {"posting_since": posting_since})

    async def get(self, report_id: str) -> Doc | None:
        return await self._c.get(report_id)

    async def remove(self, report_id: str) -> None:
        await self._c.remove([report_id])


class StoredFlows:
    def __init__(self, c: Collection, owners: Collection) -> None:
        self._c = c
        self._owners = owners  # a finished run's id, user and end

    async def add(self, doc: Doc) -> bool:
        if await self._c.get(doc["id"]) is not None:
            return False
        await self.save(doc)
        return True

    async def save(self, doc: Doc, *, now: bool = False) -> None:
        if doc.get("active", True):
            await self._c.upsert(doc, now=now)
            return
        ended = doc.get("ended") or time.time()
        # Its owner first, at once: a run in history is always listed. A crash in between
        # leaves the run live as it was, which `of_user` prefers.
        owner = {"id": doc["id"], "user_id": doc["user_id"], "ended": ended}
        await self._owners.upsert(owner, now=True)
        await self._c.to_history([doc], at=ended, now=now)

    async def get(self, run_id: str) -> Doc | None:
        return await self._c.get(run_id)

    async def claim(self, doc: Doc, seq: int) -> bool:
        return await self._c.replace_if(doc, {"seq": seq, "in_flight": None})

    async def active_json(self, cluster: str) -> list[str]:
        return await self._c.find_json(cluster=cluster)

    async def of_user(self, user_id: str | None = None, limit: int | None = None) -> list[Doc]:
        everyone = user_id is None
        runs = await (self._c.all() if everyone else self._c.find(user_id=user_id))
        ended = await (self._owners.all() if everyone else self._owners.find(user_id=user_id))
        live = {d["id"] for d in runs}
        last = sorted(ended, key=lambda o: float(o["ended"]), reverse=True)[:limit]
        # In the order they ended: runs of one hour share a history file, read once.
        for owner in sorted(last, key=lambda o: float(o["ended"])):
            if owner["id"] not in live and (doc := await self._c.get(owner["id"])) is not None:
                runs.append(doc)
        return runs

    async def prune(self, before: float) -> int:
        await self._c.prune(before)
        cut = before // HOUR * HOUR  # history goes by whole hours
        gone = [o["id"] for o in await self._owners.all() if o["ended"] < cut]
        await self._owners.remove(gone)
        return len(gone)


class StoredPrefs:
    def __init__(self, c: Collection, defaults: Collection) -> None:
        self._c = c
        self._defaults = defaults

    async def clusters(self) -> dict[str, str]:
        return {d["user_id"]: d["cluster"] for d in await self._c.all()}

    async def set_cluster(self, user_id: str, cluster: str) -> None:
        await self._c.upsert({"user_id": user_id, "cluster": cluster})

    async def defaults(self) -> dict[str, dict[str, Doc]]:
        found: dict[str, dict[str, Doc]] = {}
        for d in await self._defaults.all():
            found.setdefault(d["user_id"], {})[d["cluster"]] = d["values"]
        return found

    async def set_defaults(self, user_id: str, cluster: str, values: Doc) -> None:
        # Its own collection: `set_cluster` replaces the prefs record whole.
        key = f"{user_id}:{cluster}"
        if values:
            doc = {"key": key, "user_id": user_id, "cluster": cluster, "values": values}
            await self._defaults.upsert(doc)
        else:
            await self._defaults.remove([key])


class StoredSeen:
    def __init__(self, c: Collection) -> None:
        self._c = c
        self._added = 0

    async def first(self, key: str, at: float, expired: float) -> bool:
        doc = {"id": key, "at": at}
        if not await self._c.insert(doc):
            old = await self._c.get(key)
            if old is not None and old["at"] > expired:
                return False
            await self._c.upsert(doc)
        self._added += 1
        if self._added % SEEN_SWEEP == 0:
            await self._c.remove([d["id"] for d in await self._c.all() if d["at"] <= expired])
        return True


class CollectionState:
    """Every part of the port, each on its own collection of `backend`."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.threads = StoredThreads(backend.collection(THREADS))
        self.watches = StoredWatches(backend.collection(WATCHES), backend.batch)
        self.reports = StoredReports(backend.collection(REPORTS))
        self.flows = StoredFlows(backend.collection(FLOWS), backend.collection(FLOW_OWNERS))
        self.prefs = StoredPrefs(backend.collection(PREFS), backend.collection(DEFAULTS))
        self.seen = StoredSeen(backend.collection(SEEN))

    @property
    def leases(self) -> Leases:
        return self.backend.leases

    async def describe(self) -> str:
        return await self.backend.describe()

    def batch(self) -> AbstractAsyncContextManager[None]:
        return self.backend.batch()

    async def close(self) -> None:
        await self.backend.close()


def open_state(root: Path | None) -> CollectionState:
    if root is None:
        from bot.store.memory import MemoryBackend

        return CollectionState(MemoryBackend())
    from bot.store import legacy
    from bot.store.tiny import TinyBackend

    old = legacy.read(root)
    if old is not None:
        # Once, at start-up: on a loop of its own (a caller's loop may be running), written
        # before it is renamed, so a crash in between imports it again (the same records).
        with ThreadPoolExecutor(1) as worker:
            worker.submit(asyncio.run, _import(TinyBackend(root), old)).result()
        legacy.retire(root)
    return CollectionState(TinyBackend(root))


def open_store(url: str | None, root: Path) -> CollectionState:
    """Nothing connects yet: the first use does (and migrates the schema)."""
    if url is None:
        return open_state(root)
    from bot.store.postgres import PgBackend

    return CollectionState(PgBackend(url))


async def _import(backend: Backend, old: Legacy) -> None:
    threads = backend.collection(THREADS)
    async with backend.batch():
        await threads.upsert_many(old.open_threads)
        await threads.to_history(old.done_threads)
        await backend.collection(WATCHES).upsert_many(old.watches)
        await backend.collection(REPORTS).upsert_many(old.reports)
        await backend.collection(PREFS).upsert_many(old.prefs)
    await backend.close()
