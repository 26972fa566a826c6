"""The words of a run's thread: a job starting or ending, a retry, and the run's summary."""

from __future__ import annotations

from bot.core.flowruns import FlowCell, FlowRun, FlowStep
from bot.core.jobtext import final_summary, human_seconds, transition_text
from bot.core.models import JobInfo, JobState
from bot.core.slurm.client import SlurmClient
from bot.errors import BotError


def _who(step: FlowStep, info: JobInfo) -> str:
    return f"`{step.name}` (job {info.job_id})"


def start_text(step: FlowStep, info: JobInfo) -> str:
    return f"{_who(step, info)}: {transition_text(info)}"


async def end_text(client: SlurmClient, step: FlowStep, info: JobInfo) -> str:
    """Its end with exit code and usage; a job that did not complete also shows the last
    lines of its output."""
    try:
        usage = await client.usage(info.job_id)
    except BotError:
        usage = None
    out = None
    if info.state is not JobState.COMPLETED:
        try:
            out = await client.tail(info.job_id, 10)
        except BotError:
            out = None
    return f"{_who(step, info)}: {final_summary(info, usage, out)}"


def retry_text(step: FlowStep) -> str:
    wait = f" in {human_seconds(step.retry_delay)}" if step.retry_delay else " now"
    return f"retrying{wait} (attempt {step.attempts + 1} of {step.retry + 1})"


def run_summary(run: FlowRun) -> str:
    """The run's last post: how it ended, what failed, what never ran, and how long it took."""
    steps = [s for _, s in run.steps()]

    def label(cell: FlowCell, step: FlowStep) -> str:
        return f"`{step.name}`" if len(run.cells) == 1 else f"`c{cell.index}.{step.name}`"

    failed = [
        f"{label(c, s)} {s.state.value}" + (f" (exit {s.exit_code})" if s.exit_code else "")
        for c, s in run.steps()
        if not s.skipped and s.state is not None and s.state is not JobState.COMPLETED
    ]
    skipped = [label(c, s) for c, s in run.steps() if s.skipped]
    took = human_seconds((run.ended or run.created) - run.created)
    done = sum(1 for s in steps if s.state is JobState.COMPLETED)
    head = {
        "completed": f"*run `{run.name}` completed*: all {len(steps)} jobs COMPLETED",
        "cancelled": f"*run `{run.name}` cancelled*: {done} of {len(steps)} jobs had COMPLETED",
    }.get(run.outcome, f"*run `{run.name}` failed*: {done} of {len(steps)} jobs COMPLETED")
    lines = [f"{head} in {took}"]
    if failed:
        lines.append("failed: " + ", ".join(failed))
    if skipped:
        lines.append("did not run: " + ", ".join(skipped))
    retried = sum(max(0, s.attempts - 1) for s in steps)
    if retried:
        lines.append(f"retries: {retried}")
    return "\n".join(lines)
