"""The job threads and watches of the watches feature, on the storage port."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from bot.core.ids import insert_unique
from bot.core.records import JobThread, Watch
from bot.core.retention import Retention
from bot.errors import TakenElsewhere
from bot.store.port import State


class WatchStore:
    """Typed access to job threads and watches. A closed (`done`) thread leaves the live
    state for the history, where it is still found until `retention` has passed."""

    def __init__(self, state: State, retention: float = 30 * 86400) -> None:
        self.state = state
        self.retention = retention
        self._retention = Retention(retention, self.state.threads.prune)

    def batch(self) -> AbstractAsyncContextManager[None]:
        """A poll tick: its saves become durable together when it ends."""
        return self.state.batch()

    async def save_thread(self, thread: JobThread, *, now: bool = False) -> None:
        """`now`: durable when this returns even inside a batch (a post is recorded after
        it left; a card must not be posted twice)."""
        doc = {**thread.model_dump(mode="json"), "key": thread.key}
        if thread.done:
            await self.state.threads.close([doc], now=now)
        else:
            await self.state.threads.save(doc, now=now)

    async def record_intent(self, thread: JobThread) -> None:
        """A transition about to be posted: durable before the post, batch or not. Raises
        TakenElsewhere when another replica recorded this transition first."""
        doc = {**thread.model_dump(mode="json"), "key": thread.key}
        if not await self.state.threads.claim(doc, thread.seq):
            raise TakenElsewhere(f"job {thread.key}'s transition {thread.seq + 1}")

    async def thread(self, cluster: str, job_id: str) -> JobThread | None:
        doc = await self.state.threads.by_key(f"{cluster}:{job_id}")
        return JobThread.model_validate(doc) if doc else None

    async def thread_at(self, channel: str, thread_ts: str) -> JobThread | None:
        doc = await self.state.threads.at(channel, thread_ts)
        return JobThread.model_validate(doc) if doc else None

    async def open_threads(self, cluster: str | None = None) -> list[JobThread]:
        texts = await self.state.threads.open_json(cluster)
        return [JobThread.model_validate_json(t) for t in texts]

    async def close_threads(self, cluster: str, job_ids: list[str]) -> None:
        docs = [await self.state.threads.by_key(f"{cluster}:{j}") for j in job_ids]
        await self.state.threads.close([{**d, "done": True} for d in docs if d and not d["done"]])

    def kept_since(self, now: float | None = None) -> float:
        return self._retention.kept_since(now)

    async def prune(self, now: float | None = None) -> int:
        return await self._retention.prune(now)

    async def add_watch(self, watch: Watch) -> Watch:
        """Store a new watch; returned with the id it got (its own unless that was taken)."""
        doc = watch.model_dump(mode="json")
        stored = await insert_unique(self.state.watches.add, doc, "w")
        return watch.model_copy(update={"id": stored})

    async def watches(self, user_id: str | None = None) -> list[Watch]:
        return [Watch.model_validate(d) for d in await self.state.watches.of_user(user_id)]

    async def mine_watches(self, cluster: str) -> list[Watch]:
        """The `watch mine` watches of one cluster (what a poll tick needs, nothing more)."""
        return await self._of_kind("mine", cluster)

    async def gpu_watches(self, cluster: str) -> list[Watch]:
        return await self._of_kind("gpus", cluster)

    async def _of_kind(self, kind: str, cluster: str) -> list[Watch]:
        return [Watch.model_validate(d) for d in await self.state.watches.of_kind(kind, cluster)]

    async def save_watch(self, watch: Watch) -> None:
        await self.state.watches.save(watch.model_dump(mode="json"))

    async def apply(self, changed: list[Watch], removed: list[str]) -> None:
        """Many watches' new states in one write (a poll may touch every GPU watch)."""
        await self.state.watches.apply([w.model_dump(mode="json") for w in changed], removed)

    async def remove_watches(self, ids: list[str]) -> None:
        await self.state.watches.remove(ids)
