"""What a cluster report says, from one `sinfo` and one `squeue` at most (captured from the
lab): only the parts asked for, a part Slurm did not answer named."""

from __future__ import annotations

from bot.core.models import JobState
from bot.core.reports.parts import take
from bot.core.slurm.client import SlurmClient
from scripted import CTLD_DOWN, DATA, Scripted, captured, sinfo

ALL = ("resources", "jobs", "user", "running")


def _client(slurm: Scripted) -> SlurmClient:
    return SlurmClient(slurm, "lab")


async def test_every_part_from_one_sinfo_and_one_squeue() -> None:
    slurm = Scripted({"sinfo": sinfo("busy"), "squeue": captured(DATA / "squeue_queue.txt")})
    parts = await take(_client(slurm), "alice", None, ALL)
    assert (slurm.count("sinfo"), slurm.count("squeue"), parts.problems) == (1, 1, [])
    assert parts.partitions and all(p.nodes == [] for p in parts.partitions)  # totals only
    assert parts.queue is not None and parts.queue.longest_pending_job in ("619", "620")
    assert parts.user_jobs is not None and {j.user for j in parts.user_jobs} == {"alice"}
    assert parts.running is not None and [j.job_id for j in parts.running] == ["618"]
    assert all(j.state == JobState.RUNNING for j in parts.running)


async def test_only_the_parts_asked_for_are_read() -> None:
    slurm = Scripted({"sinfo": sinfo("idle")})
    parts = await take(_client(slurm), "alice", None, ("resources",))
    assert slurm.count("squeue") == 0 and parts.partitions
    assert (parts.queue, parts.user_jobs, parts.running) == (None, None, None)


async def test_someone_elses_jobs_are_not_theirs() -> None:
    slurm = Scripted({"squeue": captured(DATA / "squeue_queue.txt")})
    parts = await take(_client(slurm), "bob", None, ("user",))
    assert parts.user_jobs == [] and slurm.count("sinfo") == 0


async def test_a_part_slurm_did_not_answer_is_named_never_zero() -> None:
    slurm = Scripted({"sinfo": sinfo("idle"), "squeue": CTLD_DOWN})
    parts = await take(_client(slurm), "alice", None, ALL)
    assert parts.partitions and parts.queue is None and parts.user_jobs is None
    [problem] = parts.problems
    assert problem.startswith("queue: ")
