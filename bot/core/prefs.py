"""Per-user preferences (the default cluster set with `use`): kept in memory, and persisted
when the bot has a store; `bot check` has none."""

from __future__ import annotations

from bot.store.port import Prefs as StoredPrefs


class Prefs:
    def __init__(self, store: StoredPrefs | None = None) -> None:
        self._store = store
        self._cluster: dict[str, str] = {}

    async def load(self) -> None:
        """Read the stored prefs (once, at start-up)."""
        if self._store is not None:
            self._cluster.update(await self._store.clusters())

    def default_cluster(self, user_id: str) -> str | None:
        return self._cluster.get(user_id)

    async def set_default_cluster(self, user_id: str, cluster: str) -> None:
        self._cluster[user_id] = cluster
        if self._store is not None:
            await self._store.set_cluster(user_id, cluster)
