"""What each job of a workflow run is, in one word for the tallies and in a few for the
table: one reading of the run record for the run's message, `flows` and anyone else.

A job that will never run says why, never just "pending": Slurm keeps a dependant whose
parent failed PENDING with reason DependencyNeverSatisfied."""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from bot.core.flowruns import NEVER_SATISFIED, FlowCell, FlowRun, FlowStep
from bot.core.models import JobState


class StepStatus(NamedTuple):
    key: str  # what the tally counts it as: a Slurm state, "not run", "never runs", ...
    text: str  # what the table says


def _parents(cell: FlowCell, step: FlowStep) -> list[tuple[str, FlowStep]]:
    by_name = {s.name: s for s in cell.steps}
    return [(d.kind, by_name[d.on]) for d in step.deps if d.on in by_name]


def _not_needed(cell: FlowCell, step: FlowStep) -> str | None:
    """The `afternotok` parent that completed: this branch handles a failure that did not
    happen, so it does not run and nothing went wrong."""
    for kind, parent in _parents(cell, step):
        if kind == "afternotok" and parent.state is JobState.COMPLETED:
            return parent.name
    return None


def _parent_failed(cell: FlowCell, step: FlowStep) -> bool:
    """A parent that never runs, or that ended other than `afterok` needs."""
    for kind, parent in _parents(cell, step):
        if parent.skipped or parent.reason == NEVER_SATISFIED:
            return True
        if kind == "afterok" and parent.settled and parent.state is not JobState.COMPLETED:
            return True
    return False


def step_status(run: FlowRun, cell: FlowCell, step: FlowStep) -> StepStatus:
    never = step.reason == NEVER_SATISFIED
    ended = step.state is not None and step.state.is_terminal
    if step.skipped or (never and ended):
        handled = _not_needed(cell, step)
        if handled:
            return StepStatus("not run", f"not run (not needed: {handled} completed)")
        if never or _parent_failed(cell, step):
            return StepStatus("not run", "not run (dependency failed)")
        return StepStatus(JobState.CANCELLED.value, "cancelled")
    if never:
        handled = _not_needed(cell, step)
        why = f"{handled} completed, not needed" if handled else "a dependency failed"
        return StepStatus("never runs", f"never runs: {why}")
    if step.state is None:
        if step.job_id:
            return StepStatus(JobState.PENDING.value, "submitted")
        return StepStatus("not submitted", "not submitted yet" if run.active else "not submitted")
    state = step.state.value
    failed = ended and step.state is not JobState.COMPLETED
    exit_code = f" (exit {step.exit_code})" if failed and step.exit_code else ""
    if step.retry_at is not None:
        return StepStatus("retrying", f"{state}{exit_code}, retry {step.attempts} of {step.retry}")
    if step.state is JobState.PENDING and step.reason:
        return StepStatus(state, f"{state} ({step.reason})")
    return StepStatus(state, state + exit_code)


def tally(run: FlowRun) -> Counter[str]:
    """Jobs per tally key, in the order the table first shows each."""
    return Counter(step_status(run, cell, step).key for cell, step in run.steps())
