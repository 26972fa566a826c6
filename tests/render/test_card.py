"""A job card's state, fields and note: the one list both the text and Block Kit cards show."""

from __future__ import annotations

from bot.core import replies as r
from bot.core.models import JobInfo, JobState
from bot.render.blocks import render_blocks
from bot.render.card import job_fields, job_note, state_text
from bot.render.text import render_text


def _running() -> JobInfo:
    shape = {"nodes": 2, "nodelist": "node[1-2]", "gpus": 3, "elapsed": "0:08"}
    known = {"user": "alice", "partition": "gpu", "time_limit": "1:00:00", **shape}
    return JobInfo.model_validate({"job_id": "11", "state": "RUNNING", **known})


def test_state_text() -> None:
    assert state_text(JobInfo(job_id="1", state=JobState.UNKNOWN)) == "UNKNOWN"
    assert state_text(JobInfo(job_id="1", state=JobState.NOT_FOUND)) == "NOT_FOUND"
    assert state_text(_running()) == "RUNNING"


def test_fields_in_card_order_and_only_what_is_known() -> None:
    assert job_fields(_running()) == [
        ("User", "alice"),
        ("Partition", "gpu"),
        ("Nodes", "2 (node[1-2])"),
        ("GPUs", "3"),
        ("Elapsed", "0:08 of 1:00:00"),
    ]
    done = JobInfo(
        job_id="4", state=JobState.FAILED, nodes=1, elapsed="0:01", exit_code="3:0", tasks={"X": 1}
    )
    assert job_fields(done) == [
        ("Nodes", "1"),
        ("Elapsed", "0:01"),
        ("Exit code", "3:0"),
        ("Tasks", "X 1"),
    ]
    assert job_fields(JobInfo(job_id="1", state=JobState.PENDING, nodes=0, gpus=0)) == []


def test_note_says_why_only_when_it_matters() -> None:
    pending = JobInfo(job_id="1", state=JobState.PENDING, reason="Resources")
    assert job_note(pending) == "waiting: Resources"
    assert job_note(JobInfo(job_id="1", state=JobState.UNKNOWN)) == "could not look: "
    assert job_note(JobInfo(job_id="1", state=JobState.RUNNING, reason="None")) is None


def test_text_and_block_kit_cards_show_the_same_fields() -> None:
    reply = r.StatusReply(cluster="lab", job=_running())
    _, blocks = render_blocks(reply)
    shown = [f["text"] for b in blocks for f in b.get("fields", [])]
    assert shown == [f"*{label}*\n{value}" for label, value in job_fields(reply.job)]
    assert render_text(reply).splitlines()[1] == (
        "  user alice · partition gpu · 2 nodes (node[1-2]) · 3 GPUs · elapsed 0:08 of 1:00:00"
    )


def test_an_empty_exit_code_is_shown_by_neither_card() -> None:
    # The text card used to print a bare "exit code " line that the Block Kit card left out.
    job = JobInfo(job_id="4", state=JobState.FAILED, exit_code="")
    assert render_text(r.StatusReply(cluster="lab", job=job)) == "job 4 on lab: FAILED"
    assert job_fields(job) == []
