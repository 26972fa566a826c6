"""The words of a job thread: state changes, the time-limit warning and the final summary."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.jobtext import (
    final_summary,
    human_bytes,
    human_seconds,
    time_warning_text,
    transition_text,
)
from bot.core.models import HistoryRecord, JobInfo, JobState
from bot.core.slurm.client import Output


def _usage(**kw: Any) -> HistoryRecord:
    fields: dict[str, Any] = {
        "job_id": "7",
        "name": "train",
        "state": JobState.COMPLETED,
        "exit_code": "0:0",
        "partition": "gpu",
        "elapsed": "00:10:00",
        "time_limit": "01:00:00",
        "start_time": None,
        "end_time": None,
        "total_cpu": "00:20:00",
        "max_rss": "1.5G",
        "alloc_tres": "cpu=4,mem=8G,gres/gpu=1",
        "req_mem": "8G",
        "gpus": 1,
    }
    return HistoryRecord(**{**fields, **kw})


@pytest.mark.parametrize(
    ("secs", "words"),
    [(7, "7 s"), (60, "1 min"), (125, "2 min 5 s"), (3900, "1 h 5 min"), (7200.9, "2 h 0 min")],
)
def test_human_seconds(secs: float, words: str) -> None:
    assert human_seconds(secs) == words


def test_human_bytes() -> None:
    assert [human_bytes(n) for n in (512, 65536, 3 * 1024**2)] == ["512 bytes", "64 KiB", "3 MiB"]


def test_pending_says_what_it_waits_for_and_running_where_and_after_how_long() -> None:
    pending = JobInfo(job_id="7", state=JobState.PENDING, reason="Resources")
    assert transition_text(pending) == "PENDING: waiting for Resources"
    assert transition_text(pending.model_copy(update={"reason": ""})) == "PENDING"
    running = JobInfo(
        job_id="7",
        state=JobState.RUNNING,
        nodelist="gpu01",
        submit_time="2026-11-27T08:00:00",
        start_time="2026-11-27T08:02:30",
    )
    assert transition_text(running) == "RUNNING on gpu01 after 2 min 30 s in queue"
    unknown_times = running.model_copy(update={"start_time": "Unknown", "nodelist": ""})
    assert transition_text(unknown_times) == "RUNNING"


def test_an_arrays_change_shows_its_tally() -> None:
    info = JobInfo(job_id="9", state=JobState.RUNNING, tasks={"RUNNING": 1, "PENDING": 2})
    assert transition_text(info) == "RUNNING (array tasks: PENDING 2, RUNNING 1)"


def test_time_warning() -> None:
    info = JobInfo(job_id="7", state=JobState.RUNNING, time_limit="01:00:00")
    assert time_warning_text(info, 540) == (
        "about 9 min left before the time limit (01:00:00); Slurm stops the job then"
    )


def test_summary_of_a_job_that_used_what_it_asked_for() -> None:
    info = JobInfo(job_id="7", state=JobState.COMPLETED)
    assert final_summary(info, _usage(), None).splitlines() == [
        "*COMPLETED*",
        "elapsed 00:10:00 · CPU efficiency 50% · max memory 1.5G of 8G requested · 1 GPU",
    ]


def test_summary_hints_at_idle_cpus() -> None:
    summary = final_summary(
        JobInfo(job_id="7", state=JobState.COMPLETED), _usage(total_cpu="00:01:00"), None
    )
    assert "CPU efficiency 2%" in summary
    assert "hint: it used 2% of the CPUs it asked for: ask for fewer (-c)" in summary


def test_a_short_job_gets_no_cpu_efficiency() -> None:
    usage = _usage(elapsed="00:00:30", total_cpu="00:00:01")
    assert "efficiency" not in final_summary(
        JobInfo(job_id="7", state=JobState.COMPLETED), usage, None
    )


def test_summary_hints_at_memory_and_time_limits() -> None:
    oom = JobInfo(job_id="7", state=JobState.OUT_OF_MEMORY, exit_code="0:125")
    text = final_summary(oom, _usage(state=JobState.OUT_OF_MEMORY), None)
    assert text.startswith("*OUT_OF_MEMORY*, exit code 0:125")
    assert "hint: it ran out of memory (8G requested): ask for more with --mem" in text
    late = JobInfo(job_id="7", state=JobState.TIMEOUT, time_limit="00:05:00")
    assert "hint: it hit its time limit (00:05:00): ask for more with --time" in final_summary(
        late, None, None
    )


def test_summary_ends_with_the_output_kept_inside_its_fence() -> None:
    info = JobInfo(job_id="7", state=JobState.FAILED, exit_code="3:0")
    text = final_summary(info, None, Output("/o", "step 1\n```oops```\n"))
    assert text.endswith("last lines of output:\n```step 1\n'''oops'''```")
    assert "last lines" not in final_summary(info, None, Output("/o", "\n\n"))
