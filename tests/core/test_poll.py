"""The poll schedule: each cluster's ticks in order, one failing tick not starving the next,
one APScheduler job per cluster that never stacks, and the reports' slots."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.poll import poll, start_polling
from bot.store.backend import OneProcess
from scripted import OfflineBot


async def test_a_poll_runs_every_tick_in_order_even_after_one_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[str] = []

    async def threads(cluster: str) -> None:
        ran.append(f"threads {cluster}")
        raise RuntimeError("a bug in one feature")

    async def gpus(cluster: str) -> int:
        ran.append(f"gpus {cluster}")
        return 0

    await poll([threads, gpus], "lab", OneProcess())
    assert ran == ["threads lab", "gpus lab"]
    assert "polling lab failed" in caplog.text


class Elsewhere:
    """The leases of a replica that leads nothing: another one polls every cluster."""

    async def hold(self, name: str) -> bool:
        return False

    def held(self) -> list[str]:
        return []


async def test_a_replica_that_does_not_hold_the_clusters_lease_does_not_poll_it() -> None:
    ran: list[str] = []

    async def threads(cluster: str) -> None:
        ran.append(cluster)

    await poll([threads], "lab", Elsewhere())
    assert ran == []
    leases = OneProcess()
    await poll([threads], "lab", leases)
    assert ran == ["lab"] and leases.held() == ["poll:lab"]


async def test_one_job_per_cluster_that_never_stacks(tmp_path: Path) -> None:
    bot = await OfflineBot.open(tmp_path)
    try:
        scheduler = await start_polling(
            ["lab", "jump"], 30.0, [], bot.rt.reports, bot.rt.state.leases
        )
        try:
            jobs = {job.id: job for job in scheduler.get_jobs()}
            assert set(jobs) == {"poll-lab", "poll-jump", "reports-sync"}
            for job in jobs.values():
                assert (job.max_instances, job.coalesce) == (1, True)
                assert job.trigger.interval.total_seconds() == 30.0
            assert jobs["poll-jump"].args[1] == "jump"
            assert jobs["poll-jump"].args[2] is bot.rt.state.leases
        finally:
            scheduler.shutdown(wait=False)
    finally:
        await bot.rt.close()
