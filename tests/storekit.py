"""Store test helpers: the backends the contract tests run against, by name, so that a
subprocess can open the same one; PostgreSQL on the lab's server, a schema of its own per
test; specs shaped like the features' own."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import make_conninfo

from bot.store import durable, state
from bot.store.backend import Backend, Leases
from bot.store.journal import Journal
from bot.store.memory import MemoryBackend
from bot.store.postgres import PgBackend
from bot.store.tiny import TinyBackend
from labkit import Lab

ON_PG = pytest.param("postgres", marks=pytest.mark.lab)  # needs the lab's PostgreSQL
NAMES = ["tiny", "memory", ON_PG]
DURABLE = ["tiny", ON_PG]  # what a new process finds again
_memory: dict[Path, MemoryBackend] = {}  # a memory backend "reopened" is the same one
_pg: dict[Path, list[Backend]] = {}  # PostgreSQL backends opened on a place, to close
B = TypeVar("B", bound=Backend)
NOWHERE = "postgresql://srunx:Sekrit-Pw-9@127.0.0.1:1/srunx"  # nothing listens on port 1

# The features' own specs, on fewer shards (a test touches every one).
THREADS = dataclasses.replace(state.THREADS, shards=4)
WATCHES = dataclasses.replace(state.WATCHES, shards=1)


def _schema(where: Path) -> str:
    return "t_" + hashlib.sha256(str(where).encode()).hexdigest()[:24]


def pg_url(where: Path) -> str:
    """The lab's PostgreSQL on a schema of `where`'s own, made now: what one test writes no
    other test sees, and a subprocess given `where` finds it again. Skips (fails in CI)
    without the lab's server."""
    lab = Lab.from_env()
    why = lab.why_no_postgres()
    if why is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    schema = _schema(where)
    with psycopg.connect(lab.pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    _pg.setdefault(where, [])
    return make_conninfo(lab.pg_url, options=f"-csearch_path={schema}")


def opened(where: Path, backend: B) -> B:
    """`backend` (on `where`'s schema) is closed by `forget(where)`."""
    _pg.setdefault(where, []).append(backend)
    return backend


async def forget(where: Path) -> None:
    """Closes the PostgreSQL backends opened on `where` and drops its schema."""
    if where not in _pg:
        return
    for backend in _pg.pop(where):
        await backend.close()
    conn = await psycopg.AsyncConnection.connect(Lab.from_env().pg_url, autocommit=True)
    async with conn:
        drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(_schema(where)))
        await conn.execute(drop)


class PgPlace:
    """A schema of its own on the lab's PostgreSQL, and backends on it."""

    def __init__(self, where: Path) -> None:
        self.where = where
        self.url = pg_url(where)

    def backend(self, **params: str) -> PgBackend:
        """A new backend on the schema (another replica, or a restart); `params` join its URL
        (e.g. its own `application_name`)."""
        return opened(self.where, PgBackend(make_conninfo(self.url, **params)))

    async def admin(self) -> psycopg.AsyncConnection[Any]:
        """A session of the test's own on the schema (to look inside, or end sessions)."""
        return await psycopg.AsyncConnection.connect(self.url, autocommit=True)


async def taken(leases: Leases, name: str, within: float = 5.0) -> bool:
    """Whether `leases` get `name` within a few seconds: a session that ended (closed, killed)
    frees its locks a moment after its client has let go."""
    for _ in range(int(within / 0.05)):
        if await leases.hold(name):
            return True
        await asyncio.sleep(0.05)
    return False


@asynccontextmanager
async def pg_place(tmp_path: Path) -> AsyncIterator[PgPlace]:
    where = tmp_path / "pg"
    try:
        yield PgPlace(where)
    finally:
        await forget(where)


def open_backend(name: str, where: Path) -> Backend:
    if name == "tiny":
        return TinyBackend(where)
    if name == "memory":
        return _memory.setdefault(where, MemoryBackend())
    if name == "postgres":
        return opened(where, PgBackend(pg_url(where)))
    raise ValueError(f"no backend {name}")


def _spy(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, arg: int) -> list[Any]:
    """Calls of `owner.name` go through, each one's argument `arg` recorded, in order."""
    seen: list[Any] = []
    real = getattr(owner, name)

    def call(*args: Any) -> None:
        seen.append(args[arg])
        real(*args)

    monkeypatch.setattr(owner, name, call)
    return seen


def record_writes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files the store writes durably (temp file, fsync, rename), in order."""
    return _spy(monkeypatch, durable, "write_atomic", 0)


def record_appends(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The lines appended to journals (bot/store/journal.py), in order."""
    return _spy(monkeypatch, Journal, "_append", 1)
