"""The storage port's contract (bot/store/port.py): every backend passes these, the files and
PostgreSQL (each opened again for each check: a restart) and memory alike."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from storekit import forget, opened, pg_url

from bot.store.backend import Doc
from bot.store.port import State
from bot.store.state import open_state, open_store

Open = Callable[[], State]


@pytest.fixture(params=["files", "memory", pytest.param("postgres", marks=pytest.mark.lab)])
async def reopen(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Open]:
    where = tmp_path / "state"
    if request.param == "files":
        yield lambda: open_state(where)
    elif request.param == "memory":
        state = open_state(None)
        yield lambda: state
    else:
        url = pg_url(where)

        def restarted() -> State:
            state = open_store(url, where)
            opened(where, state.backend)
            return state

        yield restarted
        await forget(where)


def thread(i: int, **extra: object) -> Doc:
    return {
        "key": f"lab:{i}",
        "cluster": "lab" if i < 10 else "big",
        "job_id": str(i),
        "channel": "C1",
        "thread_ts": f"17000.{i}",
        "done": False,
        **extra,
    }


async def test_threads_open_closed_and_found_by_their_thread(reopen: Open) -> None:
    threads = reopen().threads
    for i in (1, 2, 11):
        await threads.save(thread(i))
    await threads.save(thread(2, seq=1), now=True)
    await threads.close([thread(1, done=True)])
    state = reopen()
    opened = [json.loads(t)["key"] for t in await state.threads.open_json()]
    assert sorted(opened) == ["lab:11", "lab:2"]
    assert [json.loads(t)["key"] for t in await state.threads.open_json("lab")] == ["lab:2"]
    assert (await state.threads.by_key("lab:2") or {})["seq"] == 1
    assert await state.threads.by_key("lab:1") == thread(1, done=True)  # closed: history
    assert await state.threads.at("C1", "17000.1") == thread(1, done=True)
    assert await state.threads.at("C1", "17000.9") is None


async def test_closed_threads_are_pruned_after_the_cutoff(reopen: Open) -> None:
    threads = reopen().threads
    await threads.close([thread(1, done=True)])
    assert await threads.prune(0.0) == 0  # closed just now: kept
    assert await threads.prune(2e10) == 1
    assert await reopen().threads.at("C1", "17000.1") is None


async def test_watches_by_user_and_kind_applied_and_removed(reopen: Open) -> None:
    watches = reopen().watches
    mine = {"id": "w1", "kind": "mine", "cluster": "lab", "user_id": "U1"}
    gpus = {"id": "w2", "kind": "gpus", "cluster": "lab", "user_id": "U2", "fired": 0}
    assert await watches.add(mine) and await watches.add(gpus)
    assert not await watches.add({**mine, "user_id": "U9"})  # its id is taken
    await watches.apply([{**gpus, "fired": 1}], ["w1"])
    state = reopen()
    assert await state.watches.of_user() == [{**gpus, "fired": 1}]
    assert await state.watches.of_user("U1") == []
    assert await state.watches.of_kind("gpus", "lab") == [{**gpus, "fired": 1}]
    await state.watches.save({**mine, "kind": "gpus"})
    await state.watches.remove(["w2"])
    assert [d["id"] for d in await reopen().watches.of_kind("gpus", "lab")] == ["w1"]


async def test_reports_added_once_saved_listed_removed(reopen: Open) -> None:
    reports = reopen().reports
    r1 = {"id": "r1", "user_id": "U1", "last_slot": None}
    assert await reports.add(r1) and not await reports.add(r1)
    await reports.save({**r1, "last_slot": 60.0})
    await reports.add({"id": "r2", "user_id": "U2"})
    state = reopen()
    assert await state.reports.get("r1") == {**r1, "last_slot": 60.0}
    assert [d["id"] for d in await state.reports.of_user("U2")] == ["r2"]
    assert len(await state.reports.of_user()) == 2
    await state.reports.remove("r1")
    assert await reopen().reports.get("r1") is None


async def test_prefs_and_seen_ids(reopen: Open) -> None:
    state = reopen()
    await state.prefs.set_cluster("U1", "lab")
    await state.prefs.set_cluster("U1", "big")
    await state.prefs.set_cluster("U2", "lab")
    assert await reopen().prefs.clusters() == {"U1": "big", "U2": "lab"}
    assert await state.seen.first("event:E1", at=100.0, expired=0.0)
    assert not await reopen().seen.first("event:E1", at=150.0, expired=50.0)
    assert await reopen().seen.first("event:E1", at=300.0, expired=200.0)  # expired: anew


async def test_own_defaults_per_user_and_cluster_replaced_and_forgotten(reopen: Open) -> None:
    state = reopen()
    await state.prefs.set_cluster("U1", "lab")
    await state.prefs.set_defaults("U1", "lab", {"conda": "ml", "env_vars": {"A": "1"}})
    await state.prefs.set_defaults("U1", "big", {"nodes": 2})
    await state.prefs.set_defaults("U2", "lab", {"memory": "4G"})
    await state.prefs.set_defaults("U1", "lab", {"time_limit": "1:00:00"})  # replaced whole
    await state.prefs.set_cluster("U1", "big")  # prefs apart: the defaults stay
    assert await reopen().prefs.defaults() == {
        "U1": {"lab": {"time_limit": "1:00:00"}, "big": {"nodes": 2}},
        "U2": {"lab": {"memory": "4G"}},
    }
    await state.prefs.set_defaults("U1", "big", {})
    await state.prefs.set_defaults("U9", "lab", {})  # none to forget: fine
    assert await reopen().prefs.defaults() == {
        "U1": {"lab": {"time_limit": "1:00:00"}},
        "U2": {"lab": {"memory": "4G"}},
    }
    assert await reopen().prefs.clusters() == {"U1": "big"}


async def test_a_batch_is_one_write_at_its_end_and_reads_see_it_at_once(reopen: Open) -> None:
    state = reopen()
    async with state.batch():
        await state.threads.save(thread(1))
        await state.threads.close([thread(2, done=True)])
        assert (await state.threads.by_key("lab:2") or {})["done"]
    assert [json.loads(t)["key"] for t in await reopen().threads.open_json()] == ["lab:1"]


def run(i: int, **extra: object) -> Doc:
    return {
        "id": f"f{i}",
        "cluster": "lab" if i < 10 else "big",
        "user_id": f"U{i % 2}",
        "active": True,
        "ended": None,
        "seq": 0,
        **extra,
    }


async def test_runs_active_by_cluster_finished_found_by_id_and_user(reopen: Open) -> None:
    flows = reopen().flows
    for i in (1, 2, 3, 11):
        assert await flows.add(run(i))
    assert not await flows.add(run(1, user_id="U9"))  # its id is taken
    await flows.save(run(2, seq=1), now=True)
    await flows.save(run(3, active=False, ended=1000.0))  # finished: out of the active ones
    assert not await flows.add(run(3))  # a finished run's id is taken too
    state = reopen()
    active = [json.loads(t) for t in await state.flows.active_json("lab")]
    assert sorted(d["id"] for d in active) == ["f1", "f2"] and run(2, seq=1) in active
    assert [json.loads(t)["id"] for t in await state.flows.active_json("big")] == ["f11"]
    assert await state.flows.active_json("gone") == []
    assert await state.flows.get("f3") == run(3, active=False, ended=1000.0)
    assert await state.flows.get("f9") is None
    assert sorted(d["id"] for d in await state.flows.of_user("U1")) == ["f1", "f11", "f3"]
    assert sorted(d["id"] for d in await state.flows.of_user()) == ["f1", "f11", "f2", "f3"]
    await state.flows.save(run(5, active=False, ended=2000.0))
    # the active ones, and of the finished only those that ended last
    assert sorted(d["id"] for d in await state.flows.of_user("U1", limit=1)) == ["f1", "f11", "f5"]
    await state.flows.save(run(3, seq=5))  # active again (a retry): live, listed once
    assert [d["seq"] for d in await reopen().flows.of_user("U1") if d["id"] == "f3"] == [5]


async def test_finished_runs_are_pruned_by_when_they_ended(reopen: Open) -> None:
    flows = reopen().flows
    await flows.add(run(1))
    await flows.save(run(2, active=False, ended=1e9))
    await flows.save(run(3, active=False, ended=1e9 + 86400))
    assert await flows.prune(1e9) == 0  # ended in that very hour: kept
    assert await flows.prune(1e9 + 3600) == 1
    state = reopen()
    assert await state.flows.get("f2") is None and await state.flows.get("f3") is not None
    assert sorted(d["id"] for d in await state.flows.of_user()) == ["f1", "f3"]
    assert await state.flows.prune(2e10) == 1 and await reopen().flows.get("f1") is not None


async def test_a_run_saved_now_in_a_batch_is_durable_before_the_batch_ends(
    reopen: Open,
) -> None:
    state = reopen()
    async with state.batch():
        await state.flows.save(run(1, seq=1), now=True)  # an intent, before its post
        await state.flows.save(run(2, active=False, ended=1e9), now=True)
        assert (await reopen().flows.get("f1") or {})["seq"] == 1
        assert await reopen().flows.get("f2") == run(2, active=False, ended=1e9)
        assert [d["id"] for d in await reopen().flows.of_user("U0")] == ["f2"]
    assert [json.loads(t)["id"] for t in await reopen().flows.active_json("lab")] == ["f1"]


async def test_a_claim_saves_only_over_the_state_it_expects(reopen: Open) -> None:
    state = reopen()
    await state.threads.save(thread(1, seq=2))
    posting = thread(1, seq=3, in_flight={"seq": 3, "kind": "state"})
    assert not await state.threads.claim(posting, 1)  # another replica is past that one
    assert await state.threads.claim(posting, 2)
    assert not await reopen().threads.claim({**posting, "note": "twice"}, 2)  # in flight
    assert await reopen().threads.by_key("lab:1") == posting
    assert not await state.threads.claim(thread(9, seq=1), 0)  # no such thread: not made
    assert await reopen().threads.by_key("lab:9") is None
    await state.flows.add(run(1, in_flight=None))
    assert await state.flows.claim(run(1, seq=1, in_flight={"seq": 1}), 0)
    assert not await reopen().flows.claim(run(1, seq=1, in_flight={"seq": 1}), 0)
    assert (await reopen().flows.get("f1") or {})["seq"] == 1


async def test_a_report_slot_is_claimed_once(reopen: Open) -> None:
    reports = reopen().reports
    await reports.add({"id": "r1", "user_id": "U1", "last_slot": None})
    assert await reports.claim({"id": "r1", "user_id": "U1", "last_slot": 60.0}, None)
    assert not await reopen().reports.claim({"id": "r1", "user_id": "U1", "last_slot": 60.0}, None)
    assert await reopen().reports.claim({"id": "r1", "user_id": "U1", "last_slot": 120.0}, 60.0)
    assert (await reopen().reports.get("r1") or {})["last_slot"] == 120.0


async def test_alone_it_holds_its_leases_and_says_what_it_is(reopen: Open, tmp_path: Path) -> None:
    state = reopen()
    lease = f"poll:{tmp_path}"  # leases are database-wide: this test's own
    assert await state.leases.hold(lease) and await state.leases.hold(lease)
    assert state.leases.held() == [lease]
    described = await state.describe()
    assert described and "srunxlab" not in described  # never the password
