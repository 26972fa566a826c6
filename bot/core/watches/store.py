"""The job threads and watches of the watches feature, in the store."""

from __future__ import annotations

from tinydb import Query, TinyDB

from bot.core.ids import insert_unique
from bot.core.records import JobThread, Watch
from bot.core.store import Store

_Q = Query()


class WatchStore:
    """Typed access to the threads and watches tables."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def save_thread(self, thread: JobThread) -> None:
        doc = {**thread.model_dump(mode="json"), "key": thread.key}
        await self.store.run(lambda db: db.table("threads").upsert(doc, _Q.key == thread.key))

    async def thread(self, cluster: str, job_id: str) -> JobThread | None:
        def get(db: TinyDB) -> JobThread | None:
            doc = db.table("threads").get(_Q.key == f"{cluster}:{job_id}")
            return JobThread.model_validate(doc) if doc else None

        return await self.store.run(get)

    async def thread_at(self, channel: str, thread_ts: str) -> JobThread | None:
        def get(db: TinyDB) -> JobThread | None:
            doc = db.table("threads").get((_Q.channel == channel) & (_Q.thread_ts == thread_ts))
            return JobThread.model_validate(doc) if doc else None

        return await self.store.run(get)

    async def open_threads(self, cluster: str | None = None) -> list[JobThread]:
        def get(db: TinyDB) -> list[JobThread]:
            cond = _Q.done == False  # noqa: E712 (TinyDB query, not a Python comparison)
            if cluster is not None:
                cond = cond & (_Q.cluster == cluster)
            return [JobThread.model_validate(d) for d in db.table("threads").search(cond)]

        return await self.store.run(get)

    async def add_watch(self, watch: Watch) -> Watch:
        """Store a new watch; returned with the id it got (its own unless that was taken)."""
        doc = watch.model_dump(mode="json")
        stored = await self.store.run(lambda db: insert_unique(db.table("watches"), doc, "w"))
        return watch.model_copy(update={"id": stored})

    async def watches(self, user_id: str | None = None) -> list[Watch]:
        def get(db: TinyDB) -> list[Watch]:
            table = db.table("watches")
            docs = table.all() if user_id is None else table.search(_Q.user_id == user_id)
            return [Watch.model_validate(d) for d in docs]

        return await self.store.run(get)

    async def mine_watches(self, cluster: str) -> list[Watch]:
        """The `watch mine` watches of one cluster (what a poll tick needs, nothing more)."""

        def get(db: TinyDB) -> list[Watch]:
            docs = db.table("watches").search((_Q.kind == "mine") & (_Q.cluster == cluster))
            return [Watch.model_validate(d) for d in docs]

        return await self.store.run(get)

    async def gpu_watches(self, cluster: str) -> list[Watch]:
        def get(db: TinyDB) -> list[Watch]:
            docs = db.table("watches").search((_Q.kind == "gpus") & (_Q.cluster == cluster))
            return [Watch.model_validate(d) for d in docs]

        return await self.store.run(get)

    async def save_watch(self, watch: Watch) -> None:
        doc = watch.model_dump(mode="json")
        await self.store.run(lambda db: db.table("watches").upsert(doc, _Q.id == watch.id))

    async def apply(self, changed: list[Watch], removed: list[str]) -> None:
        """Many watches' new states in one write (a poll may touch every GPU watch)."""
        if not changed and not removed:
            return
        updates = [(w.model_dump(mode="json"), _Q.id == w.id) for w in changed]

        def write(db: TinyDB) -> None:
            table = db.table("watches")
            if updates:
                table.update_multiple(updates)
            if removed:
                table.remove(_Q.id.one_of(removed))

        await self.store.run(write)

    async def remove_watches(self, ids: list[str]) -> None:
        await self.store.run(lambda db: db.table("watches").remove(_Q.id.one_of(ids)))

    async def close_threads(self, cluster: str, job_ids: list[str]) -> None:
        keys = [f"{cluster}:{j}" for j in job_ids]
        await self.store.run(
            lambda db: db.table("threads").update({"done": True}, _Q.key.one_of(keys))
        )
