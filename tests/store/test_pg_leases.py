"""Leases on PostgreSQL (advisory locks on a session of their own): one replica at a time holds
each, and a replica's death, or the loss of its session, frees them for another."""

from __future__ import annotations

from pathlib import Path

import pytest
from storekit import pg_place, taken

pytestmark = pytest.mark.lab


async def test_a_lease_is_held_by_one_replica_until_it_closes(tmp_path: Path) -> None:
    async with pg_place(tmp_path) as pg:
        a, b = pg.backend(), pg.backend()
        lab, big = "poll:lab", "poll:big"
        assert await a.leases.hold(lab) and await a.leases.hold(lab)  # kept
        assert not await b.leases.hold(lab)
        assert await b.leases.hold(big)
        assert a.leases.held() == [lab] and b.leases.held() == [big]
        await a.close()  # or dies: its session ends either way
        assert await taken(b.leases, lab)
        assert b.leases.held() == sorted([big, lab])


async def test_a_lost_session_loses_its_leases_until_taken_again(tmp_path: Path) -> None:
    async with pg_place(tmp_path) as pg:
        a, b = pg.backend(application_name="srunx-lost"), pg.backend()
        lab = "poll:lab"
        assert await a.leases.hold(lab)
        conn = await pg.admin()
        async with conn:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'srunx-lost'"
            )
        assert await taken(b.leases, lab)  # freed with the session: another replica takes it
        assert not await a.leases.hold(lab) and a.leases.held() == []
        await b.close()
        assert await taken(a.leases, lab)  # on its new session
        assert a.leases.held() == [lab]


async def test_stores_on_two_schemas_of_one_database_lease_apart(tmp_path: Path) -> None:
    async with pg_place(tmp_path / "one") as one, pg_place(tmp_path / "two") as two:
        assert await one.backend().leases.hold("poll:lab")
        assert await two.backend().leases.hold("poll:lab")
        assert not await one.backend().leases.hold("poll:lab")
