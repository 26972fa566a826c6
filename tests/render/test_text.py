"""The console's plain-text rendering of every reply type."""

from __future__ import annotations

import re

import pytest

from bot.core import replies as r
from bot.core.jobtext import final_summary
from bot.core.models import (
    HistoryRecord,
    Job,
    JobInfo,
    JobResource,
    JobState,
    NodeResources,
    PartitionResources,
    ResourceSnapshot,
)
from bot.core.records import Watch
from bot.core.slurm.client import Output
from bot.render.blocks import render_blocks
from bot.render.text import render_text
from labkit import flow_run, flow_step


def _running() -> JobInfo:
    return JobInfo(
        job_id="11",
        state=JobState.RUNNING,
        name="gpus3",
        user="alice",
        partition="gpu",
        nodes=2,
        nodelist="node[1-2]",
        gpus=3,
        elapsed="0:08",
        time_limit="1:00:00",
        source="squeue",
    )


def _history(job_id: str, name: str, state: JobState, exit_code: str, rss: str) -> HistoryRecord:
    return HistoryRecord(
        job_id=job_id,
        name=name,
        state=state,
        exit_code=exit_code,
        partition="gpu",
        elapsed="00:00:40",
        time_limit="UNLIMITED",
        start_time=None,
        end_time=None,
        total_cpu="00:00.002",
        max_rss=rss,
        alloc_tres="cpu=1,gres/gpu=2",
        req_mem="500M",
        gpus=2 if name == "my" else None,
    )


def test_error_and_help() -> None:
    assert render_text(r.ErrorReply(message="invalid job id `x`")) == "error: invalid job id `x`"
    assert render_text(r.HelpReply(text="commands:\nsubmit ...")) == "commands:\nsubmit ..."


def test_submitted() -> None:
    job = Job(
        name="train",
        command="python train.py",
        resources=JobResource(nodes=2, gpus_per_node=4, partition="gpu"),
    )
    text = render_text(r.Submitted(cluster="lab", account="alice", job_id="42", job=job))
    assert text == (
        "submitted job 42 `train` on lab as alice: partition gpu, 2 nodes, 4 GPUs/node\n"
        "  follow it: `status 42` · output: `tail 42`"
    )


def test_submitted_defaults() -> None:
    job = Job(command="true", resources=JobResource(gpus_per_node=1))
    text = render_text(r.Submitted(cluster="lab", account="bob", job_id="7", job=job))
    assert text.splitlines()[0] == (
        "submitted job 7 `job` on lab as bob: default partition, 1 node, 1 GPU/node"
    )


def test_dry_run() -> None:
    script = "#!/bin/bash\n#SBATCH --job-name=x\necho hi\n"
    text = render_text(r.DryRun(cluster="lab", script=script))
    assert text == f"dry run on lab, nothing submitted; the job script:\n{script}"


def test_status_running() -> None:
    text = render_text(r.StatusReply(cluster="lab", job=_running()))
    assert text == (
        "job 11 `gpus3` on lab: RUNNING\n"
        "  user alice · partition gpu · 2 nodes (node[1-2]) · 3 GPUs · elapsed 0:08 of 1:00:00"
    )


def test_status_finished_with_exit_code() -> None:
    job = JobInfo(
        job_id="4",
        state=JobState.FAILED,
        name="failer",
        user="alice",
        partition="cpu",
        nodes=1,
        nodelist="node3",
        gpus=1,
        elapsed="00:00:00",
        exit_code="3:0",
    )
    lines = render_text(r.StatusReply(cluster="lab", job=job)).splitlines()
    assert lines[0] == "job 4 `failer` on lab: FAILED"
    assert lines[1] == "  user alice · partition cpu · 1 node (node3) · 1 GPU · elapsed 00:00:00"
    assert lines[2] == "  exit code 3:0"


