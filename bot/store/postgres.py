"""The PostgreSQL backend: several replicas of the bot share one database.

Each record is a JSONB document in `srunx_records` (bot/store/pg_schema.py) under its
collection and key; a live record has no `hour`, a finished one the hour it finished in. `find`
is an index lookup (the spec's expression indexes); `replace_if` is one conditional UPDATE,
which PostgreSQL makes atomic among every session. Every write commits when it returns (a
batch asks less: more durable is fine, and no transaction is left open across a post).
Sessions are a few reused (bot/store/pg_conn.py); leases have one of their own
(bot/store/pg_leases.py).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from bot.store.backend import Doc, Fields, Spec
from bot.store.history import HOUR
from bot.store.pg_conn import Sessions, StoreError, Target
from bot.store.pg_leases import PgLeases
from bot.store.pg_schema import TABLE, VERSION, field, make_indexes, migrate, too_new, version

POOL_SIZE = 4  # sessions per process: a poll tick and a few Slack requests at once
_LOST = (psycopg.OperationalError, psycopg.InterfaceError)  # the server, not the query
Params = Sequence[Any] | Mapping[str, Any]

_LIVE = sql.SQL("coll = %s AND hour IS NULL")
_GET = sql.SQL(
    "SELECT doc FROM {} WHERE coll = %s AND key = %s ORDER BY hour DESC NULLS FIRST, id DESC"
    " LIMIT 1"
).format(TABLE)
_ALL = sql.SQL("SELECT doc::text FROM {} WHERE {} ORDER BY key").format(TABLE, _LIVE)
_PUT = (
    "INSERT INTO {} (coll, key, doc) VALUES (%s, %s, %s) ON CONFLICT (coll, key) WHERE hour IS NULL"
)
_INSERT = sql.SQL(_PUT + " DO NOTHING").format(TABLE)
_UPSERT = sql.SQL(_PUT + " DO UPDATE SET doc = EXCLUDED.doc").format(TABLE)
_PUT_MANY = sql.SQL(
    "INSERT INTO {} (coll, key, doc) SELECT %s, k, d FROM unnest(%s::text[], %s::jsonb[]) AS"
    " u(k, d) ON CONFLICT (coll, key) WHERE hour IS NULL DO UPDATE SET doc = EXCLUDED.doc"
).format(TABLE)
_REMOVE = sql.SQL("DELETE FROM {} WHERE {} AND key = ANY(%s)").format(TABLE, _LIVE)
# Out of the live set and into history in one statement: a move is whole or not at all.
_TO_HISTORY = sql.SQL(
    "WITH gone AS (DELETE FROM {t} WHERE coll = %(c)s AND hour IS NULL AND key = ANY(%(k)s))"
    " INSERT INTO {t} (coll, key, doc, hour) SELECT %(c)s, k, d, %(h)s"
    " FROM unnest(%(k)s::text[], %(d)s::jsonb[]) WITH ORDINALITY AS u(k, d, n) ORDER BY n"
).format(t=TABLE)
_PRUNE = sql.SQL("DELETE FROM {} WHERE coll = %s AND hour < %s").format(TABLE)


def _equal(fields: Iterable[str]) -> sql.Composable:
    return sql.SQL("").join(sql.SQL(" AND {} = %s").format(field(f)) for f in fields)


def _values(values: Iterable[Any]) -> list[Jsonb]:
    return [Jsonb(v) for v in values]


class PgCollection:
    def __init__(self, backend: PgBackend, spec: Spec) -> None:
        self.spec = spec
        self._b = backend
        # Statements by the fields they match, composed once.
        self._find: dict[Fields, sql.Composed] = {}
        self._find_one: dict[Fields, sql.Composed] = {}
        self._replace: dict[Fields, sql.Composed] = {}

    def _key(self, doc: Doc) -> str:
        return str(doc[self.spec.key])

    async def get(self, key: str) -> Doc | None:
        return await self._b.one(self.spec, _GET, [self.spec.name, key])

    async def find_json(self, **match: Any) -> list[str]:
        fields = tuple(match)
        self.spec.check(fields, (*self.spec.indexes, *self.spec.unique))
        query = self._find.get(fields)
        if query is None:
            query = self._find[fields] = sql.SQL(
                "SELECT doc::text FROM {} WHERE {}{} ORDER BY key"
            ).format(TABLE, _LIVE, _equal(fields))
        return await self._b.column(self.spec, query, [self.spec.name, *_values(match.values())])

    async def find(self, **match: Any) -> list[Doc]:
        return [json.loads(t) for t in await self.find_json(**match)]

    async def find_one(self, **match: Any) -> Doc | None:
        fields = tuple(match)
        self.spec.check(fields, self.spec.unique)
        query = self._find_one.get(fields)
        if query is None:
            # Live first (of several, the last by key, as `find` lists them), else the newest
            # in history.
            query = self._find_one[fields] = sql.SQL(
                "SELECT doc FROM {} WHERE coll = %s{} ORDER BY hour DESC NULLS FIRST,"
                " (CASE WHEN hour IS NULL THEN key END) DESC, id DESC LIMIT 1"
            ).format(TABLE, _equal(fields))
        return await self._b.one(self.spec, query, [self.spec.name, *_values(match.values())])

    async def all_json(self) -> list[str]:
        return await self._b.column(self.spec, _ALL, [self.spec.name])

    async def all(self) -> list[Doc]:
        return [json.loads(t) for t in await self.all_json()]

    async def insert(self, doc: Doc) -> bool:
        params = [self.spec.name, self._key(doc), Jsonb(doc)]
        return await self._b.run(self.spec, _INSERT, params) > 0

    async def upsert(self, doc: Doc, *, now: bool = False) -> None:
        await self._b.run(self.spec, _UPSERT, [self.spec.name, self._key(doc), Jsonb(doc)])

    async def replace_if(self, doc: Doc, expect: dict[str, Any]) -> bool:
        fields = tuple(expect)
        query = self._replace.get(fields)
        if query is None:
            query = self._replace[fields] = sql.SQL(
                "UPDATE {} SET doc = %s WHERE {} AND key = %s{}"
            ).format(TABLE, _LIVE, _equal(fields))
        params = [Jsonb(doc), self.spec.name, self._key(doc), *_values(expect.values())]
        return await self._b.run(self.spec, query, params) > 0

    async def upsert_many(self, docs: Iterable[Doc]) -> None:
        by_key = {self._key(d): d for d in docs}  # one row each: the last state wins
        if by_key:
            params = [self.spec.name, list(by_key), _values(by_key.values())]
            await self._b.run(self.spec, _PUT_MANY, params)

    async def remove(self, keys: Iterable[str]) -> None:
        keys = list(keys)
        if keys:
            await self._b.run(self.spec, _REMOVE, [self.spec.name, keys])

    async def to_history(
        self, docs: Iterable[Doc], at: float | None = None, *, now: bool = False
    ) -> None:
        if not self.spec.history:
            raise ValueError(f"{self.spec.name} keeps no history")
        docs = list(docs)
        if not docs:
            return
        hour = int((time.time() if at is None else at) // HOUR)
        params = {
            "c": self.spec.name,
            "k": [self._key(d) for d in docs],
            "d": _values(docs),
            "h": hour,
        }
        await self._b.run(self.spec, _TO_HISTORY, params)

    async def prune(self, before: float) -> int:
        if not self.spec.history:
            return 0
        return await self._b.run(self.spec, _PRUNE, [self.spec.name, int(before // HOUR)])


class PgBackend:
    """Collections on the database at `conninfo` (a `postgresql://` URL or key=value string).
    Nothing connects until first used: the schema is migrated then, and each collection's
    indexes made the first time it is used."""

    def __init__(self, conninfo: str) -> None:
        self._target = Target(conninfo)
        self.leases = PgLeases(self._target)
        self._collections: dict[str, PgCollection] = {}
        self._sessions = Sessions(self._target, POOL_SIZE)
        self._migrated = False
        self._indexed: set[str] = set()
        self._opening = asyncio.Lock()

    @property
    def where(self) -> str:
        return f"PostgreSQL {self._target.where}"

    def collection(self, spec: Spec) -> PgCollection:
        have = self._collections.get(spec.name)
        if have is None:
            have = self._collections[spec.name] = PgCollection(self, spec)
        elif have.spec != spec:
            raise ValueError(f"collection {spec.name} opened twice with different specs")
        return have

    async def status(self) -> tuple[bool, str]:
        """Whether it answers, and the line `bot check` prints (`describe`)."""
        try:
            conn = await self._target.connect()
            try:
                have = await version(conn)
            finally:
                await conn.close()
        except StoreError as e:
            return False, str(e)
        except psycopg.Error as e:
            return False, str(self._target.error(e))
        if have is None:
            return True, f"{self.where}, no schema yet (the bot makes it when it starts)"
        if have > VERSION:
            return False, f"{self.where}, {too_new(have)}"
        later = "" if have == VERSION else f" (v{VERSION} when the bot starts)"
        return True, f"{self.where}, schema v{have}{later}"

    async def describe(self) -> str:
        return (await self.status())[1]

    async def _ready(self, spec: Spec) -> None:
        if spec.name in self._indexed:
            return
        async with self._opening:
            try:
                if not self._migrated:
                    conn = await self._target.connect()
                    async with conn:
                        await migrate(conn)
                    self._migrated = True
                if spec.name not in self._indexed:
                    async with self._session(spec, ready=True) as conn:
                        await make_indexes(conn, spec)
                    self._indexed.add(spec.name)
            except psycopg.Error as e:  # e.g. no right to create tables there
                raise self._target.error(e) from None

    @asynccontextmanager
    async def _session(
        self, spec: Spec, *, ready: bool = False
    ) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        if not ready:
            await self._ready(spec)
        try:
            async with self._sessions.session() as conn:
                yield conn
        except _LOST as e:
            raise self._target.error(e) from None

    async def run(self, spec: Spec, query: sql.Composed, params: Params) -> int:
        """A write; how many records it touched."""
        async with self._session(spec) as conn:
            cur = await conn.execute(query, params)
            return cur.rowcount

    async def one(self, spec: Spec, query: sql.Composed, params: Params) -> Doc | None:
        async with self._session(spec) as conn:
            cur = await conn.execute(query, params)
            row = await cur.fetchone()
        found: Doc | None = row[0] if row else None
        return found

    async def column(self, spec: Spec, query: sql.Composed, params: Params) -> list[str]:
        async with self._session(spec) as conn:
            cur = await conn.execute(query, params)
            return [row[0] for row in await cur.fetchall()]

    def batch(self) -> AbstractAsyncContextManager[None]:
        return nullcontext()  # every write commits when it returns

    async def close(self) -> None:
        await self.leases.close()
        await self._sessions.close()
        self._migrated = False
        self._indexed.clear()
