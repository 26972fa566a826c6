"""Submitting a run: parents before children, Slurm's own --dependency on their real ids,
one level at a time, nothing more after a refusal, and a half-submitted cell found again."""

from __future__ import annotations

from flowsim import SimSlurm

from bot.core.flowruns import Dep, FlowCell, FlowRun, FlowStep
from bot.core.flows.submit import (
    comment,
    dependency,
    options,
    recover,
    satisfied,
    submit_cell,
)
from bot.core.models import JobState
from bot.core.slurm.client import SlurmClient


def step(name: str, *deps: str, kind: str = "afterok") -> FlowStep:
    return FlowStep(
        name=name,
        slurm_name=f"diamond.{name}",
        deps=[Dep.model_validate({"kind": kind, "on": d}) for d in deps],
        script=f"#!/bin/bash\necho {name}\n",
    )


def diamond() -> FlowRun:
    cell = FlowCell(steps=[step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c")])
    return FlowRun(
        name="diamond", cluster="lab", user_id="U1", account="alice", channel="C1",
        source="block", cells=[cell],
    )  # fmt: skip


async def test_a_diamond_goes_out_parents_first_with_their_real_ids() -> None:
    sim, run = SimSlurm(), diamond()
    cell, failure = await submit_cell(SlurmClient(sim.transport(), "lab"), run, run.cells[0])
    assert failure is None
    ids = {s.name: s.job_id for s in cell.steps}
    assert ids["a"] == "100" and {ids["b"], ids["c"]} == {"101", "102"} and ids["d"] == "103"
    assert sim.last("diamond.a").dependency == ""
    assert sim.last("diamond.b").dependency == "afterok:100"
    assert sim.last("diamond.d").dependency == f"afterok:{ids['b']}:{ids['c']}"
    assert all(j.comment == comment(run) for j in sim.jobs.values())
    assert all(s.attempts == 1 and s.job_ids == [s.job_id] for s in cell.steps)


def test_dependency_kinds_are_grouped_and_met_parents_left_out() -> None:
    steps = {
        "a": step("a").model_copy(update={"job_id": "1"}),
        "b": step("b").model_copy(update={"job_id": "2", "state": JobState.COMPLETED}),
        "c": step("c").model_copy(update={"job_id": "3"}),
    }
    child = FlowStep(
        name="d",
        slurm_name="x.d",
        script="",
        deps=[Dep(on="a"), Dep(on="b"), Dep(kind="afternotok", on="c")],
    )
    # b completed already: Slurm may have forgotten it, and it met afterok for good
    assert dependency(child, steps) == "afterok:1,afternotok:3"
    assert satisfied("afternotok", JobState.FAILED) and not satisfied("afterok", JobState.FAILED)
    assert satisfied("after", JobState.RUNNING) and not satisfied("after", JobState.PENDING)
    assert satisfied("afterany", JobState.CANCELLED)


def test_options_name_the_run_and_the_step() -> None:
    run = diamond()
    steps = {s.name: s.model_copy(update={"job_id": "7"}) for s in run.cells[0].steps}
    assert options(run, steps["b"], steps) == [
        "--job-name=diamond.b",
        f"--comment=srunx-flow:{run.id}",
        "--dependency=afterok:7",
    ]


async def test_a_refusal_stops_the_submission_and_says_which_job() -> None:
    sim, run = SimSlurm(refuse={"diamond.b": "invalid partition specified: gpux"}), diamond()
    cell, failure = await submit_cell(SlurmClient(sim.transport(), "lab"), run, run.cells[0])
    assert failure is not None and failure[0] == "b" and "invalid partition" in failure[1]
    assert [s.name for s in cell.steps if s.job_id] == ["a", "c"]  # d never went out
    assert "diamond.d" not in {j.name for j in sim.jobs.values()}


async def test_a_half_submitted_cell_is_found_by_its_comment() -> None:
    sim, run = SimSlurm(), diamond()
    client = SlurmClient(sim.transport(), "lab")
    done, _ = await submit_cell(client, run, run.cells[0])
    half = run.cells[0].model_copy(
        update={"steps": [done.steps[0], done.steps[1], *run.cells[0].steps[2:]]}
    )
    sim.jobs.pop(done.steps[3].job_id or "")  # d had not reached Slurm when the bot died
    found = await recover(client, run, half)
    assert [s.job_id for s in found.steps] == [s.job_id for s in done.steps[:3]] + [None]
