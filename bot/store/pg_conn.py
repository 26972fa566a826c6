"""Connecting to the PostgreSQL store: where it is in words (never the password), its errors as
one line, the settings every session of the bot uses, and a few sessions reused."""

from __future__ import annotations

import asyncio
import select
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus

from bot.errors import BotError

CONNECT_TIMEOUT = 10  # seconds
# A server that vanished (machine gone, cable cut) is noticed within about a minute, not at
# the next TCP timeout (hours): a lease must not outlive its holder by long.
_SESSION = {
    "connect_timeout": CONNECT_TIMEOUT,
    "application_name": "srunx-bot",
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
}


class StoreError(BotError):
    """The PostgreSQL store cannot be reached or used; names where it is, never the password."""


class Target:
    """A PostgreSQL connection string (URL or key=value), checked once."""

    def __init__(self, conninfo: str) -> None:
        try:
            given = conninfo_to_dict(conninfo)
        except psycopg.Error:  # its message quotes the string, password and all
            raise StoreError(
                "the store is not a valid PostgreSQL URL; "
                "use postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
            ) from None
        extra: dict[str, Any] = {k: v for k, v in _SESSION.items() if k not in given}
        self.conninfo = make_conninfo(conninfo, **extra)
        user = given.get("user") or "(login name)"
        host, port = given.get("host") or "local socket", given.get("port") or "5432"
        self.where = f"{user}@{host}:{port}/{given.get('dbname') or user}"

    def error(self, e: BaseException) -> StoreError:
        return StoreError(f"PostgreSQL {self.where}: {reason(e)}")

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        """A session of its own (migrations, leases, `describe`), autocommit."""
        try:
            return await psycopg.AsyncConnection.connect(self.conninfo, autocommit=True)
        except psycopg.Error as e:
            raise self.error(e) from None


def reason(e: BaseException) -> str:
    """libpq's words in one line: `Connection refused`, `password authentication failed for
    user "srunx"` (libpq never quotes a password)."""
    lines = str(e).strip().splitlines()
    first = lines[0] if lines else type(e).__name__
    return first.rpartition(" failed: ")[2].removeprefix("FATAL:").strip() or first


class Sessions:
    """A few sessions, reused: each operation takes one (waiting while all are busy). One the
    server wrote to while it sat idle (a session it ended says so, as a restart does) is
    checked first, so a restarted server costs no failed operation, and a quiet one costs no
    round trip. A session is made when needed, with no background retries: the first
    operation after the server is back succeeds, one while it is down fails at once with
    libpq's own reason."""

    def __init__(self, target: Target, size: int) -> None:
        self._target = target
        self._slots = asyncio.Semaphore(size)
        self._idle: list[psycopg.AsyncConnection[Any]] = []

    @asynccontextmanager
    async def session(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        async with self._slots:
            conn = await self._take()
            try:
                yield conn
            finally:
                await self._give(conn)

    async def _take(self) -> psycopg.AsyncConnection[Any]:
        while self._idle:
            conn = self._idle.pop()
            try:
                if not _heard_from(conn):
                    return conn
                await conn.execute("")
                return conn
            except (psycopg.Error, OSError):
                await conn.close()  # ended by the server: a new one
        return await self._target.connect()

    async def _give(self, conn: psycopg.AsyncConnection[Any]) -> None:
        if conn.broken or conn.info.transaction_status != TransactionStatus.IDLE:
            await conn.close()
        elif not conn.closed:
            self._idle.append(conn)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await conn.close()


def _heard_from(conn: psycopg.AsyncConnection[Any]) -> bool:
    """Whether the server sent anything (or hung up) since the session's last answer: a look
    at its socket, no wait and no round trip."""
    if conn.closed or conn.broken:
        raise psycopg.OperationalError("session gone")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    return bool(readable)
