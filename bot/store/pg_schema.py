"""The PostgreSQL store's schema, made and migrated by the bot itself at start.

`srunx_schema` lists the migrations applied; the missing ones run in order in one transaction
holding an advisory lock, so replicas starting at once take turns and the later ones find
nothing left to do. A collection's own indexes (its spec's `indexes` and `unique`, expression
indexes on its records' fields) are made the same way when it is first used.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from psycopg import AsyncConnection, sql

from bot.store.backend import Fields, Spec
from bot.store.pg_conn import StoreError

LOCK = 0x5352554E58  # "SRUNX": the advisory lock every schema change is made under
TABLE = sql.Identifier("srunx_records")

# Every collection's records in one table (a collection column), so the schema is fixed and
# migrated here while collections come and go with the code (tests open their own).
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE srunx_records (
        id bigserial PRIMARY KEY,         -- insertion order: of history, the newest wins
        coll text NOT NULL,
        key text COLLATE "C" NOT NULL,    -- ordered as Python orders strings
        doc jsonb NOT NULL,
        hour integer                      -- NULL while live; else the hour it finished in
    );
    CREATE UNIQUE INDEX srunx_records_live ON srunx_records (coll, key) WHERE hour IS NULL;
    CREATE INDEX srunx_records_key ON srunx_records (coll, key);
    CREATE INDEX srunx_records_hour ON srunx_records (coll, hour) WHERE hour IS NOT NULL;
    """,
)
VERSION = len(MIGRATIONS)

_VERSIONS = """
CREATE TABLE IF NOT EXISTS srunx_schema (
    version integer PRIMARY KEY,
    applied timestamptz NOT NULL DEFAULT now()
)
"""
_SAFE = re.compile(r"[a-z0-9_]+")


async def version(conn: AsyncConnection[Any]) -> int | None:
    """The schema's version, None before the first start made it."""
    cur = await conn.execute("SELECT to_regclass('srunx_schema') IS NOT NULL")
    row = await cur.fetchone()
    if not (row and row[0]):
        return None
    cur = await conn.execute("SELECT coalesce(max(version), 0) FROM srunx_schema")
    row = await cur.fetchone()
    return int(row[0]) if row else 0


def too_new(have: int) -> str:
    return f"schema v{have} is newer than this bot knows (v{VERSION}): upgrade the bot"


async def migrate(conn: AsyncConnection[Any]) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])
        await conn.execute(_VERSIONS)
        have = await version(conn) or 0
        if have > VERSION:
            raise StoreError(too_new(have))
        for n in range(have + 1, VERSION + 1):
            await conn.execute(MIGRATIONS[n - 1])
            await conn.execute("INSERT INTO srunx_schema (version) VALUES (%s)", [n])


def field(name: str) -> sql.Composable:
    """A record's field as its indexes hold it: a missing field is JSON null (as Python's
    `doc.get` makes it None), so one index lookup finds both."""
    return sql.SQL("COALESCE(doc -> {}, 'null'::jsonb)").format(sql.Literal(name))


def _index_name(kind: str, fields: Fields) -> str:
    name = f"srunx_{kind}_{'_'.join(fields)}"
    if _SAFE.fullmatch(name) and len(name) <= 63:
        return name
    return f"srunx_{kind}_{hashlib.sha256(repr(fields).encode()).hexdigest()[:16]}"


def indexes(spec: Spec) -> list[tuple[str, sql.Composed]]:
    """Its indexes by name, each with the statement that makes it: `indexes` over live records,
    `unique` over live and history (found in both). Shared by every collection with the same
    fields (the collection is the first column)."""
    wanted = [("live", f, sql.SQL("WHERE hour IS NULL")) for f in spec.indexes]
    wanted += [("any", f, sql.SQL("")) for f in spec.unique]
    made = []
    for kind, fields, where in wanted:
        name = _index_name(kind, fields)
        columns = sql.SQL(", ").join([sql.Identifier("coll"), *map(field, fields)])
        made.append(
            (
                name,
                sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({}) {}").format(
                    sql.Identifier(name), TABLE, columns, where
                ),
            )
        )
    return made


async def make_indexes(conn: AsyncConnection[Any], spec: Spec) -> None:
    """The collection's indexes that are missing, made under the schema lock (two replicas
    making one index at once would collide)."""
    missing = []
    for name, ddl in indexes(spec):
        cur = await conn.execute("SELECT to_regclass(%s) IS NULL", [name])
        row = await cur.fetchone()
        if row and row[0]:
            missing.append(ddl)
    if not missing:
        return
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK])
        for ddl in missing:
            await conn.execute(ddl)
