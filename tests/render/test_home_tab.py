"""The App Home view: what it shows, within Block Kit's 100 blocks, with user text escaped."""

from __future__ import annotations

import json
from typing import Any

from bot.core import replies as r
from bot.core.models import JobInfo, JobState, PartitionResources, ResourceSnapshot
from bot.core.records import Watch
from bot.core.schedules import ReportSchedule
from bot.render.buttons import job_value, read_job_value
from bot.render.home_tab import MAX_VIEW_BLOCKS, error_view, home_notice, home_view
from slack_standin import check_blocks

SNAP = ResourceSnapshot(
    cluster="lab",
    partitions=[
        PartitionResources(
            partition="gpu", gpus_total=8, gpus_used=3, gpus_free=5, gpus_unavailable=0
        ),
        PartitionResources(
            partition="cpu", gpus_total=0, gpus_used=0, gpus_free=0, gpus_unavailable=0
        ),
    ],
)


def _home(**kw: Any) -> r.HomeReply:
    return r.HomeReply(cluster="lab", account="alice", snapshot=SNAP, **kw)


def _blocks(view: dict[str, Any]) -> list[dict[str, Any]]:
    assert view["type"] == "home"
    blocks: list[dict[str, Any]] = view["blocks"]
    assert check_blocks(blocks, limit=MAX_VIEW_BLOCKS) == []
    return blocks


def _text(view: dict[str, Any]) -> str:
    return json.dumps(view, ensure_ascii=False)


def _buttons(blocks: list[dict[str, Any]], action_id: str) -> list[dict[str, Any]]:
    return [b["accessory"] for b in blocks if b.get("accessory", {}).get("action_id") == action_id]


def test_full_home_lists_jobs_gpus_watches_reports_and_problems() -> None:
    reply = _home(
        jobs=[
            JobInfo(
                job_id="12", state=JobState.RUNNING, name="train", partition="gpu", elapsed="1:02"
            ),
            JobInfo(
                job_id="13",
                state=JobState.PENDING,
                name="eval",
                partition="gpu",
                reason="Resources",
            ),
            JobInfo(job_id="14", state=JobState.COMPLETING, name="done", partition="cpu"),
        ],
        watches=[
            Watch(
                id="w1a2b",
                kind="job",
                user_id="U1",
                account="alice",
                cluster="lab",
                channel="C9",
                job_id="12",
            ),
            Watch(
                id="w3c4d",
                kind="gpus",
                user_id="U1",
                account="alice",
                cluster="lab",
                channel="D1",
                gpus=4,
                partition="gpu",
            ),
        ],
        reports=[
            ReportSchedule(
                id="r5e6f", cluster="lab", channel="C7", user_id="U1", every="1h", interval=3600
            ),
        ],
        problems=["accounting: sacct timed out"],
    )
    view = home_view(reply)
    blocks = _blocks(view)
    text = _text(view)
    # A header naming account and cluster, with Refresh.
    assert "*alice*" in blocks[0]["text"]["text"] and "*lab*" in blocks[0]["text"]["text"]
    assert blocks[0]["accessory"]["action_id"] == "home_refresh"
    assert "*12* `train` · RUNNING · gpu · 1:02" in text
    assert "*13* `eval` · PENDING · gpu · _Resources_" in text
    assert "gpu: 5/8 GPUs free" in text and "cpu: 0/0 GPUs free" in text
    assert "*Free GPUs on lab*: 5 free" in text
    assert "`w1a2b` job 12 on lab, in <#C9>" in text
    assert "`w3c4d` 4 GPUs on gpu on lab, in your DM" in text
    assert "`r5e6f` every 1h on lab, in <#C7>" in text
    assert any(
        b["type"] == "context" and "sacct timed out" in b["elements"][0]["text"] for b in blocks
    )
    # Queued and running jobs can be cancelled from the Home; one already ending cannot.
    values = [b["value"] for b in _buttons(blocks, "home_cancel")]
    assert values == [job_value("lab", "12"), job_value("lab", "13")]


def test_cancel_button_carries_cluster_and_job_and_asks_first() -> None:
    reply = _home(
        jobs=[
            JobInfo(job_id="7", state=JobState.RUNNING),
            JobInfo(job_id="8", state=JobState.CANCELLED),
            JobInfo(job_id="9", state=JobState.UNKNOWN, reason="ssh down"),
        ]
    )
    blocks = _blocks(home_view(reply))
    [button] = _buttons(blocks, "home_cancel")
    assert read_job_value(button["value"], ["lab"]) == ("lab", "7")
    assert button["style"] == "danger"
    assert button["confirm"]["text"]["text"] == "Job 7 on lab will be stopped by Slurm."
    assert button["confirm"]["confirm"]["text"] == "Cancel job"
    assert "_ssh down_" in _text(home_view(reply))


