"""What a job card says, whatever draws it: the state, the fields in order, and a note.
The console's text card and the Block Kit card both show exactly these."""

from __future__ import annotations

from bot.core.models import JobInfo, JobState


def state_text(job: JobInfo) -> str:
    if job.state == JobState.UNKNOWN:
        last = f" (last known {job.last_known.value})" if job.last_known else ""
        return f"UNKNOWN{last}"
    return job.state.value


def job_fields(job: JobInfo) -> list[tuple[str, str]]:
    """(label, value) for each thing known about the job, in the card's order. Nodes and
    GPUs start with their count (`2 (node[1-2])`, `3`)."""
    nodes = f"{job.nodes} ({job.nodelist})" if job.nodes and job.nodelist else str(job.nodes or "")
    elapsed = job.elapsed + (f" of {job.time_limit}" if job.elapsed and job.time_limit else "")
    pairs = [
        ("User", job.user),
        ("Partition", job.partition),
        ("Nodes", nodes),
        ("GPUs", str(job.gpus or "")),
        ("Elapsed", elapsed),
        ("Exit code", job.exit_code or ""),
        ("Tasks", job.tally),
    ]
    return [(label, value) for label, value in pairs if value]


def job_note(job: JobInfo) -> str | None:
    """Why the state is what it is, when Slurm (or the bot) says: under the fields."""
    if job.state == JobState.UNKNOWN:
        return f"could not look: {job.reason}"
    if job.reason and job.state == JobState.PENDING:
        return f"waiting: {job.reason}"
    return None
