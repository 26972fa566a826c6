"""When the bot cannot look, the answer is UNKNOWN (with the last recorded state), never a
false FAILED or COMPLETED, and it recovers by itself once the cluster is back."""

from __future__ import annotations

import pytest

from bot.core.models import Job, JobResource, JobState
from bot.runtime import Runtime
from labkit import ALICE, Lab, eventually, wait_state

pytestmark = pytest.mark.lab


async def _running_job(rt: Runtime) -> str:
    _, client = rt.clusters.client(ALICE, "lab")
    job = Job(name="outage", command="sleep 90", resources=JobResource(partition="cpu"))
    job_id = await client.submit(rt.jobs.renderer.render(job))
    await wait_state(client, job_id, {JobState.RUNNING})
    return job_id


async def test_slurmctld_down_gives_unknown_then_recovers(rt: Runtime, lab: Lab) -> None:
    _, client = rt.clusters.client(ALICE, "lab")
    job_id = await _running_job(rt)
    await lab.fault("ctld-down")
    try:
        info = await client.job(job_id)
        assert info.state == JobState.UNKNOWN, info
        assert info.last_known in (JobState.RUNNING, JobState.PENDING)
        assert "slurmctld" in info.reason and "Unable to contact slurm controller" in info.reason
        reply = await rt.dispatch.handle(ALICE, f"status {job_id}")
        assert reply.kind == "status" and "FAILED" not in reply.model_dump_json()
    finally:
        await lab.fault("ctld-up")
    back = await wait_state(client, job_id, {JobState.RUNNING}, timeout=30)
    assert back.source == "squeue"
    await client.cancel(job_id)


async def test_sshd_gone_gives_unknown_then_reconnects(rt: Runtime, lab: Lab) -> None:
    _, client = rt.clusters.client(ALICE, "lab")
    job_id = await _running_job(rt)
    await lab.fault("sshd-cut")
    try:
        for _ in range(2):  # the drop, then a refused reconnect
            info = await client.job(job_id)
            assert info.state == JobState.UNKNOWN and info.last_known is None, info
            assert "127.0.0.1" in info.reason
        reply = await rt.dispatch.handle(ALICE, "resources")
        assert reply.kind == "error" and "127.0.0.1:2222 refused" in reply.model_dump_json()
    finally:
        await lab.fault("sshd-up")
    back = await eventually(
        lambda: client.job(job_id), lambda i: i.state == JobState.RUNNING, timeout=30
    )
    assert back.state == JobState.RUNNING
    await client.cancel(job_id)


async def test_accounting_down_still_never_guesses(rt: Runtime, lab: Lab) -> None:
    _, client = rt.clusters.client(ALICE, "lab")
    await lab.fault("dbd-down")
    try:
        info = await client.job("987650")  # unknown to slurmctld, accounting unreadable
        assert info.state == JobState.UNKNOWN and "accounting" in info.reason, info
    finally:
        await lab.fault("dbd-up")
    info = await eventually(
        lambda: client.job("987650"), lambda i: i.state == JobState.NOT_FOUND, timeout=30
    )
    assert info.state == JobState.NOT_FOUND