def test_status_pending_array_with_tasks_and_reason() -> None:
    job = JobInfo(
        job_id="12_[2-4%2]",
        state=JobState.PENDING,
        name="arr",
        user="alice",
        partition="gpu",
        reason="Resources",
        tasks={"PENDING": 3, "RUNNING": 1},
    )
    text = render_text(r.StatusReply(cluster="lab", job=job))
    assert text.splitlines() == [
        "job 12_[2-4%2] `arr` on lab: PENDING",
        "  user alice · partition gpu",
        "  tasks: PENDING 3, RUNNING 1",
        "  waiting: Resources",
    ]


def test_status_unknown_with_last_known_state() -> None:
    job = JobInfo(
        job_id="11",
        state=JobState.UNKNOWN,
        last_known=JobState.RUNNING,
        reason="lab did not answer within 30 s",
    )
    text = render_text(r.StatusReply(cluster="lab", job=job))
    assert text.splitlines() == [
        "job 11 on lab: UNKNOWN (last known RUNNING)",
        "  could not look: lab did not answer within 30 s",
    ]


def test_cancelled() -> None:
    job = JobInfo(job_id="6", state=JobState.CANCELLED, name="pend", exit_code="0:0")
    assert render_text(r.Cancelled(cluster="lab", job=job)) == (
        "cancelled job 6 `pend` on lab: CANCELLED\n  exit code 0:0"
    )


def test_job_list() -> None:
    pending = JobInfo(
        job_id="12_[2-4%2]",
        state=JobState.PENDING,
        name="arr",
        user="alice",
        partition="gpu",
        nodes=2,
        elapsed="0:00",
        reason="Resources",
    )
    text = render_text(r.JobList(cluster="lab", scope="alice", jobs=[_running(), pending]))
    assert text.splitlines() == [
        "jobs of alice on lab:",
        "ID          NAME   USER   STATE    PARTITION  NODES  ELAPSED  WHERE/WHY",
        "11          gpus3  alice  RUNNING  gpu        2      0:08     node[1-2]",
        "12_[2-4%2]  arr    alice  PENDING  gpu        2      0:00     Resources",
    ]


def test_job_list_with_gpus() -> None:
    idle = JobInfo(
        job_id="4",
        state=JobState.PENDING,
        name="cpu",
        user="bob",
        partition="cpu",
        nodes=1,
        reason="Priority",
    )
    reply = r.JobList(cluster="lab", scope="all users", jobs=[_running(), idle], show_gpus=True)
    assert render_text(reply).splitlines() == [
        "jobs of all users on lab:",
        "ID  NAME   USER   STATE    PARTITION  NODES  GPUS  ELAPSED  WHERE/WHY",
        "11  gpus3  alice  RUNNING  gpu        2      3     0:08     node[1-2]",
        "4   cpu    bob    PENDING  cpu        1      0              Priority",
    ]


def test_empty_job_list() -> None:
    text = render_text(r.JobList(cluster="lab", scope="alice", jobs=[]))
    assert text == "no queued or running jobs for alice on lab"


@pytest.mark.parametrize(("body", "shown"), [("a\nb\n\n", "a\nb"), ("", "(empty)")])
def test_tail(body: str, shown: str) -> None:
    reply = r.TailReply(cluster="lab", job_id="1", path="/home/alice/slurm-1.out", text=body)
    assert render_text(reply) == f"last lines of /home/alice/slurm-1.out (job 1 on lab):\n{shown}"


def test_tail_cut_says_so_in_text_blocks_and_the_final_summary() -> None:
    reply = r.TailReply(cluster="lab", job_id="1", path="/o", text="x" * 5000, cut_to=65536)
    assert render_text(reply).splitlines()[-1] == "(output cut to the last 64 KiB)"
    _, blocks = render_blocks(reply)
    assert "output cut to the last 64 KiB" in blocks[-1]["elements"][0]["text"]
    info = JobInfo(job_id="1", state=JobState.COMPLETED, exit_code="0:0")
    summary = final_summary(info, None, Output("/o", "x" * 5000, cut_to=65536))
    assert "last lines of output (cut to the last 64 KiB):" in summary
    assert "cut" not in final_summary(info, None, Output("/o", "done\n"))


