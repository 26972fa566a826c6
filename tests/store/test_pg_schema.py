"""The PostgreSQL schema: made and migrated by the bot at start, once, however many replicas
start at once; a migration is whole or not at all; a schema newer than the bot is refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from storekit import THREADS, WATCHES, pg_place

from bot.store import pg_schema
from bot.store.pg_conn import StoreError

pytestmark = pytest.mark.lab


async def test_replicas_starting_at_once_migrate_once(tmp_path: Path) -> None:
    async with pg_place(tmp_path) as pg:
        replicas = [pg.backend() for _ in range(6)]
        await asyncio.gather(*(r.collection(WATCHES).all() for r in replicas))
        await asyncio.gather(*(r.collection(THREADS).all() for r in replicas))
        conn = await pg.admin()
        async with conn:
            cur = await conn.execute("SELECT version FROM srunx_schema")
            assert await cur.fetchall() == [(1,)]
            cur = await conn.execute(
                "SELECT count(*) FROM pg_indexes WHERE schemaname = current_schema()"
                " AND tablename = 'srunx_records'"
            )
            made = await cur.fetchone()
        names = {n for spec in (WATCHES, THREADS) for n, _ in pg_schema.indexes(spec)}
        assert made == (4 + len(names),)  # the table's own four (key too), the collections'
        described = [await r.describe() for r in replicas]
        assert all(d.endswith("schema v1") for d in described)


async def test_a_migration_that_fails_leaves_the_schema_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with pg_place(tmp_path) as pg:
        await pg.backend().collection(WATCHES).all()  # v1
        broken = "CREATE TABLE srunx_half (n int); SELECT 1 / 0"
        monkeypatch.setattr(pg_schema, "MIGRATIONS", (*pg_schema.MIGRATIONS, broken))
        monkeypatch.setattr(pg_schema, "VERSION", 2)
        with pytest.raises(StoreError, match="division by zero"):
            await pg.backend().collection(WATCHES).all()
        conn = await pg.admin()
        async with conn:
            assert await pg_schema.version(conn) == 1
            cur = await conn.execute("SELECT to_regclass('srunx_half')")
            assert await cur.fetchone() == (None,)
            fixed = "CREATE TABLE srunx_half (n int)"
            monkeypatch.setattr(pg_schema, "MIGRATIONS", (*pg_schema.MIGRATIONS[:1], fixed))
            await asyncio.gather(*(pg.backend().collection(WATCHES).all() for _ in range(3)))
            cur = await conn.execute("SELECT version FROM srunx_schema ORDER BY version")
            assert await cur.fetchall() == [(1,), (2,)]


async def test_a_schema_newer_than_the_bot_is_refused(tmp_path: Path) -> None:
    async with pg_place(tmp_path) as pg:
        await pg.backend().collection(WATCHES).all()
        conn = await pg.admin()
        async with conn:
            await conn.execute("INSERT INTO srunx_schema (version) VALUES (7)")
        later = pg.backend()
        ok, text = await later.status()
        assert not ok and text.endswith(
            "schema v7 is newer than this bot knows (v1): upgrade the bot"
        )
        with pytest.raises(StoreError, match="upgrade the bot"):
            await later.collection(WATCHES).all()
