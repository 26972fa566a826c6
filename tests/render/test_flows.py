"""A workflow run's parent message: every job with its Slurm id, state and elapsed, a job that
will never run saying why (never "pending" forever), the totals, and in Slack a big run cut
to a message's limits with the jobs to look at first."""

from __future__ import annotations

import json
import time
from typing import Any

from bot.core import replies as r
from bot.core.flowruns import NEVER_SATISFIED, Dep, FlowRun
from bot.core.flowstatus import step_status, tally
from bot.core.models import JobState
from bot.render.blocks import render_blocks
from bot.render.buttons import FLOW_CANCEL, FLOW_REFRESH, read_run_value
from bot.render.flows import MAX_ROWS, run_blocks, run_text
from bot.render.text import render_text
from labkit import flow_run, flow_step
from slack_standin import MAX_BLOCKS_JSON, MAX_MESSAGE_BLOCKS, check_blocks

DONE = {"state": JobState.COMPLETED, "attempts": 1, "exit_code": "0:0"}


def _diamond(**fields: Any) -> FlowRun:
    """A -> B, C -> D mid-run: A done, B running, C failed, D never runs."""
    return flow_run(
        [
            flow_step("a", job_id="101", elapsed="00:00:05", **DONE),
            flow_step("b", "a", job_id="102", state=JobState.RUNNING, elapsed="00:01:02"),
            flow_step("c", "a", job_id="103", state=JobState.FAILED, exit_code="3:0"),
            flow_step("d", "b", "c", job_id="104", state=JobState.PENDING, reason=NEVER_SATISFIED),
        ],
        **fields,
    )


def _states(run: FlowRun) -> dict[str, str]:
    return {step.name: step_status(run, cell, step).text for cell, step in run.steps()}


def _code(blocks: list[dict[str, Any]]) -> list[str]:
    """The code blocks' text, fences off."""
    texts = [b["text"]["text"] for b in blocks if b["type"] == "section"]
    return [t.strip("`") for t in texts if t.startswith("```")]


