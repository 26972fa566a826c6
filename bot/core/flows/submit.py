"""A run's jobs to sbatch, parents before children, each with Slurm's own `--dependency` on
its parents' real ids: the DAG then runs in Slurm whether the bot is up or not.

Jobs of one level (no job of the level depends on another of it) go out at once over the
cluster's one connection. Every job carries the run's id in its comment, so a bot that died
while submitting finds what it had submitted (`recover`)."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from bot.core.flowruns import Dep, FlowCell, FlowRun, FlowStep
from bot.core.models import JobState
from bot.core.slurm.client import SlurmClient
from bot.errors import BotError

COMMENT_PREFIX = "srunx-flow:"


def comment(run: FlowRun) -> str:
    return f"{COMMENT_PREFIX}{run.id}"


def satisfied(kind: str, state: JobState | None) -> bool:
    """Whether a parent in `state` has met a dependency of `kind` for good."""
    if state is None or not state.is_terminal:
        return kind == "after" and state not in (None, JobState.PENDING)
    if kind == "afterok":
        return state is JobState.COMPLETED
    if kind == "afternotok":
        return state is not JobState.COMPLETED
    return True  # afterany, after


def can_never_run(dep: Dep, parent: FlowStep) -> bool:
    """The parent ended for good in a way this dependency does not accept."""
    return parent.settled and not parent.skipped and not satisfied(dep.kind, parent.state)


def dependency(step: FlowStep, steps: dict[str, FlowStep]) -> str | None:
    """`--dependency` from the parents' current ids. A parent that met it for good already is
    left out: Slurm may have forgotten that job by now."""
    groups: dict[str, list[str]] = defaultdict(list)
    for dep in step.deps:
        parent = steps[dep.on]
        if parent.job_id is None or (parent.settled and satisfied(dep.kind, parent.state)):
            continue
        groups[dep.kind].append(parent.job_id)
    return ",".join(f"{kind}:{':'.join(ids)}" for kind, ids in groups.items()) or None


def options(run: FlowRun, step: FlowStep, steps: dict[str, FlowStep]) -> list[str]:
    opts = [f"--job-name={step.slurm_name}", f"--comment={comment(run)}"]
    dep = dependency(step, steps)
    return [*opts, f"--dependency={dep}"] if dep else opts


def _levels(todo: list[FlowStep]) -> list[list[FlowStep]]:
    """The steps to submit, grouped so each group's parents are in earlier groups."""
    names = {s.name for s in todo}
    depth: dict[str, int] = {}
    for s in todo:  # the cell's steps are in topological order already
        parents = [depth[d.on] for d in s.deps if d.on in names]
        depth[s.name] = 1 + max(parents) if parents else 0
    groups: dict[int, list[FlowStep]] = defaultdict(list)
    for s in todo:
        groups[depth[s.name]].append(s)
    return [groups[d] for d in sorted(groups)]


def submitted(step: FlowStep, job_id: str) -> FlowStep:
    return step.model_copy(
        update={
            "job_id": job_id,
            "job_ids": [*step.job_ids, job_id],
            "attempts": step.attempts + 1,
            "state": None,
            "retry_at": None,
            "exit_code": None,
            "reason": "",
        }
    )


async def submit_cell(
    client: SlurmClient, run: FlowRun, cell: FlowCell
) -> tuple[FlowCell, tuple[str, str] | None]:
    """Submit every step of the cell that has no job yet; the cell with the ids, and the
    first refusal as (job name, why), after which nothing more is submitted."""
    steps = {s.name: s for s in cell.steps}
    todo = [s for s in cell.steps if s.job_id is None and not s.skipped]
    failure: tuple[str, str] | None = None
    for level in _levels(todo):
        answers = await asyncio.gather(
            *(client.submit(s.script, options(run, s, steps)) for s in level),
            return_exceptions=True,
        )
        for step, answer in zip(level, answers, strict=True):
            if isinstance(answer, str):
                steps[step.name] = submitted(step, answer)
            elif failure is None:
                why = str(answer) if isinstance(answer, BotError) else type(answer).__name__
                failure = (step.name, why)
        if failure is not None:
            break
    return cell.with_steps(steps), failure


async def recover(client: SlurmClient, run: FlowRun, cell: FlowCell) -> FlowCell:
    """A cell the bot was submitting when it stopped: the ids of the jobs that reached Slurm,
    found by the run's comment and their names."""
    found = await client.jobs_commented(run.account, comment(run))
    steps = [
        submitted(s, found[s.slurm_name]) if s.job_id is None and s.slurm_name in found else s
        for s in cell.steps
    ]
    return cell.model_copy(update={"steps": steps})
