"""Workflows on the real lab: the whole DAG goes to Slurm at once with its own dependencies,
and the run's thread (recorded here) follows it. Slurm's accounting proves the order."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import pytest

from bot.core import replies as r
from bot.core.flowruns import FlowRun
from bot.runtime import Runtime
from bot.store.state import open_state
from labkit import ALICE, BOB, Lab, Recorder, eventually

pytestmark = pytest.mark.lab
DATA = Path(__file__).resolve().parents[2] / "data" / "flows"


@pytest.fixture
async def bot(lab: Lab, tmp_path: Path) -> AsyncIterator[tuple[Runtime, Recorder]]:
    out = Recorder()
    rt = await Runtime.open(lab.config(), open_state(tmp_path), out)
    yield rt, out
    await rt.close()


async def _run(rt: Runtime, yaml_text: str, flags: str = "", user: str = ALICE) -> r.Reply:
    return await rt.dispatch.handle(
        user, f"flow run {flags}\n```yaml\n{yaml_text}```", channel="C1"
    )


async def _started(rt: Runtime, reply: r.Reply) -> FlowRun:
    assert isinstance(reply, r.Done) and "started run" in reply.text, reply
    run_id = reply.text.split()[2]
    run = await rt.runs.get(run_id)
    assert run is not None
    return run


async def _finish(rt: Runtime, run: FlowRun, timeout: float = 90) -> FlowRun:
    async def tick() -> FlowRun | None:
        await rt.flow_monitor.tick("lab")
        return await rt.runs.get(run.id)

    done: FlowRun = await eventually(tick, lambda x: x is not None and not x.active, timeout)
    return done


async def _sacct(rt: Runtime, ids: list[str], fields: str) -> dict[str, list[str]]:
    _, client = rt.clusters.client(ALICE, "lab")
    argv = ["sacct", "-n", "-X", "-P", "-j", ",".join(ids), "-o", f"JobID,{fields}"]

    async def ask() -> dict[str, list[str]]:
        out = (await client.transport.run(argv)).stdout
        rows = [line.split("|") for line in out.splitlines() if line]
        return {row[0]: row[1:] for row in rows}

    found: dict[str, list[str]] = await eventually(
        ask,
        lambda rows: (
            len(rows) == len(ids)
            and all(all(v and v != "Unknown" for v in row) for row in rows.values())
        ),
        30,
    )
    return found


def _ids(run: FlowRun) -> dict[str, str]:
    return {s.name: s.job_id or "" for _, s in run.steps()}


async def test_a_diamond_runs_in_the_order_of_its_edges(bot: tuple[Runtime, Recorder]) -> None:
    rt, out = bot
    run = await _started(rt, await _run(rt, (DATA / "diamond.yaml").read_text()))
    run = await _finish(rt, run)
    assert run.outcome == "completed", out.run_texts(run.id)
    ids = _ids(run)
    times = await _sacct(rt, list(ids.values()), "Start,End")
    start = {n: datetime.fromisoformat(times[j][0]) for n, j in ids.items()}
    end = {n: datetime.fromisoformat(times[j][1]) for n, j in ids.items()}
    for parent, child in [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]:
        assert start[child] >= end[parent], (parent, child, times)
    texts = out.run_texts(run.id)
    for name in "abcd":  # each job's end exactly once
        assert sum(f"`{name}` (job" in t and "COMPLETED" in t for t in texts) == 1, texts
    assert "run `diamond` completed*: all 4 jobs COMPLETED" in texts[-1]


async def test_afternotok_runs_when_its_parent_fails_and_afterok_does_not(
    bot: tuple[Runtime, Recorder],
) -> None:
    rt, out = bot
    text = """name: branch
jobs:
  - name: train
    command: "exit 3"
    partition: cpu
  - name: evaluate
    command: "echo evaluate"
    depends_on: [train]
    partition: cpu
  - name: alert
    command: "echo alert"
    depends_on: ["afternotok:train"]
    partition: cpu
"""
    run = await _finish(rt, await _started(rt, await _run(rt, text)))
    states = {s.name: (s.state, s.skipped) for _, s in run.steps()}
    assert states["alert"][0] is not None and states["alert"][0].value == "COMPLETED"
    assert states["evaluate"][1] is True  # not run, and cancelled in Slurm
    assert states["train"][0] is not None and states["train"][0].value == "FAILED"
    acct = await _sacct(rt, [_ids(run)["evaluate"]], "State")
    assert acct[_ids(run)["evaluate"]][0].startswith("CANCELLED")
    texts = out.run_texts(run.id)
    assert any("`train` (job" in t and "exit code 3:0" in t for t in texts)
    assert "did not run: `evaluate`" in texts[-1]


async def test_a_retried_job_completes_and_its_dependant_follows_the_new_id(
    bot: tuple[Runtime, Recorder], lab: Lab
) -> None:
    rt, out = bot
    marker = f"retry-{secrets.token_hex(4)}"
    text = f"""name: flaky
jobs:
  - name: fetch
    command: "if [ -e $HOME/{marker} ]; then echo second try; else touch $HOME/{marker}; exit 1; fi"
    partition: cpu
    retry: 1
  - name: use
    command: "echo used"
    depends_on: [fetch]
    partition: cpu
