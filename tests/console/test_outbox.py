"""The terminal outbox: a workflow run's message printed once when it starts, each post of its
thread as plain lines named after the run, and nothing to read back after a restart."""

from __future__ import annotations

from bot.console.outbox import TerminalOutbox
from bot.core.models import JobState
from bot.core.ports import ThreadPost
from labkit import flow_run, flow_step


async def test_a_run_prints_its_table_once_then_each_post_named_after_it() -> None:
    lines: list[str] = []
    outbox = TerminalOutbox(lines.append)
    run = flow_run([flow_step("a", job_id="7", state=JobState.RUNNING), flow_step("b", "a")])
    ts = await outbox.post_run(run)
    assert ts.startswith("terminal.")
    [table] = lines
    assert table.startswith("workflow diamond on lab as alice: running\nJOB")
    assert "\na    7   RUNNING" in table and "not submitted yet" in table

    await outbox.update_run(run)
    assert len(lines) == 1  # the change itself is printed by the post that goes with it

    sent: list[str] = []

    async def leaving() -> None:
        sent.append("now")

    final = "*b* FAILED (exit 1:0); last lines of output:\n```Traceback\nValueError```"
    await outbox.post_in_run(run, ThreadPost(final, seq=2, before_send=leaving))
    assert sent == ["now"]
    assert lines[1:] == [
        "diamond: b FAILED (exit 1:0); last lines of output:",
        "diamond: Traceback",
        "diamond: ValueError",
    ]
    assert not await outbox.posted_in_run(run, 2)


async def test_an_ended_run_prints_its_final_table_once() -> None:
    lines: list[str] = []
    outbox = TerminalOutbox(lines.append)
    run = flow_run([flow_step("a", job_id="7", state=JobState.COMPLETED)])
    ended = run.model_copy(update={"active": False, "outcome": "completed"})
    await outbox.update_run(ended)
    await outbox.update_run(ended)
    [table] = lines
    assert "completed" in table.splitlines()[0] and "COMPLETED" in table