def test_watches_show_where_each_goes_as_a_channel_link() -> None:
    mine = Watch(kind="mine", user_id="U1", account="alice", cluster="lab", channel="C2", id="w1")
    job = mine.model_copy(update={"kind": "job", "job_id": "5000", "channel": "D7", "id": "w2"})
    reply = r.WatchesReply(scope="you", watches=[mine, job])
    assert render_text(reply).splitlines()[1:] == [
        "ID  KIND  WHAT      ACCOUNT  CLUSTER  GOES TO",
        "w1  mine  all jobs  alice    lab      <#C2>",
        "w2  job   job 5000  alice    lab      your DM",
    ]
    text, blocks = render_blocks(reply)
    listing = blocks[-1]["text"]["text"]
    assert "• `w1` all jobs on lab (alice) → <#C2>" in listing and "```" not in listing
    assert "• `w2` job 5000 on lab (alice) → your DM" in listing and "<#C2>" in text


def test_resources() -> None:
    nodes = [
        NodeResources(
            node="node1", partition="gpu", state="mixed", gpus_total=4, gpus_used=3, available=True
        ),
        NodeResources(
            node="node2",
            partition="gpu",
            state="allocated+drain",
            gpus_total=4,
            gpus_used=2,
            available=False,
        ),
    ]
    gpu = PartitionResources(
        partition="gpu",
        gpus_total=8,
        gpus_used=5,
        gpus_free=1,
        gpus_unavailable=2,
        nodes_mixed=1,
        nodes_drain=1,
        nodes=nodes,
    )
    cpu = PartitionResources(
        partition="cpu", gpus_total=0, gpus_used=0, gpus_free=0, gpus_unavailable=0, nodes_idle=1
    )
    text = render_text(
        r.ResourcesReply(snapshot=ResourceSnapshot(cluster="lab", partitions=[gpu, cpu]))
    )
    lines = text.splitlines()
    assert lines[0] == "GPUs on lab: 1 free"
    assert lines[1] == (
        "gpu: 1/8 GPUs free (5 in use, 2 on unavailable nodes) · nodes idle 0, mixed 1, "
        "alloc 0, down 0, drain 1"
    )
    assert lines[2].split() == ["NODE", "STATE", "GPUS", "FREE"]
    assert lines[3].split() == ["node1", "mixed", "1/4"]
    assert lines[4].split() == ["node2", "allocated+drain", "0/4"]
    assert lines[5] == (
        "cpu: 0/0 GPUs free (0 in use) · nodes idle 1, mixed 0, alloc 0, down 0, drain 0"
    )
    assert len(lines) == 6  # no node table for a partition without nodes


def test_history() -> None:
    records = [
        _history("1", "my", JobState.COMPLETED, "0:0", "4.0M"),
        _history("4", "failer", JobState.FAILED, "3:0", ""),
    ]
    reply = r.HistoryReply(cluster="lab", account="alice", since="1d", records=records)
    lines = render_text(reply).splitlines()
    assert lines[0] == "jobs of alice on lab since 1d:"
    assert lines[1].split() == ["ID", "NAME", "STATE", "EXIT", "ELAPSED", "CPU", "MAXRSS", "GPUS"]
    assert lines[2].split() == ["1", "my", "COMPLETED", "0:0", "00:00:40", "00:00.002", "4.0M", "2"]
    assert lines[3].split() == ["4", "failer", "FAILED", "3:0", "00:00:40", "00:00.002", "-", "0"]


def test_empty_history() -> None:
    reply = r.HistoryReply(cluster="lab", account="alice", since="12h", records=[])
    assert render_text(reply) == "no jobs of alice on lab since 12h"


