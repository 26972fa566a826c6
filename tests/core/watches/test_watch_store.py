"""Job threads and watches on the storage port: open threads live, finished ones found until
the retention has passed (pruned at most once an hour), watches by user and by kind."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core.models import JobState
from bot.core.records import JobThread, Watch
from bot.core.retention import PRUNE_EVERY
from bot.core.watches.store import WatchStore
from bot.store.state import open_state

DAY = 86400.0


def _thread(job_id: str, cluster: str = "lab", **kw: object) -> JobThread:
    return JobThread.model_validate(
        {
            "cluster": cluster,
            "job_id": job_id,
            "account": "alice",
            "user_id": "U1",
            "channel": "C1",
            "thread_ts": f"{job_id}.000",
            **kw,
        }
    )


def _watch(kind: str, user: str = "U1", cluster: str = "lab", **kw: object) -> Watch:
    return Watch.model_validate(
        {"kind": kind, "user_id": user, "account": "a", "cluster": cluster, "channel": "C1", **kw}
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[WatchStore]:
    state = open_state(tmp_path)
    yield WatchStore(state, retention=30 * DAY)
    await state.close()


async def test_threads_are_found_by_job_and_by_their_slack_thread(
    store: WatchStore, tmp_path: Path
) -> None:
    await store.save_thread(_thread("1", state=JobState.RUNNING, seq=2))
    await store.save_thread(_thread("2", cluster="jump"))
    await store.state.close()
    store = WatchStore(open_state(tmp_path))  # what a restarted bot finds
    found = await store.thread("lab", "1")
    assert found is not None and (found.state, found.seq) == (JobState.RUNNING, 2)
    assert await store.thread_at("C1", "2.000") == _thread("2", cluster="jump")
    assert [t.job_id for t in await store.open_threads("lab")] == ["1"]
    assert sorted(t.key for t in await store.open_threads()) == ["jump:2", "lab:1"]
    await store.state.close()


async def test_a_finished_thread_leaves_the_open_ones_but_is_still_found(
    store: WatchStore,
) -> None:
    for job in ("1", "2", "3"):
        await store.save_thread(_thread(job))
    await store.save_thread(_thread("1", done=True))
    await store.close_threads("lab", ["2", "404"])  # an unknown job closes nothing
    assert [t.job_id for t in await store.open_threads()] == ["3"]
    two = await store.thread_at("C1", "2.000")
    assert two is not None and two.done


async def test_finished_threads_are_pruned_after_the_retention_at_most_hourly(
    store: WatchStore,
) -> None:
    t0 = time.time()
    await store.save_thread(_thread("1", done=True))
    assert store.kept_since(t0) == t0 - 30 * DAY
    assert await store.prune(t0 + DAY) == 0  # still within the retention
    later = t0 + 31 * DAY
    assert await store.prune(later) == 1 and await store.thread("lab", "1") is None
    await store.save_thread(_thread("2", done=True))
    assert await store.prune(later + PRUNE_EVERY / 2) == 0  # within the hour: not looked
    assert await store.thread("lab", "2") is not None


async def test_watches_by_user_and_kind_changed_together_and_removed(store: WatchStore) -> None:
    mine = await store.add_watch(_watch("mine", id="w1"))
    again = await store.add_watch(_watch("mine", user="U2", id="w1"))  # id taken: a new one
    gpus = await store.add_watch(_watch("gpus", cluster="jump", gpus=2))
    job = await store.add_watch(_watch("job", job_id="7"))
    assert again.id != "w1"
    assert {w.id for w in await store.watches("U1")} == {"w1", gpus.id, job.id}
    assert [w.id for w in await store.mine_watches("lab")] in (
        [mine.id, again.id],
        [again.id, mine.id],
    )
    assert [w.id for w in await store.gpu_watches("jump")] == [gpus.id]
    assert await store.gpu_watches("lab") == []
    await store.apply([gpus.model_copy(update={"armed": False, "fired": 1})], [job.id])
    [fired] = await store.gpu_watches("jump")
    assert (fired.armed, fired.fired) == (False, 1)
    await store.save_watch(mine.model_copy(update={"baseline": ["5"]}))
    await store.remove_watches([again.id])
    [kept] = await store.mine_watches("lab")
    assert kept.baseline == ["5"]
    assert {w.id for w in await store.watches()} == {mine.id, gpus.id}
