"""`watch gpus` on the real lab: GPUs held by real jobs, one `sinfo` per poll, alerts recorded
by a stand-in poster. The clock for re-arming is the test's, so flapping is deterministic."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.config import NotifyConfig
from bot.core import commands as c
from bot.core import replies as r
from bot.core.models import Job, JobResource, JobState
from bot.core.records import Watch
from bot.core.watches.gpus import GpuWatcher
from bot.core.watches.store import WatchStore
from bot.errors import UsageError
from bot.runtime import Runtime
from bot.store.state import open_state
from labkit import ALICE, Lab, Posts, eventually, wait_state

pytestmark = pytest.mark.lab
REARM = 60.0


@dataclass
class GpuRig:
    lab: Lab
    rt: Runtime
    watches: WatchStore
    posts: Posts
    watcher: GpuWatcher
    now: float = 1000.0
    held: list[str] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def hold_all_gpus(self, seconds: int = 300) -> str:
        """A job on both gpu nodes with all 8 GPUs; returns once it runs."""
        _, client = self.rt.clusters.client(ALICE, "lab")
        job = Job(
            name=f"hold{secrets.token_hex(2)}",
            command=f"sleep {seconds}",
            resources=JobResource(partition="gpu", nodes=2, gpus_per_node=4),
        )
        job_id = await client.submit(self.rt.jobs.renderer.render(job))
        self.held.append(job_id)
        await wait_state(client, job_id, {JobState.RUNNING}, timeout=60)
        return job_id

    async def release(self, job_id: str) -> None:
        _, client = self.rt.clusters.client(ALICE, "lab")
        await client.transport.run(["scancel", job_id])

    async def watch(self) -> Watch:
        [w] = await self.watches.gpu_watches("lab")
        return w

    async def tick_until(self, done: Callable[[], Awaitable[bool]], timeout: float = 40) -> int:
        """Tick until `done()` holds; returns the alerts posted meanwhile."""
        posted = 0

        async def probe() -> bool:
            nonlocal posted
            posted += await self.watcher.tick("lab")
            return await done()

        await eventually(probe, bool, timeout=timeout, interval=1.0)
        return posted


@pytest.fixture
async def rig(lab: Lab, tmp_path: Path) -> AsyncIterator[GpuRig]:
    rt = await Runtime.open(lab.config())
    store = open_state(tmp_path / "state")
    watches = WatchStore(store)
    posts = Posts()
    rig = GpuRig(lab, rt, watches, posts, None)  # type: ignore[arg-type]
    rig.watcher = GpuWatcher(
        rt.access, rt.clusters, watches, posts, NotifyConfig(gpu_rearm_after=REARM), clock=rig.clock
    )
    try:
        yield rig
    finally:
        for job_id in rig.held:
            await rig.release(job_id)
        await store.close()
        await rt.close()


def _alerts(rig: GpuRig) -> list[r.Alert]:
    return rig.posts.of(r.Alert)


async def test_one_shot_watch_fires_once_when_the_holding_job_ends(rig: GpuRig) -> None:
    holder = await rig.hold_all_gpus(seconds=12)
    text = await rig.watcher.watch(ALICE, c.WatchGpus(gpus=2, partition="gpu"), "C1")
    assert "when 2 GPUs are free on gpu on lab (now 0 free)" in text
    assert await rig.watcher.tick("lab") == 0  # still held

    async def gone() -> bool:
        return not await rig.watches.gpu_watches("lab")

    assert await rig.tick_until(gone) == 1  # the job ended by itself
    _, client = rig.rt.clusters.client(ALICE, "lab")
    assert (await client.job(holder)).state == JobState.COMPLETED
    [alert] = _alerts(rig)
    assert rig.posts.sent[0][0] == "C1" and alert.mention == ALICE
    assert "GPUs are free on gpu on lab (8/8); you asked for 2" in alert.text
    for _ in range(2):
        assert await rig.watcher.tick("lab") == 0
    assert len(rig.posts.sent) == 1


async def test_continuous_fires_on_each_rise_and_not_on_flapping(rig: GpuRig) -> None:
    first = await rig.hold_all_gpus()
    await rig.watcher.watch(ALICE, c.WatchGpus(gpus=2, partition="gpu", continuous=True), "C1")
    assert (await rig.watch()).armed
    assert await rig.watcher.tick("lab") == 0

    async def fired() -> bool:
        return not (await rig.watch()).armed

    await rig.release(first)
    assert await rig.tick_until(fired) == 1

    # Flapping: held again for a moment and freed before the re-arm time.
    flap = await rig.hold_all_gpus()
    assert await rig.watcher.tick("lab") == 0
    assert (await rig.watch()).below_since == rig.now
    rig.now += REARM / 2
    await rig.release(flap)

    async def seen_free() -> bool:
        return (await rig.watch()).below_since is None

    assert await rig.tick_until(seen_free) == 0
    assert len(_alerts(rig)) == 1

    # Held for longer than the re-arm time: the next rise notifies again.
    long = await rig.hold_all_gpus()
    assert await rig.watcher.tick("lab") == 0
    rig.now += REARM + 1
    assert await rig.watcher.tick("lab") == 0
    assert (await rig.watch()).armed
    await rig.release(long)
    assert await rig.tick_until(fired) == 1
    assert len(_alerts(rig)) == 2 and (await rig.watch()).fired == 2
    assert "I'll tell you again the next time it rises to 2" in _alerts(rig)[1].text


async def test_already_free_needs_no_watch_and_bad_input_is_refused(rig: GpuRig) -> None:
    text = await rig.watcher.watch(ALICE, c.WatchGpus(gpus=1, partition="gpu"), "C1")
    assert "right now, so no watch was set" in text and "submit -p gpu" in text
    assert not await rig.watches.gpu_watches("lab")
    with pytest.raises(UsageError, match="gpu has only 8 GPUs in all"):
        await rig.watcher.watch(ALICE, c.WatchGpus(gpus=9, partition="gpu"), "C1")
    with pytest.raises(UsageError, match="unknown partition `gpux` on lab; partitions: cpu, gpu"):
        await rig.watcher.watch(ALICE, c.WatchGpus(gpus=1, partition="gpux"), "C1")