def test_clusters() -> None:
    reply = r.ClustersReply(
        clusters=[
            r.ClusterSummary(
                name="lab",
                where="127.0.0.1:2222",
                default_partition="gpu",
                is_default=True,
                reachable=True,
                detail="2 partitions, 9 ms",
            ),
            r.ClusterSummary(
                name="far",
                where="far:22",
                default_partition=None,
                is_default=False,
                reachable=False,
                detail="no answer within 5 s",
            ),
        ]
    )
    lines = render_text(reply).splitlines()
    assert lines[0] == "clusters:"
    assert lines[1].split() == ["NAME", "WHERE", "DEFAULT", "PARTITION", "REACHABLE", "DETAIL"]
    assert lines[2].startswith("lab (your default)  127.0.0.1:2222")
    assert lines[2].endswith("gpu                yes        2 partitions, 9 ms")
    assert lines[3].split()[:4] == ["far", "far:22", "-", "NO"]
    assert lines[3].endswith("no answer within 5 s")


def test_every_reply_type_renders() -> None:
    # Guards against a new Reply type being added without a text rendering.
    job = Job(command="true")
    info = _running()
    snapshot = ResourceSnapshot(cluster="lab", partitions=[])
    samples: list[r.Reply] = [
        r.ErrorReply(message="m"),
        r.HelpReply(text="t"),
        r.Submitted(cluster="c", account="a", job_id="1", job=job),
        r.DryRun(cluster="c", script="s"),
        r.StatusReply(cluster="c", job=info),
        r.JobList(cluster="c", scope="a", jobs=[info]),
        r.Cancelled(cluster="c", job=info),
        r.TailReply(cluster="c", job_id="1", path="p", text="t"),
        r.ResourcesReply(snapshot=snapshot),
        r.HistoryReply(cluster="c", account="a", since="1d", records=[]),
        r.ClustersReply(
            clusters=[
                r.ClusterSummary(name="c", where="w", default_partition=None, is_default=True)
            ]
        ),
        r.ConfigReply(text="clusters: []"),
        r.ConfigPathsReply(config_file=None, state_dir="/s", templates_dir="/t"),
        r.TemplatesReply(templates=[r.TemplateSummary(name="b", description="", builtin=True)]),
        r.TemplateReply(name="b", text="#!/bin/bash\n"),
        r.DefaultsReply(
            cluster="c", settings=[r.DefaultSetting(key="memory", value=None, source="template")]
        ),
        r.Done(text="watching"),
        r.WatchesReply(scope="you", watches=[]),
        r.Alert(text="2 GPUs are free", mention="U1"),
        r.ClusterReport(cluster="c", at="2026-11-28 09:00 UTC", partitions=[]),
        r.ReportsReply(scope="you", reports=[]),
        r.SubmitFormReply(cluster="c", partitions=["gpu"]),
        r.HomeReply(cluster="c", account="a"),
        r.FlowPlanReply(name="p", cluster="c", steps=[r.FlowPlanStep(name="a")]),
        r.FlowRunReply(run=flow_run([flow_step("a")])),
        r.FlowList(scope="you", runs=[]),
    ]
    kinds = {s.kind for s in samples}
    assert len(kinds) == len(r.Reply.__args__)
    for sample in samples:
        assert render_text(sample)


def _plan(**fields: object) -> r.FlowPlanReply:
    steps = [
        r.FlowPlanStep(name="preprocess", resources="partition cpu, 1 node", source="command"),
        r.FlowPlanStep(
            name="train",
            deps=["afterok:preprocess"],
            level=1,
            resources="partition gpu, 1 node, 2 GPUs/node, 4:00:00",
            retry=2,
            source="~/train.sh",
        ),
        r.FlowPlanStep(name="tune", deps=["afterok:preprocess"], level=1, source="command"),
        r.FlowPlanStep(name="evaluate", deps=["afterok:train", "afterany:tune"], level=2),
    ]
    return r.FlowPlanReply.model_validate(
        {"name": "ml_pipeline", "cluster": "lab", "steps": steps, **fields}
    )


