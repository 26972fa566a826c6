"""Leases on PostgreSQL: session advisory locks on one connection of their own, kept for the
process's life. A lock lives exactly as long as the session that took it, so a replica that
dies (or loses its connection) frees its leases, and another takes them at its next try."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

from bot.store.pg_conn import CONNECT_TIMEOUT, StoreError, Target

log = logging.getLogger(__name__)

# A name's lock key, of the store's schema (advisory locks are database-wide; two bots on
# two schemas of one database are two stores) and apart from other applications' locks.
_TAKE = (
    "SELECT pg_try_advisory_lock(hashtextextended("
    "coalesce(current_schema(), '') || ':srunx-bot:' || %s, 0))"
)


class PgLeases:
    def __init__(self, target: Target) -> None:
        self._target = target
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._held: set[str] = set()
        self._lock = asyncio.Lock()  # one statement at a time on the one connection

    async def hold(self, name: str) -> bool:
        """Take the lease or keep it (a round trip either way: a held lease is only as alive
        as its session). A session found gone is replaced and the lease tried again on the
        new one; False while the database cannot be reached."""
        async with self._lock:
            # Once more only when an old session failed: a server that does not answer now
            # would not on a second try either.
            for again in (self._conn is not None, False):
                try:
                    return await asyncio.wait_for(self._hold(name), CONNECT_TIMEOUT * 2)
                except (psycopg.Error, StoreError, TimeoutError) as e:
                    await self._drop()
                    if not again:
                        why = e if isinstance(e, StoreError) else self._target.error(e)
                        log.warning("lease %s not taken: %s", name, why)
                        return False
            return False

    async def _hold(self, name: str) -> bool:
        if self._conn is None:
            self._conn = await self._target.connect()
        if name in self._held:
            await self._conn.execute("SELECT 1")
            return True
        cur = await self._conn.execute(_TAKE, [name])
        row = await cur.fetchone()
        if row and row[0]:
            self._held.add(name)
            return True
        return False

    async def _drop(self) -> None:
        """Forget the session: its locks are gone with it."""
        if self._held:
            log.warning("leases %s lost with their database session", ", ".join(self.held()))
        self._held.clear()
        conn, self._conn = self._conn, None
        if conn is not None:
            await conn.close()

    def held(self) -> list[str]:
        return sorted(self._held)

    async def close(self) -> None:
        """Ends the session, and with it every lease."""
        async with self._lock:
            self._held.clear()
            conn, self._conn = self._conn, None
            if conn is not None:
                await conn.close()