def test_300_jobs_stay_within_100_blocks_and_say_how_many_more() -> None:
    jobs = [
        JobInfo(job_id=str(1000 + i), state=JobState.PENDING, name=f"j{i}", reason="Priority")
        for i in range(300)
    ]
    reply = _home(
        jobs=jobs,
        watches=[Watch(kind="mine", user_id="U1", account="alice", cluster="lab", channel="C1")],
        problems=["GPUs: x"],
    )
    view = home_view(reply, notice="Cancelled job 12 on lab: CANCELLED")
    blocks = _blocks(view)
    assert len(blocks) == MAX_VIEW_BLOCKS
    shown = len(_buttons(blocks, "home_cancel"))
    more = [b for b in blocks if b["type"] == "context" and "more jobs" in _text(b)]
    assert more and more[0]["elements"][0]["text"] == (
        f"… and {300 - shown} more jobs (`/srunx list`)"
    )
    # The rest of the Home is still there after the jobs.
    text = _text(view)
    assert "*Your jobs* (300)" in text and "*Watches* (1)" in text and "Scheduled reports" in text


def test_job_count_that_just_fits_has_no_more_line() -> None:
    for n in range(85, 100):
        jobs = [JobInfo(job_id=str(i), state=JobState.RUNNING) for i in range(n)]
        blocks = _blocks(home_view(_home(jobs=jobs)))
        shown = len(_buttons(blocks, "home_cancel"))
        assert len(blocks) <= MAX_VIEW_BLOCKS
        assert ("more jobs" in _text({"blocks": blocks})) == (shown < n)


def test_user_and_slurm_text_is_escaped() -> None:
    reply = _home(
        jobs=[JobInfo(job_id="5", state=JobState.PENDING, name="<!channel> & co", reason="<@U1>")],
        watches=[
            Watch(kind="mine", user_id="U1", account="alice", cluster="lab", channel="<!here>")
        ],
        problems=["jobs: <!everyone>"],
    )
    text = _text(home_view(reply, notice="<!channel> cancelled"))
    assert "<!" not in text and "<@U1>" not in text
    assert "`&lt;!channel&gt; &amp; co`" in text and "&lt;!everyone&gt;" in text


def test_empty_home_says_what_to_do() -> None:
    view = home_view(
        r.HomeReply(cluster="lab", account="alice", jobs=[], problems=["GPUs: ssh down"])
    )
    blocks = _blocks(view)
    text = _text(view)
    assert "No queued or running jobs. `/srunx submit -p PARTITION -- COMMAND`" in text
    assert "No watches. `/srunx watch mine`" in text
    assert "No scheduled reports. `/srunx report every 1d`" in text
    assert "*Free GPUs on lab*: unknown" in text
    assert not _buttons(blocks, "home_cancel")


def test_many_partitions_fit_one_section() -> None:
    parts = [
        PartitionResources(
            partition=f"p{i:03}", gpus_total=8, gpus_used=0, gpus_free=8, gpus_unavailable=0
        )
        for i in range(200)
    ]
    view = home_view(
        _home().model_copy(update={"snapshot": ResourceSnapshot(cluster="lab", partitions=parts)})
    )
    assert "more partitions" in _text(view)
    _blocks(view)


def test_error_view_shows_the_access_message() -> None:
    view = error_view("you are not set up to use srunx-bot yet; ask <@U0ADMIN>")
    blocks = _blocks(view)
    assert "not set up" in _text(view) and "<@U0ADMIN>" not in _text(view)
    assert blocks[0]["accessory"]["action_id"] == "home_refresh"


def test_error_view_keeps_the_admin_mention_the_bot_means_to_make() -> None:
    view = error_view("not set up; ask <@U0ADMIN> (you are <@U0EVIL>)", ["U0ADMIN"])
    text = _text(_blocks(view)[1])
    assert "ask <@U0ADMIN> (" in text and "&lt;@U0EVIL&gt;" in text and "<@U0EVIL>" not in text


def test_jobs_that_could_not_be_read_are_not_shown_as_none() -> None:
    view = home_view(r.HomeReply(cluster="lab", account="alice", problems=["jobs: ssh down"]))
    text = _text(view)
    assert "*Your jobs*: unknown" in text and "No queued or running jobs" not in text


def test_home_notice_says_what_a_button_did() -> None:
    job = JobInfo(job_id="5", state=JobState.CANCELLED)
    assert home_notice(r.Cancelled(cluster="lab", job=job)).startswith("Cancelled job 5 on lab")
    assert home_notice(r.ErrorReply(message="no job 5 on lab")) == "no job 5 on lab"