def _texts(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


def test_the_console_shows_every_job_the_totals_and_how_to_follow_it() -> None:
    run = _diamond(id="f0123456789ab", created=time.time() - 75)
    assert run_text(run).splitlines() == [
        "workflow diamond on lab as alice: running",
        "JOB  ID   STATE                            ELAPSED",
        "a    101  COMPLETED                        00:00:05",
        "b    102  RUNNING                          00:01:02",
        "c    103  FAILED (exit 3:0)                -",
        "d    104  never runs: a dependency failed  -",
        "4 jobs: 1 COMPLETED, 1 RUNNING, 1 FAILED, 1 never runs · 1 min 15 s so far · "
        "run f0123456789ab from attached diamond.yaml",
        "  follow it: `flow status f0123456789ab` · stop it: `flow cancel f0123456789ab`",
    ]
    assert render_text(r.FlowRunReply(run=run)) == run_text(run)


def test_an_ended_run_says_its_outcome_and_total_time_and_offers_no_cancel() -> None:
    run = _diamond(active=False, outcome="failed", created=1000.0, ended=1000.0 + 3720)
    lines = run_text(run).splitlines()
    assert lines[0] == "workflow diamond on lab as alice: failed"
    assert "1 h 2 min in all" in lines[-1] and "follow it" not in run_text(run)
    _, blocks = render_blocks(r.FlowRunReply(run=run))
    assert ":x: Workflow *diamond* on *lab* as alice: *failed*" in _texts(blocks)
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [FLOW_REFRESH]


def test_a_job_that_will_never_run_says_why_never_just_pending() -> None:
    afternotok = [Dep(kind="afternotok", on="a")]
    run = flow_run(
        [
            flow_step("a", job_id="1", **DONE),
            flow_step("b", "a", job_id="2", state=JobState.FAILED, exit_code="1:0"),
            flow_step("c", "b", job_id="3", state=JobState.PENDING, reason=NEVER_SATISFIED),
            flow_step("d", "c", skipped=True),
            flow_step("e", "b", job_id="5", state=JobState.CANCELLED, reason=NEVER_SATISFIED),
            flow_step("cleanup", deps=afternotok, skipped=True),
            flow_step(
                "alarm", deps=afternotok, job_id="7", state=JobState.PENDING, reason=NEVER_SATISFIED
            ),
        ]
    )
    assert _states(run) == {
        "a": "COMPLETED",
        "b": "FAILED (exit 1:0)",
        "c": "never runs: a dependency failed",
        "d": "not run (dependency failed)",
        "e": "not run (dependency failed)",
        "cleanup": "not run (not needed: a completed)",
        "alarm": "never runs: a completed, not needed",
    }
    assert "PENDING" not in run_text(run)
    assert tally(run) == {"COMPLETED": 1, "FAILED": 1, "never runs": 2, "not run": 3}


def test_skipped_without_a_failed_parent_is_cancelled() -> None:
    run = flow_run(
        [
            flow_step("a", job_id="1", state=JobState.CANCELLED),
            flow_step("b", deps=[Dep(kind="afterany", on="a")], skipped=True),
        ],
        active=False,
        outcome="cancelled",
    )
    assert _states(run) == {"a": "CANCELLED", "b": "cancelled"}
    assert tally(run) == {"CANCELLED": 2}


def test_waiting_retrying_and_submitted_jobs_say_so() -> None:
    run = flow_run(
        [
            flow_step("a", job_id="9", job_ids=["8", "9"], attempts=2, state=JobState.RUNNING),
            flow_step(
                "b",
                job_id="10",
                state=JobState.FAILED,
                exit_code="1:0",
                attempts=1,
                retry=2,
                retry_at=time.time() + 30,
            ),
            flow_step("c", "a", job_id="11", state=JobState.PENDING, reason="Dependency"),
            flow_step("d", "c", job_id="12"),
            flow_step("e", "d"),
        ]
    )
    assert _states(run) == {
        "a": "RUNNING",
        "b": "FAILED (exit 1:0), retry 1 of 2",
        "c": "PENDING (Dependency)",
        "d": "submitted",
        "e": "not submitted yet",
    }
    assert "9 (attempt 2)" in run_text(run)


def test_a_sweep_shows_each_jobs_cell_and_its_args() -> None:
    cells = [[flow_step("train", job_id=str(100 + i), state=JobState.RUNNING)] for i in range(3)]
    run = flow_run(*cells, max_parallel=2)
    for i, cell in enumerate(run.cells):
        cell.args.update(lr=f"0.{i + 1}")
    lines = run_text(run).splitlines()
    assert lines[1].split() == ["CELL", "JOB", "ID", "STATE", "ELAPSED"]
    assert lines[2].split() == ["0", "lr=0.1", "train", "100", "RUNNING", "-"]
    assert "3 jobs in 3 cells (at most 2 at once): 3 RUNNING" in lines[-2]


def _big_sweep(cells: int) -> FlowRun:
    """`cells` cells of 3 jobs, the first ones done, one failed, the last ones waiting."""
    steps = []
    for i in range(cells):
        if i < cells - 10:
            state: dict[str, Any] = DONE
        elif i == cells - 10:
            state = {"state": JobState.FAILED, "exit_code": "1:0"}
        else:
            state = {}
        steps.append(
            [
                flow_step(f"prepare-{'x' * 60}", job_id=str(1000 + 3 * i), **state),
                flow_step("train", f"prepare-{'x' * 60}", job_id=str(1001 + 3 * i), **state),
                flow_step("eval", "train", job_id=str(1002 + 3 * i), **state),
            ]
        )
    run = flow_run(*steps, max_parallel=4)
    for cell in run.cells:
        cell.args.update(lr="0.001", batch="64", seed=str(cell.index), note="y" * 40)
    return run


def test_a_big_run_fits_one_slack_message_with_the_jobs_to_look_at_first() -> None:
    run = _big_sweep(100)
    text, blocks = render_blocks(r.FlowRunReply(run=run))
    assert check_blocks(blocks, limit=MAX_MESSAGE_BLOCKS) == []
    assert len(json.dumps(blocks)) < MAX_BLOCKS_JSON and len(text) <= 3000
    table = "\n".join(_code(blocks))
    rows = [ln for ln in table.splitlines()[1:] if not ln.startswith("…")]
    assert len(rows) <= MAX_ROWS
    # The failed cell and the waiting ones come first; done ones fill what is left.
    assert sum("FAILED (exit 1:0)" in ln for ln in rows) == 3
    assert sum("submitted" in ln for ln in rows) == 27
    assert sum("COMPLETED" in ln for ln in rows) == len(rows) - 30 > 0
    hidden = int(table.rsplit("… and ", 1)[1].split()[0])
    assert hidden == 300 - len(rows)
    assert "prepare-xxxxxxxxxxxxxxxxxxxxxxx…" in table  # long names cut, not widening rows
    assert (
        "300 jobs in 100 cells (at most 4 at once): 270 COMPLETED, 3 FAILED, 27 PENDING"
        in _texts(blocks)
    )


def test_a_small_run_lists_every_job_in_slack() -> None:
    blocks = run_blocks(_diamond())
    table = blocks[1]["text"]["text"]
    assert table.startswith("```JOB") and "more jobs" not in table
    assert [b["type"] for b in blocks] == ["section", "section", "context", "actions"]


def test_the_run_buttons_carry_the_run_id_and_cancel_asks_first() -> None:
    run = _diamond(id="f0123456789ab")
    [actions] = [b for b in run_blocks(run) if b["type"] == "actions"]
    refresh, cancel = actions["elements"]
    assert (refresh["action_id"], cancel["action_id"]) == (FLOW_REFRESH, FLOW_CANCEL)
    assert read_run_value(refresh["value"]) == read_run_value(cancel["value"]) == run.id
    assert cancel["style"] == "danger" and "*diamond*" in cancel["confirm"]["text"]["text"]


def test_hostile_names_are_escaped_in_slack() -> None:
    run = _diamond(name="<!channel>", source="<@U0EVIL>.yaml", account="a&b")
    text, blocks = render_blocks(r.FlowRunReply(run=run))
    dumped = _texts(blocks)
    assert "<!channel>" not in dumped and "<@U0EVIL>" not in dumped and "&lt;!channel&gt;" in text
    assert check_blocks(blocks, limit=MAX_MESSAGE_BLOCKS) == []
