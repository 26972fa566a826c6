"""What a cluster report says, taken from `sinfo` and `squeue`."""

from __future__ import annotations

import asyncio

from pydantic import BaseModel

from bot.core.models import (
    JobState,
    PartitionResources,
    QueueJob,
    QueueSummary,
)
from bot.core.partial import read_part, skipped
from bot.core.slurm.client import SlurmClient
from bot.core.slurm.parse import summarize_queue


class ReportParts(BaseModel):
    """The sections of a report, read from Slurm (see `take`)."""

    partitions: list[PartitionResources] | None = None
    queue: QueueSummary | None = None
    user_jobs: list[QueueJob] | None = None
    running: list[QueueJob] | None = None
    problems: list[str] = []


async def take(
    client: SlurmClient, account: str, partition: str | None, include: tuple[str, ...]
) -> ReportParts:
    """One `sinfo` and one `squeue` at most, run together; a part Slurm did not answer is
    named in `problems`, never shown as zeros."""
    want_queue = bool({"jobs", "user", "running"} & set(include))
    parts = ReportParts()
    snap, jobs = await asyncio.gather(
        read_part("resources", client.resources(partition), parts.problems)
        if "resources" in include
        else skipped(),
        read_part("queue", client.queue(partition), parts.problems) if want_queue else skipped(),
    )
    if snap is not None:
        parts.partitions = [p.model_copy(update={"nodes": []}) for p in snap.partitions]
    if jobs is not None:
        if "jobs" in include:
            parts.queue = summarize_queue(jobs)
        if "user" in include:
            parts.user_jobs = [j for j in jobs if j.user == account]
        if "running" in include:
            parts.running = [j for j in jobs if j.state == JobState.RUNNING]
    return parts