def _cells(line: str) -> list[str]:
    """A table line's cells: columns are two or more spaces apart."""
    return re.split(r" {2,}", line)


def test_flow_validate_lists_each_job_and_the_order_slurm_runs_them() -> None:
    lines = render_text(_plan()).splitlines()
    assert lines[0] == "workflow ml_pipeline on lab is valid: 4 jobs"
    assert [_cells(ln) for ln in lines[1:6]] == [
        ["JOB", "AFTER", "LEVEL", "RESOURCES", "RETRY", "FROM"],
        ["preprocess", "-", "0", "partition cpu, 1 node", "-", "command"],
        [
            "train",
            "afterok:preprocess",
            "1",
            "partition gpu, 1 node, 2 GPUs/node, 4:00:00",
            "2",
            "~/train.sh",
        ],
        ["tune", "afterok:preprocess", "1", "-", "-", "command"],
        ["evaluate", "afterok:train afterany:tune", "2", "-", "-", "-"],
    ]
    assert lines[6:] == [
        "the order Slurm will run them (jobs on one line may run at the same time):",
        "  1. preprocess",
        "  2. train, tune",
        "  3. evaluate",
    ]


def test_flow_validate_of_a_sweep_lists_its_cells() -> None:
    reply = _plan(cells=[{"lr": "0.1", "bs": "32"}, {"lr": "0.01", "bs": "32"}], max_parallel=1)
    assert render_text(reply).splitlines()[1:4] == [
        "a sweep of 2 cells, at most 1 at once; each cell runs every job:",
        "  cell 0: lr=0.1 bs=32",
        "  cell 1: lr=0.01 bs=32",
    ]


def test_flow_dry_run_shows_every_script_and_its_exact_sbatch() -> None:
    scripts = [
        r.FlowScript(
            name="ml_pipeline.train",
            sbatch=(
                "sbatch",
                "--parsable",
                "--job-name=ml_pipeline.train",
                "--dependency=afterok:$preprocess",
            ),
            script="#!/bin/bash\npython train.py --lr '0.1'\n",
        )
    ]
    lines = render_text(_plan(dry_run=True, scripts=scripts)).splitlines()
    assert lines[0] == "dry run of workflow ml_pipeline on lab, nothing submitted: 4 jobs"
    assert lines[-3:] == [
        "ml_pipeline.train: it would run `sbatch --parsable --job-name=ml_pipeline.train "
        "'--dependency=afterok:$preprocess'` with this script on stdin:",
        "#!/bin/bash",
        "python train.py --lr '0.1'",
    ]


def test_flows_lists_runs_with_their_tally_and_where_they_post() -> None:
    run = r.FlowSummary(
        id="f0123456789ab",
        name="ml_pipeline",
        cluster="lab",
        account="alice",
        channel="C1",
        created=1.0,
        jobs=3,
        tally={"COMPLETED": 2, "RUNNING": 1},
    )
    done = run.model_copy(
        update={"id": "f00000000000a", "channel": "D1", "tally": {"FAILED": 3}, "outcome": "failed"}
    )
    lines = render_text(r.FlowList(scope="alice", runs=[run, done])).splitlines()
    assert lines[0] == "workflow runs of alice:"
    assert [_cells(ln) for ln in lines[1:]] == [
        ["ID", "NAME", "CLUSTER", "ACCOUNT", "JOBS", "STATES", "OUTCOME", "WHERE"],
        [
            "f0123456789ab",
            "ml_pipeline",
            "lab",
            "alice",
            "3",
            "2 COMPLETED, 1 RUNNING",
            "running",
            "<#C1>",
        ],
        ["f00000000000a", "ml_pipeline", "lab", "alice", "3", "3 FAILED", "failed", "your DM"],
    ]
    assert render_text(r.FlowList(scope="all users", runs=[])) == "no workflow runs of all users"
