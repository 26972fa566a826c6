"""Per-user preferences (the default cluster set with `use`, the job defaults set with
`defaults set`, per cluster): kept in memory, and persisted when the bot has a store; `bot
check` has none."""

from __future__ import annotations

import logging

from pydantic import ValidationError

from bot.config import Defaults
from bot.store.port import Prefs as StoredPrefs

log = logging.getLogger(__name__)


class Prefs:
    def __init__(self, store: StoredPrefs | None = None) -> None:
        self._store = store
        self._cluster: dict[str, str] = {}
        self._defaults: dict[tuple[str, str], Defaults] = {}

    async def load(self) -> None:
        """Read the stored prefs (once, at start-up)."""
        if self._store is not None:
            self._cluster.update(await self._store.clusters())
            for user_id, per_cluster in (await self._store.defaults()).items():
                for cluster, values in per_cluster.items():
                    try:
                        self._defaults[user_id, cluster] = Defaults.model_validate(values)
                    except ValidationError:  # stored by an older bot: dropped, not fatal
                        log.warning("ignoring stored defaults of %s on %s", user_id, cluster)

    def default_cluster(self, user_id: str) -> str | None:
        return self._cluster.get(user_id)

    async def set_default_cluster(self, user_id: str, cluster: str) -> None:
        self._cluster[user_id] = cluster
        if self._store is not None:
            await self._store.set_cluster(user_id, cluster)

    def own_defaults(self, user_id: str, cluster: str) -> Defaults:
        return self._defaults.get((user_id, cluster), Defaults())

    async def set_own_defaults(self, user_id: str, cluster: str, values: Defaults) -> None:
        self._defaults[user_id, cluster] = values
        if self._store is not None:
            await self._store.set_defaults(user_id, cluster, stored(values))


def stored(values: Defaults) -> dict[str, object]:
    """Only what is set: an unset key falls through to the levels below."""
    return {k: v for k, v in values.model_dump(exclude_none=True).items() if v != {}}