"""
    try:
        run = await _finish(rt, await _started(rt, await _run(rt, text)))
    finally:
        (lab.home("alice") / marker).unlink(missing_ok=True)
    assert run.outcome == "completed", out.run_texts(run.id)
    fetch = next(s for _, s in run.steps() if s.name == "fetch")
    assert len(fetch.job_ids) == 2 and fetch.attempts == 2
    use = next(s for _, s in run.steps() if s.name == "use")
    assert len(use.job_ids) == 1  # the same job, pointed at the retry
    texts = out.run_texts(run.id)
    assert any("retry 1 of 1 submitted as job" in t and "`use` now wait" in t for t in texts)


async def test_a_sweep_of_three_cells_keeps_two_in_flight(bot: tuple[Runtime, Recorder]) -> None:
    rt, out = bot
    text = """name: sweep
args: {seed: 1}
sweep:
  matrix: {seed: [1, 2, 3]}
  max_parallel: 2
jobs:
  - name: train
    command: ["bash", "-c", "sleep 2; echo seed {{ seed }}"]
    partition: cpu
"""
    run = await _finish(rt, await _started(rt, await _run(rt, text)), timeout=120)
    assert run.outcome == "completed", out.run_texts(run.id)
    ids = [s.job_id or "" for _, s in run.steps()]
    times = await _sacct(rt, ids, "Submit,End")
    spans = [
        (datetime.fromisoformat(times[j][0]), datetime.fromisoformat(times[j][1])) for j in ids
    ]
    for t, _ in spans:  # at every submission, at most two cells are in Slurm
        assert sum(1 for s, e in spans if s <= t < e) <= 2, spans


async def test_flow_cancel_leaves_nothing_of_the_run_queued(bot: tuple[Runtime, Recorder]) -> None:
    rt, _ = bot
    text = """name: long
jobs:
  - name: first
    command: "sleep 60"
    partition: cpu
  - name: second
    command: "echo never"
    depends_on: [first]
    partition: cpu
"""
    run = await _started(rt, await _run(rt, text))
    other = await rt.dispatch.handle(BOB, f"flow cancel {run.id}", channel="C1")
    assert isinstance(other, r.ErrorReply) and "someone else's" in other.message
    done = await rt.dispatch.handle(ALICE, f"flow cancel {run.id}", channel="C1")
    assert isinstance(done, r.Done) and "2 job(s) stopped" in done.text
    _, client = rt.clusters.client(ALICE, "lab")
    ids = ",".join(_ids(run).values())
    queued = await client.transport.run(["squeue", "-h", "-j", ids, "-t", "PD,R", "-o", "%i"])
    assert queued.stdout.strip() == ""
    stored = await rt.runs.get(run.id)
    assert stored is not None and stored.outcome == "cancelled"


async def test_a_bad_workflow_gets_one_line_and_submits_nothing(
    bot: tuple[Runtime, Recorder],
) -> None:
    rt, out = bot
    bad = {
        "name: x\njobs:\n  - name: a\n    command: true\n    gpus: 2\n": "unknown key `gpus`",
        "name: x\njobs:\n  - name: a\n    command: x\n    depends_on: [b]\n": "`b`",
        "name: x\njobs:\n  - name: a\n    command: x\n    memory: lots\n": "invalid memory `lots`",
        "name: x\njobs:\n  - name: a\n    command: x\n    partition: gpux\n": (
            "unknown partition `gpux`"
        ),
    }
    for text, why in bad.items():
        reply = await _run(rt, text)
        assert isinstance(reply, r.ErrorReply) and why in reply.message, (text, reply)
        assert "\n" not in reply.message
    assert not out.runs  # nothing posted, nothing submitted


async def test_shell_text_in_args_exports_names_and_env_runs_nothing(
    bot: tuple[Runtime, Recorder], lab: Lab
) -> None:
    rt, out = bot
    mark = Path(f"/tmp/pwned-{secrets.token_hex(4)}")
    evil = f"$(touch {mark}); `touch {mark}`"
    text = f"""name: quoted
args:
  note: "{evil}"
jobs:
  - name: make
    command: "echo arg={{{{ note }}}} dep"
    partition: cpu
    exports: {{path: "{evil}"}}
    env: {{NOTE: "{evil}"}}
  - name: use
    command: ["echo", "export={{{{ deps.make.path }}}}"]
    depends_on: [make]
    partition: cpu
"""
    run = await _finish(rt, await _started(rt, await _run(rt, text, flags=f"--arg 'note={evil}'")))
    assert run.outcome == "completed", out.run_texts(run.id)
    named = await _run(rt, f"name: 'x;touch {mark}'\njobs:\n  - name: a\n    command: x\n")
    assert isinstance(named, r.ErrorReply)
    for job_id in _ids(run).values():

        async def tail_of(j: str = job_id) -> r.Reply:
            return await rt.dispatch.handle(ALICE, f"tail {j}")

        tail = await eventually(
            tail_of, lambda t: isinstance(t, r.TailReply) and "=" in t.text, timeout=20
        )
        assert isinstance(tail, r.TailReply) and f"$(touch {mark})" in tail.text, tail
    assert not mark.exists()


async def test_the_seeds_ml_pipeline_validates_and_runs(bot: tuple[Runtime, Recorder]) -> None:
    rt, out = bot
    plan = await rt.dispatch.handle(
        ALICE, f"flow validate\n```yaml\n{(DATA / 'ml_pipeline.yaml').read_text()}```", channel="C1"
    )
    assert isinstance(plan, r.FlowPlanReply), plan
    assert [s.name for s in plan.steps] == ["preprocess", "train", "evaluate"]
    run = await _finish(
        rt, await _started(rt, await _run(rt, (DATA / "ml_pipeline_lab.yaml").read_text()))
    )
    assert run.outcome == "completed", out.run_texts(run.id)
    assert [s.slurm_name for _, s in run.steps()] == [
        "ml_pipeline.preprocess", "ml_pipeline.train", "ml_pipeline.evaluate",
    ]  # fmt: skip
