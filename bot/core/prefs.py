"""Per-user preferences (the default cluster set with `use`): kept in memory, and persisted
when the bot has a store (`bot serve`); the console keeps them for its session only."""

from __future__ import annotations

from tinydb import Query

from bot.core.store import Store

_Q = Query()


class Prefs:
    def __init__(self, store: Store | None = None) -> None:
        self._store = store
        self._cluster: dict[str, str] = {}

    async def load(self) -> None:
        """Read the stored prefs (once, at start-up), through the store's lock like any read."""
        if self._store is not None:
            docs = await self._store.run(lambda db: db.table("prefs").all())
            self._cluster.update((doc["user_id"], doc["cluster"]) for doc in docs)

    def default_cluster(self, user_id: str) -> str | None:
        return self._cluster.get(user_id)

    async def set_default_cluster(self, user_id: str, cluster: str) -> None:
        self._cluster[user_id] = cluster
        if self._store is not None:
            doc = {"user_id": user_id, "cluster": cluster}
            await self._store.run(lambda db: db.table("prefs").upsert(doc, _Q.user_id == user_id))
