"""Workflow runs on the storage port: added under a unique id, the active ones read by
cluster, finished ones still found by id and by user (newest first) until the retention has
passed since they ended (pruned at most once an hour), an intent durable inside a batch."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core import ids
from bot.core.flowruns import FlowCell, FlowRun, FlowStep
from bot.core.flows.store import FlowStore
from bot.core.models import JobState
from bot.core.retention import PRUNE_EVERY
from bot.store.state import open_state

DAY = 86400.0


def _run(name: str = "etl", cluster: str = "lab", user: str = "U1", **kw: object) -> FlowRun:
    step = FlowStep(name="a", slurm_name=f"{name}.a", script="#!/bin/bash\ntrue\n")
    return FlowRun.model_validate(
        {
            "name": name,
            "cluster": cluster,
            "user_id": user,
            "account": "alice",
            "channel": "C1",
            "source": "block",
            "cells": [FlowCell(steps=[step])],
            **kw,
        }
    )


def _ended(run: FlowRun, at: float) -> FlowRun:
    return run.model_copy(update={"active": False, "ended": at, "outcome": "completed"})


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[FlowStore]:
    state = open_state(tmp_path)
    yield FlowStore(state)
    await state.close()


async def test_runs_get_unique_ids_and_are_found_again_after_a_restart(
    store: FlowStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    digits = iter(["b" * 12])
    monkeypatch.setattr(ids, "token_hex", lambda n: next(digits))
    first = await store.add(_run(id="f" + "a" * 12))
    second = await store.add(_run(id="f" + "a" * 12, user="U2"))  # taken: a new id
    assert (first.id, second.id) == ("f" + "a" * 12, "f" + "b" * 12)
    step = first.cells[0].steps[0].model_copy(update={"job_id": "7", "state": JobState.RUNNING})
    await store.save(first.model_copy(update={"cells": [FlowCell(steps=[step])], "seq": 1}))
    again = FlowStore(open_state(tmp_path))  # what a restarted bot finds
    found = await again.get(first.id)
    assert found is not None and found.seq == 1 and found.live_ids() == ["7"]
    assert await again.get(second.id) == second and await again.get("f404") is None


async def test_a_tick_reads_its_clusters_active_runs_only(store: FlowStore) -> None:
    lab = await store.add(_run())
    done = await store.add(_run("old"))
    jump = await store.add(_run(cluster="jump"))
    finished = _ended(done, time.time())
    await store.save(finished)
    assert [r.id for r in await store.active("lab")] == [lab.id]
    assert [r.id for r in await store.active("jump")] == [jump.id]
    assert await store.get(done.id) == finished  # still found, until pruned


async def test_a_users_runs_active_and_finished_newest_first(store: FlowStore) -> None:
    t0 = time.time()
    old = await store.add(_run("old", created=t0 - 3 * DAY))
    new = await store.add(_run("new", created=t0))
    theirs = await store.add(_run("theirs", user="U2", created=t0 - DAY))
    await store.save(_ended(old, t0 - 2 * DAY))
    assert [r.name for r in await store.of_user("U1")] == ["new", "old"]
    assert [r.id for r in await store.of_user()] == [new.id, theirs.id, old.id]
    assert await store.of_user("U9") == []


async def test_an_intent_is_durable_at_once_inside_a_batch(
    store: FlowStore, tmp_path: Path
) -> None:
    run = await store.add(_run())
    async with store.batch():
        await store.save(run.model_copy(update={"parent_ts": "1.0"}))  # at the batch's end
        await store.record_intent(run.model_copy(update={"seq": 1}))
        found = await FlowStore(open_state(tmp_path)).get(run.id)  # a crash here
        assert found is not None and found.seq == 1


async def test_finished_runs_are_pruned_after_the_retention_at_most_hourly(
    store: FlowStore,
) -> None:
    t0 = time.time()
    assert store.retention == 14 * DAY and store.kept_since(t0) == t0 - 14 * DAY
    active = await store.add(_run(created=t0 - 30 * DAY))  # however old: kept while active
    gone = await store.add(_run("gone"))
    await store.save(_ended(gone, t0 - 15 * DAY))
    kept = await store.add(_run("kept"))
    await store.save(_ended(kept, t0 - 13 * DAY))
    assert await store.prune(t0) == 1
    assert await store.get(gone.id) is None
    assert {r.name for r in await store.of_user("U1")} == {"etl", "kept"}
    assert await store.prune(t0 + PRUNE_EVERY / 2) == 0  # within the hour: not looked
    assert await store.get(kept.id) is not None and await store.get(active.id) is not None
    assert await store.prune(t0 + 2 * DAY) == 1
