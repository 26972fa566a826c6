"""The PostgreSQL backend beyond the shared contract (tests/store/test_backend.py and
test_port.py run it too): replicas racing on one record, index lookups, a server that drops
its sessions or restarts, a server that is not there."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from storekit import NOWHERE, THREADS, WATCHES, pg_place

from bot.store.backend import Doc
from bot.store.pg_conn import StoreError
from bot.store.postgres import PgBackend
from labkit import Lab


def thread(seq: int, by: str = "") -> Doc:
    return {"key": "lab:1", "cluster": "lab", "thread_ts": "1.1", "seq": seq, "by": by}


@pytest.mark.lab
async def test_of_two_replicas_replacing_one_record_at_once_one_wins(tmp_path: Path) -> None:
    async with pg_place(tmp_path) as pg:
        a, b = pg.backend().collection(THREADS), pg.backend().collection(THREADS)
        await a.upsert(thread(0))
        for seq in range(20):
            replicas = [(a, "a"), (b, "b")] * 3
            tries = [(c, thread(seq + 1, f"{name}{i}")) for i, (c, name) in enumerate(replicas)]
            won = await asyncio.gather(*(c.replace_if(d, {"seq": seq}) for c, d in tries))
            assert won.count(True) == 1
            winner = tries[won.index(True)][1]
            assert await b.get("lab:1") == await a.get("lab:1") == winner


@pytest.mark.lab
async def test_find_is_an_index_lookup(tmp_path: Path) -> None:
    async with pg_place(tmp_path) as pg:
        watches = pg.backend().collection(WATCHES)
        docs = [
            {"id": f"w{i}", "kind": f"k{i % 7}", "cluster": f"c{i % 13}", "user_id": f"U{i}"}
            for i in range(3000)
        ]
        await watches.upsert_many(docs)
        found = await watches.find(kind="k3", cluster="c5")
        assert sorted(d["id"] for d in found) == sorted(
            d["id"] for d in docs if d["kind"] == "k3" and d["cluster"] == "c5"
        )
        conn = await pg.admin()
        async with conn:
            await conn.execute("ANALYZE srunx_records")
            query = watches._find[("kind", "cluster")]
            params = ["watches", '"k3"', '"c5"']
            cur = await conn.execute(b"EXPLAIN " + query.as_bytes(conn), params)
            plan = " ".join(row[0] for row in await cur.fetchall())
        assert "srunx_live_kind_cluster" in plan, plan


@pytest.mark.lab
async def test_sessions_the_server_ended_are_replaced_unseen(tmp_path: Path) -> None:
    async with pg_place(tmp_path) as pg:
        threads = pg.backend(application_name="srunx-ended").collection(THREADS)
        await threads.upsert(thread(0))
        conn = await pg.admin()
        async with conn:  # as a server restart does: every session of the bot ends
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE application_name = 'srunx-ended'"
            )
        await asyncio.sleep(0.2)
        assert await threads.get("lab:1") == thread(0)
        await threads.upsert(thread(1))
        assert await threads.get("lab:1") == thread(1)


@pytest.mark.lab
async def test_describe_names_where_it_is_without_the_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with pg_place(tmp_path) as pg:
        backend = pg.backend()
        before = await backend.describe()
        await backend.collection(THREADS).upsert(thread(0))
        after = await backend.describe()
        assert await backend.leases.hold("poll:lab")
        await backend.close()
    assert before.startswith("PostgreSQL srunx@127.0.0.1:") and "no schema yet" in before
    assert after.endswith("/srunx, schema v1")
    for shown in (before, after, caplog.text):
        assert "srunxlab" not in shown


async def test_a_server_that_is_not_there_is_one_line_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    backend = PgBackend(NOWHERE)
    ok, text = await backend.status()
    assert not ok and text == "PostgreSQL srunx@127.0.0.1:1/srunx: Connection refused"
    with pytest.raises(StoreError) as failed:
        await backend.collection(THREADS).get("lab:1")
    assert str(failed.value) == text
    assert not await backend.leases.hold("poll:lab") and backend.leases.held() == []
    await backend.close()
    assert "lease poll:lab not taken: PostgreSQL srunx@127.0.0.1:1/srunx" in caplog.text
    assert "Sekrit" not in caplog.text


@pytest.mark.lab
async def test_a_restarted_server_is_used_again_at_once(lab: Lab, tmp_path: Path) -> None:
    async with pg_place(tmp_path) as pg:
        backend = pg.backend()
        threads = backend.collection(THREADS)
        await threads.upsert(thread(0))
        assert await backend.leases.hold("poll:lab")
        await lab.fault("pg-down")
        try:
            with pytest.raises(StoreError, match="Connection refused"):
                await threads.get("lab:1")
            assert not await backend.leases.hold("poll:lab") and backend.leases.held() == []
        finally:
            await lab.fault("pg-up")
        assert await threads.get("lab:1") == thread(0)  # no retry, no wait: at once
        assert await backend.leases.hold("poll:lab")  # taken again on a new session
