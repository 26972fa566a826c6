"""Block Kit rendering stays inside Slack's limits and never lets user text ping or break."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from bot.core import replies as r
from bot.core.models import (
    Job,
    JobInfo,
    JobResource,
    JobState,
    NodeResources,
    PartitionResources,
    ResourceSnapshot,
)
from bot.render.blocks import render_blocks
from bot.render.buttons import read_job_value
from bot.render.kit import MAX_BLOCKS, SECTION_CHARS
from bot.runtime import Runtime
from labkit import ADMIN, STRANGER, Lab, flow_run, flow_step


def _texts(blocks: list[dict[str, object]]) -> list[str]:
    out = []
    for b in blocks:
        text = b.get("text")
        if isinstance(text, dict):
            out.append(str(text["text"]))
        for f in b.get("fields", []) or []:  # type: ignore[attr-defined]
            out.append(str(f["text"]))
        for e in b.get("elements", []) or []:  # type: ignore[attr-defined]
            out.append(str(e.get("text", "")))
    return out


def _check_limits(text: str, blocks: list[dict[str, object]]) -> None:
    assert len(blocks) <= MAX_BLOCKS
    assert len(text) <= 3000
    for t in _texts(blocks):
        assert len(t) <= SECTION_CHARS
    for b in blocks:
        assert len(b.get("fields", []) or []) <= 10  # type: ignore[arg-type]
    assert len(json.dumps(blocks)) < 13_000
    for t in [text, *_texts(blocks)]:
        assert "<!channel>" not in t and "<!here>" not in t and "<@" not in t


def _job(**kw: object) -> JobInfo:
    base: dict[str, object] = {
        "job_id": "4121",
        "state": JobState.RUNNING,
        "name": "train",
        "user": "alice",
        "partition": "gpu",
        "nodes": 1,
        "nodelist": "node1",
        "gpus": 2,
        "elapsed": "0:05",
    }
    base.update(kw)
    return JobInfo.model_validate(base)


def test_status_card_has_state_emoji_and_fields() -> None:
    text, blocks = render_blocks(r.StatusReply(cluster="lab", job=_job()))
    assert ":arrow_forward:" in _texts(blocks)[0] and "*RUNNING*" in _texts(blocks)[0]
    assert any(t == "*GPUs*\n2" for t in _texts(blocks))
    assert "job 4121" in text
    _check_limits(text, blocks)


def test_unknown_state_says_why() -> None:
    job = _job(state=JobState.UNKNOWN, last_known=JobState.RUNNING, reason="slurmctld: down")
    text, blocks = render_blocks(r.StatusReply(cluster="lab", job=job))
    assert "UNKNOWN (last known RUNNING)" in _texts(blocks)[0]
    assert any("could not look: slurmctld: down" in t for t in _texts(blocks))
    _check_limits(text, blocks)


def test_hostile_job_name_and_output_are_escaped() -> None:
    evil = "<!channel> <@U123> & ``` *bold*"
    job = _job(name=evil)
    for reply in (
        r.StatusReply(cluster="lab", job=job),
        r.TailReply(cluster="lab", job_id="1", path="/x", text=evil + "\n"),
        r.JobList(cluster="lab", scope="alice", jobs=[job]),
        r.ErrorReply(message=evil),
    ):
        text, blocks = render_blocks(reply)
        _check_limits(text, blocks)
        assert "&lt;!channel&gt;" in text


def test_long_list_is_truncated_with_and_n_more() -> None:
    jobs = [_job(job_id=str(i), name=f"job-{i:04d}-" + "x" * 40) for i in range(500)]
    text, blocks = render_blocks(r.JobList(cluster="lab", scope="all users", jobs=jobs))
    _check_limits(text, blocks)
    assert "more jobs" in _texts(blocks)[-1]


def test_tail_keeps_the_last_lines() -> None:
    out = "".join(f"line {i}\n" for i in range(2000))
    text, blocks = render_blocks(r.TailReply(cluster="lab", job_id="1", path="/o", text=out))
    _check_limits(text, blocks)
    body = _texts(blocks)[-1]
    assert "line 1999" in body and "line 0\n" not in body and "and the first" in body


def test_many_partitions_stay_under_50_blocks() -> None:
    parts = [
        PartitionResources(
            partition=f"p{i}",
            gpus_total=8,
            gpus_used=1,
            gpus_free=7,
            gpus_unavailable=0,
            nodes=[
                NodeResources(
                    node=f"n{i}",
                    partition=f"p{i}",
                    state="mixed",
                    gpus_total=8,
                    gpus_used=1,
                    available=True,
                )
            ],
        )
        for i in range(60)
    ]
    text, blocks = render_blocks(
        r.ResourcesReply(snapshot=ResourceSnapshot(cluster="c", partitions=parts))
    )
    _check_limits(text, blocks)
    assert "more partitions" in _texts(blocks)[-1]


@pytest.mark.parametrize(
    "reply",
    [
        r.HelpReply(text="commands:\nsubmit ..."),
        r.Submitted(
            cluster="lab",
            account="alice",
            job_id="7",
            job=Job(command="echo hi", resources=JobResource(partition="gpu", gpus_per_node=2)),
        ),
        r.DryRun(cluster="lab", script="#!/bin/bash\necho ```hi```\n"),
        r.Cancelled(cluster="lab", job=_job(state=JobState.CANCELLED)),
        r.HistoryReply(cluster="lab", account="alice", since="1d", records=[]),
        r.ClustersReply(
            clusters=[
                r.ClusterSummary(name="lab", where="h:22", default_partition="gpu", is_default=True)
            ]
        ),
        r.FlowRunReply(run=flow_run([flow_step("a"), flow_step("b", "a")])),
    ],
)
def test_every_reply_kind_renders(reply: r.Reply) -> None:
    text, blocks = render_blocks(reply)
    assert text and blocks
    _check_limits(text, blocks)


def test_config_reply_is_a_code_block() -> None:
    text, blocks = render_blocks(r.ConfigReply(text="clusters:\n- name: lab\n"))
    assert _texts(blocks)[0].startswith("```clusters:")
    _check_limits(text, blocks)


def _buttons(blocks: list[dict[str, Any]]) -> dict[str, str]:
    return {
        e["action_id"]: e["value"] for b in blocks if b["type"] == "actions" for e in b["elements"]
    }


def test_job_buttons_carry_cluster_and_job_as_data_not_command_text() -> None:
    _, blocks = render_blocks(r.StatusReply(cluster="lab", job=_job()))
    values = _buttons(blocks)
    assert set(values) == {"job_refresh", "job_tail", "job_cancel"}
    for value in values.values():
        assert json.loads(value) == {"c": "lab", "j": "4121"}
        assert read_job_value(value, ["lab"]) == ("lab", "4121")


def test_bot_made_admin_mention_stays_a_mention_and_user_text_stays_escaped() -> None:
    reply = r.ErrorReply(
        message="you are not set up; ask <@U0ADMIN> to map your Slack user (<@U0EVIL> <!here>)",
        mentions=["U0ADMIN"],
    )
    text, blocks = render_blocks(reply)
    for t in (text, _texts(blocks)[0]):
        assert "ask <@U0ADMIN> to map" in t
        assert "&lt;@U0EVIL&gt; &lt;!here&gt;" in t and "<@U0EVIL>" not in t


def test_mentions_not_declared_by_the_reply_stay_escaped() -> None:
    text, blocks = render_blocks(r.ErrorReply(message="ask <@U0ADMIN>"))
    _check_limits(text, blocks)
    # A declared id that is not a Slack user id never turns into markup either.
    text, blocks = render_blocks(r.ErrorReply(message="ask <!channel>", mentions=["!channel"]))
    _check_limits(text, blocks)


def test_unmapped_user_error_declares_the_admins_it_mentions() -> None:
    async def ask() -> r.Reply:
        rt = await Runtime.open(Lab.from_env().config())
        try:
            return await rt.dispatch.handle(STRANGER, "help")
        finally:
            await rt.close()

    reply = asyncio.run(ask())
    assert isinstance(reply, r.ErrorReply) and reply.mentions == [ADMIN]
    _, blocks = render_blocks(reply)
    assert f"ask <@{ADMIN}> to map" in _texts(blocks)[0]


def _plan(steps: int = 3, **fields: Any) -> r.FlowPlanReply:
    return r.FlowPlanReply.model_validate(
        {
            "name": "ML_Pipeline",
            "cluster": "lab",
            "steps": [
                r.FlowPlanStep(name=f"s{i}", deps=[f"afterok:s{i - 1}"] if i else [], level=i)
                for i in range(steps)
            ],
            **fields,
        }
    )


def test_flow_validate_shows_the_plan_and_the_order_keeping_the_names_case() -> None:
    text, blocks = render_blocks(_plan(cells=[{"lr": "0.1"}, {"lr": "0.01"}], max_parallel=2))
    _check_limits(text, blocks)
    texts = _texts(blocks)
    assert texts[0] == ":white_check_mark: Workflow ML_Pipeline on lab is valid: 3 jobs"
    assert "a sweep of 2 cells, at most 2 at once" in texts[1] and "cell 1: lr=0.01" in texts[1]
    assert texts[2].startswith("```JOB") and "afterok:s0" in texts[2]
    assert texts[3].endswith("same time):\n1. s0\n2. s1\n3. s2")


def test_a_big_dry_run_shows_the_scripts_that_fit_and_says_where_to_see_all() -> None:
    scripts = [
        r.FlowScript(
            name=f"ML_Pipeline.s{i}",
            sbatch=("sbatch", "--parsable", f"--job-name=ML_Pipeline.s{i}"),
            script="#!/bin/bash\n" + "echo <!channel> step\n" * 30,
        )
        for i in range(50)
    ]
    text, blocks = render_blocks(_plan(50, dry_run=True, scripts=scripts))
    _check_limits(text, blocks)
    texts = _texts(blocks)
    assert texts[0].startswith(":test_tube: Dry run of workflow ML_Pipeline on lab")
    assert "`sbatch --parsable --job-name=ML_Pipeline.s0` with this script on stdin" in texts[3]
    assert texts[4].startswith("```#!/bin/bash\necho &lt;!channel&gt; step")
    shown = sum(t.startswith("ML_Pipeline.s") for t in texts)
    assert 0 < shown < 50 and f"… and {50 - shown} more scripts" in texts[-1]


def test_flows_list_their_runs_with_channel_links_outside_code() -> None:
    run = r.FlowSummary(
        id="f0123456789ab",
        name="<!here>",
        cluster="lab",
        account="alice",
        channel="C1",
        created=1.0,
        jobs=2,
        tally={"RUNNING": 2},
    )
    text, blocks = render_blocks(r.FlowList(scope="alice", runs=[run] * 200))
    _check_limits(text, blocks)
    listing = _texts(blocks)[1]
    assert listing.startswith(
        "• `f0123456789ab` *&lt;!here&gt;* on lab (alice): 2 jobs, 2 RUNNING · running → <#C1>"
    )
    assert "more runs" in listing and "```" not in listing
    _, empty = render_blocks(r.FlowList(scope="alice", runs=[]))
    assert _texts(empty) == ["no workflow runs of alice"]
