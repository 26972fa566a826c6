"""SlurmClient against the real lab, as alice over the lab sshd with host keys checked."""

from __future__ import annotations

import pytest

from bot.core.models import Job, JobResource, JobState
from bot.core.slurm.client import SlurmClient
from bot.errors import UsageError
from bot.runtime import Runtime
from labkit import ALICE, BOB, Lab, eventually, wait_state

pytestmark = pytest.mark.lab

DONE = {JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED}


def _client(rt: Runtime, user: str = ALICE, cluster: str = "lab") -> SlurmClient:
    return rt.clusters.client(user, cluster)[1]


async def _submit(rt: Runtime, command: str, user: str = ALICE, **res: object) -> str:
    job = Job(name="labtest", command=command, resources=JobResource.model_validate(res))
    return await _client(rt, user).submit(rt.jobs.renderer.render(job))


async def test_job_runs_then_completes_with_exit_code(rt: Runtime) -> None:
    client = _client(rt)
    job_id = await _submit(rt, "sleep 4; echo finished", partition="cpu")
    running = await wait_state(client, job_id, {JobState.RUNNING, *DONE})
    assert running.state == JobState.RUNNING, running
    assert running.user == "alice" and running.partition == "cpu"
    done = await wait_state(client, job_id, DONE)
    assert done.state == JobState.COMPLETED and done.exit_code == "0:0", done
    assert done.source == "sacct"


async def test_failing_job_reports_failed_with_its_exit_code(rt: Runtime) -> None:
    client = _client(rt)
    job_id = await _submit(rt, "echo about to fail; exit 3", partition="cpu")
    done = await wait_state(client, job_id, DONE)
    assert done.state == JobState.FAILED and done.exit_code == "3:0", done


async def test_cancel_own_job_and_refuse_another_users(rt: Runtime) -> None:
    alice, bob = _client(rt), _client(rt, BOB)
    job_id = await _submit(rt, "sleep 120", partition="cpu")
    await wait_state(alice, job_id, {JobState.RUNNING, JobState.PENDING})
    with pytest.raises(UsageError, match=r"belongs to alice; you can only cancel your own jobs"):
        await bob.cancel(job_id)
    assert (await alice.job(job_id)).state in (JobState.RUNNING, JobState.PENDING)
    after = await alice.cancel(job_id)
    assert after.state in (JobState.CANCELLED, JobState.COMPLETING), after
    final = await wait_state(alice, job_id, {JobState.CANCELLED})
    assert final.state == JobState.CANCELLED
    with pytest.raises(UsageError, match="already ended"):
        await alice.cancel(job_id)
    with pytest.raises(UsageError, match="no job 987654"):
        await alice.cancel("987654")


async def test_tail_reads_the_output_path_slurm_reports(rt: Runtime) -> None:
    client = _client(rt)
    job_id = await _submit(rt, "for i in 1 2 3 4 5; do echo line$i; done", partition="cpu")
    await wait_state(client, job_id, DONE)
    out = await eventually(lambda: client.tail(job_id, 2), lambda o: "line5" in o.text, timeout=20)
    assert out.path == f"/home/alice/slurm-{job_id}.out" and out.cut_to is None
    assert out.text.splitlines() == ["line4", "line5"]


async def test_resources_show_lab_gpus_and_follow_a_gpu_job(rt: Runtime) -> None:
    client = _client(rt)
    snap = await client.resources()
    gpu = next(p for p in snap.partitions if p.partition == "gpu")
    assert gpu.gpus_total == 8 and {n.node for n in gpu.nodes} == {"node1", "node2"}
    cpu = next(p for p in snap.partitions if p.partition == "cpu")
    assert cpu.gpus_total == 0
    before = gpu.gpus_free
    job_id = await _submit(rt, "sleep 60", partition="gpu", gpus_per_node=2)
    try:
        await wait_state(client, job_id, {JobState.RUNNING})
        during = await eventually(
            lambda: client.resources("gpu"), lambda s: s.partitions[0].gpus_free == before - 2
        )
        assert during.partitions[0].gpus_used >= 2
    finally:
        await client.cancel(job_id)


async def test_multi_node_job_counts_gpus_on_every_node(rt: Runtime) -> None:
    client = _client(rt)
    job_id = await _submit(rt, "sleep 60", partition="gpu", nodes=2, gpus_per_node=1)
    try:
        info = await wait_state(client, job_id, {JobState.RUNNING})
        assert info.gpus == 2 and info.nodes == 2
        snap = await client.resources("gpu")
        used = {n.node: n.gpus_used for n in snap.partitions[0].nodes}
        assert used["node1"] >= 1 and used["node2"] >= 1
    finally:
        await client.cancel(job_id)


async def test_drained_node_gpus_are_not_free(rt: Runtime, lab: Lab) -> None:
    client = _client(rt)
    await lab.sh("scontrol", "update", "nodename=node2", "state=drain", "reason=srunx-test")
    try:
        snap = await client.resources("gpu")
        part = snap.partitions[0]
        node2 = next(n for n in part.nodes if n.node == "node2")
        assert not node2.available and "drain" in node2.state
        assert part.nodes_drain == 1
        assert part.gpus_free <= 4 and part.gpus_unavailable >= 4 - node2.gpus_used
    finally:
        await lab.sh("scontrol", "update", "nodename=node2", "state=resume")


async def test_unknown_partition_lists_the_real_ones(rt: Runtime) -> None:
    with pytest.raises(UsageError, match=r"unknown partition `gpux` on lab; partitions: cpu, gpu"):
        await _client(rt).check_partition("gpux")


async def test_array_tasks_keep_string_ids(rt: Runtime) -> None:
    client = _client(rt)
    job = Job(name="arr", command="echo task $SLURM_ARRAY_TASK_ID")
    script = rt.jobs.renderer.render(job).replace(
        "#SBATCH --job-name=arr", "#SBATCH --job-name=arr\n#SBATCH --array=1-3\n#SBATCH -p cpu"
    )
    job_id = await client.submit(script)
    whole = await wait_state(client, job_id, DONE)
    assert whole.tasks == {"COMPLETED": 3}
    task = await client.job(f"{job_id}_2")
    assert task.job_id == f"{job_id}_2" and task.state == JobState.COMPLETED


async def test_history_has_usage_columns(rt: Runtime) -> None:
    client = _client(rt)
    job_id = await _submit(rt, "exit 2", partition="cpu")
    await wait_state(client, job_id, DONE)
    records = await eventually(  # accounting lags slurmctld by a second or two
        lambda: client.history("alice", "now-1hours"), lambda rs: job_id in {r.job_id for r in rs}
    )
    rec = next(r for r in records if r.job_id == job_id)
    assert rec.state == JobState.FAILED and rec.exit_code == "2:0"
    assert rec.elapsed and rec.total_cpu and "cpu=" in rec.alloc_tres
