"""Parsers of Slurm's delimited outputs, fed real Slurm 22.05 captures from tests/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.models import JobInfo, JobState, PartitionResources
from bot.core.slurm.formats import SEP, SINFO_NODE_FIELDS, SINFO_NODE_FORMAT, SQUEUE_FIELDS
from bot.core.slurm.parse import (
    array_task_count,
    gres_gpu_count,
    parse_queue,
    parse_sacct_history,
    parse_sacct_status,
    parse_scontrol_job,
    parse_sinfo_nodes,
    parse_squeue,
    scontrol_job_info,
    summarize_partitions,
    summarize_queue,
    tres_gpu_count,
)

DATA = Path(__file__).resolve().parents[2] / "data"

SCONTROL_LINE = (
    "JobId=1 JobName=my UserId=alice(1002) GroupId=alice(1002) JobState=RUNNING Reason=None "
    "ExitCode=0:0 RunTime=00:00:13 TimeLimit=UNLIMITED Partition=gpu NodeList=node1 "
    "WorkDir=/home/alice StdErr=/home/alice/slurm-1.out StdIn=/dev/null "
    "StdOut=/home/alice/slurm-1.out Power= TresPerNode=gres:gpu:2"
)


def _read(name: str) -> str:
    return (DATA / name).read_text(encoding="utf-8")


def _by_id(jobs: list[JobInfo]) -> dict[str, JobInfo]:
    return {j.job_id: j for j in jobs}


def _partitions(name: str) -> dict[str, PartitionResources]:
    return {p.partition: p for p in summarize_partitions(parse_sinfo_nodes(_read(name)))}


# ---------------------------------------------------------------- squeue
@pytest.fixture(scope="module")
def squeue() -> dict[str, JobInfo]:
    return _by_id(parse_squeue(_read("squeue_all.txt")))


def test_squeue_reads_every_row(squeue: dict[str, JobInfo]) -> None:
    assert len(squeue) == 11
    assert all(j.source == "squeue" and j.user == "alice" for j in squeue.values())


def test_squeue_array_task_ids_stay_strings(squeue: dict[str, JobInfo]) -> None:
    for task in ("394_1", "394_2", "394_3", "399_1"):
        assert task in squeue
        assert isinstance(squeue[task].job_id, str)
    # The raw JobIDs of array tasks (396, 397, 400) are replaced by ArrayJobID_TaskID.
    assert not {"396", "397", "400"} & squeue.keys()
    assert squeue["394_1"].state == JobState.COMPLETED


def test_squeue_pending_array_remainder_is_tallied(squeue: dict[str, JobInfo]) -> None:
    rest = squeue["399_[2-4%2]"]
    assert rest.state == JobState.PENDING
    assert rest.tasks == {"PENDING": 3}
    assert rest.start_time is None  # squeue's expected start of a pending job is not a start
    assert rest.reason == "Resources"


@pytest.mark.parametrize(
    ("job_id", "gpus", "nodes"),
    [("398", 3, 1), ("391", 2, 2), ("390", 2, 1), ("392", 1, 1), ("393", 0, 1), ("399_1", 2, 2)],
)
def test_squeue_gpus_come_from_tres_alloc(
    squeue: dict[str, JobInfo], job_id: str, gpus: int, nodes: int
) -> None:
    assert squeue[job_id].gpus == gpus
    assert squeue[job_id].nodes == nodes


def test_squeue_fields(squeue: dict[str, JobInfo]) -> None:
    running = squeue["398"]
    assert running.state == JobState.RUNNING
    assert running.name == "gpus3"
    assert running.partition == "gpu"
    assert running.nodelist == "node1"
    assert running.elapsed == "0:04"
    assert running.time_limit == "UNLIMITED"
    assert running.start_time == "2026-11-28T17:23:28"
    assert running.exit_code is None  # only ended jobs have one
    assert running.reason == ""  # `None` from Slurm means no reason
    assert squeue["391"].nodelist == "node[1-2]"
    assert squeue["393"].reason == "NonZeroExitCode"
    assert squeue["393"].exit_code == "3:0"  # the controller's wait status 768
    assert squeue["390"].exit_code == "0:0"
    assert squeue["395"].nodelist == ""


def test_squeue_job_name_with_separator_in_last_column() -> None:
    values = [
        "77",
        "77",
        "N/A",
        "RUNNING",
        "bob",
        "gpu",
        "1",
        "node1",
        "cpu=1,gres/gpu=1",
        "1:00",
        "UNLIMITED",
        "2026-11-28T15:54:20",
        "2026-11-28T15:54:21",
        "None",
        "0",
        "a|b | c",
    ]
    assert len(values) == len(SQUEUE_FIELDS)
    [job] = parse_squeue(SEP.join(values) + "\n")
    assert job.job_id == "77"
    assert job.name == "a|b | c"
    assert job.user == "bob"
    assert job.gpus == 1


def test_squeue_skips_stray_and_short_lines() -> None:
    text = (
        "squeue: error: slurm_receive_msg: Socket timed out\n"
        "\n"
        "14|14|N/A|RUNNING|alice\n"  # truncated row
        + _read("squeue_all.txt").splitlines()[-2]
        + "\n"
    )
    jobs = parse_squeue(text)
    assert [j.job_id for j in jobs] == ["398"]


def test_empty_outputs_parse_to_nothing() -> None:
    assert parse_squeue("") == []
    assert parse_sacct_status("\n\n") == []
    assert parse_sacct_history("") == []
    assert parse_sinfo_nodes("") == []
    assert summarize_partitions([]) == []


@pytest.mark.parametrize(
    ("spec", "count"), [("2-4%2", 3), ("[1,3,5-9]", 7), ("7", 1), ("[0-99%10]", 100)]
)
def test_array_task_count(spec: str, count: int) -> None:
    assert array_task_count(spec) == count


# ---------------------------------------------------------------- sacct status
@pytest.fixture(scope="module")
def sacct() -> dict[str, JobInfo]:
    return _by_id(parse_sacct_status(_read("sacct_status.txt")))


def test_sacct_status_rows(sacct: dict[str, JobInfo]) -> None:
    assert list(sacct) == ["4", "6", "11", "12_1", "12_[2-4%2]"]
    assert all(j.source == "sacct" for j in sacct.values())


def test_sacct_exit_codes_only_on_terminal_states(sacct: dict[str, JobInfo]) -> None:
    assert sacct["4"].state == JobState.FAILED
    assert sacct["4"].exit_code == "3:0"
    assert sacct["6"].exit_code == "0:0"
    assert sacct["11"].exit_code is None
    assert sacct["12_1"].exit_code is None
    assert sacct["12_[2-4%2]"].exit_code is None


def test_sacct_cancelled_by_uid_is_cancelled(sacct: dict[str, JobInfo]) -> None:
    assert sacct["6"].state == JobState.CANCELLED
    assert sacct["6"].nodelist == ""  # `None assigned`
    assert sacct["6"].start_time is None  # `None`
    assert sacct["6"].gpus is None  # empty AllocTRES: never allocated


def test_sacct_status_fields(sacct: dict[str, JobInfo]) -> None:
    assert sacct["11"].gpus == 3
    assert sacct["11"].end_time is None  # `Unknown`
    assert sacct["12_1"].gpus == 2
    assert sacct["12_1"].nodes == 2
    assert sacct["12_1"].nodelist == "node[1-2]"
    assert sacct["4"].gpus == 0
    assert sacct["4"].reason == ""
    assert sacct["12_[2-4%2]"].tasks == {"PENDING": 3}


# ---------------------------------------------------------------- sacct history
def test_sacct_history_one_record_per_allocation() -> None:
    records = parse_sacct_history(_read("sacct_history.txt"))
    ids = [r.job_id for r in records]
    assert ids == [
        "1",
        "2",
        "3",
        "4",
        "5_1",
        "5_2",
        "5_3",
        "6",
        "9",
        "10",
        "11",
        "12_1",
        "12_[2-4%2]",
    ]
    assert not any("." in i for i in ids)
    assert all(r.name != "batch" for r in records)


def test_sacct_history_maxrss_from_steps() -> None:
    records = {r.job_id: r for r in parse_sacct_history(_read("sacct_history.txt"))}
    assert records["1"].max_rss == "4.0M"  # 4108K on 1.batch
    assert records["9"].max_rss == "4.2M"  # 4328K on 9.batch
    assert records["4"].max_rss == ""  # its step reported nothing
    assert records["6"].max_rss == ""  # never ran, no steps
    assert records["1"].gpus == 2
    assert records["9"].gpus == 4  # the allocation's total, not the batch step's 2
    assert records["4"].exit_code == "3:0"
    assert records["4"].state == JobState.FAILED
    assert records["6"].state == JobState.CANCELLED
    assert records["11"].end_time is None


def test_sacct_history_takes_max_over_steps() -> None:
    text = (
        "20|COMPLETED|0:0|gpu|00:01:00|UNLIMITED|s|e|00:00:01||cpu=2,gres/gpu=1|1G|big\n"
        "20.batch|COMPLETED|0:0||00:01:00||s|e|00:00:01|1024K|cpu=1||batch\n"
        "20.0|COMPLETED|0:0||00:01:00||s|e|00:00:01|2G|cpu=1||python\n"
    )
    [rec] = parse_sacct_history(text)
    assert rec.max_rss == "2.0G"
    assert rec.name == "big"


# ---------------------------------------------------------------- GRES and TRES
@pytest.mark.parametrize(
    ("gres", "gpus"),
    [
        ("gpu:4", 4),
        ("gpu:a100:2(IDX:0-1)", 2),
        ("gres:gpu:2", 2),
        ("(null)", 0),
        ("N/A", 0),
        ("gpu:2,shard:4", 2),
        ("gpu:a100:2(IDX:0,2),gpu:v100:1(IDX:3)", 3),
        ("gpu:0", 0),
        ("", 0),
        (None, 0),
    ],
)
def test_gres_gpu_count(gres: str | None, gpus: int) -> None:
    assert gres_gpu_count(gres) == gpus


@pytest.mark.parametrize(
    ("tres", "gpus"),
    [
        ("cpu=1,mem=500M,node=1,billing=1,gres/gpu=3", 3),
        ("cpu=1,mem=500M,node=1", 0),
        ("cpu=1,gres/gpu:a100=2,gres/gpu:v100=1", 3),  # typed only: summed
        ("cpu=1,gres/gpu=2,gres/gpu:a100=2", 2),  # untyped present: typed not added
        ("gres/gpu:a100=2,gres/gpu=2", 2),
        ("", None),
        (None, None),
    ],
)
def test_tres_gpu_count(tres: str | None, gpus: int | None) -> None:
    assert tres_gpu_count(tres) == gpus


# ---------------------------------------------------------------- sinfo
def test_sinfo_node_format_has_no_trailing_separator() -> None:
    # A trailing separator would glue `|` onto GresUsed (`gpu:3|`) and count 0 GPUs in use.
    assert not SINFO_NODE_FORMAT.endswith(SEP)
    assert SINFO_NODE_FORMAT.count(SEP) == len(SINFO_NODE_FIELDS) - 1


def test_sinfo_nodes_busy() -> None:
    nodes = {n.node: n for n in parse_sinfo_nodes(_read("sinfo_nodes_busy.txt"))}
    assert set(nodes) == {"node1", "node2", "node3"}
    assert (nodes["node1"].gpus_total, nodes["node1"].gpus_used) == (4, 3)
    assert (nodes["node2"].gpus_total, nodes["node2"].gpus_used) == (4, 2)
    assert (nodes["node3"].gpus_total, nodes["node3"].gpus_used) == (0, 0)
    assert all(n.available for n in nodes.values())


def test_summarize_busy_partitions() -> None:
    parts = _partitions("sinfo_nodes_busy.txt")
    gpu = parts["gpu"]
    assert (gpu.gpus_total, gpu.gpus_used, gpu.gpus_free, gpu.gpus_unavailable) == (8, 5, 3, 0)
    assert (gpu.nodes_mixed, gpu.nodes_idle, gpu.nodes_drain) == (2, 0, 0)
    assert [n.node for n in gpu.nodes] == ["node1", "node2"]
    cpu = parts["cpu"]
    assert (cpu.gpus_total, cpu.gpus_free, cpu.nodes_idle) == (0, 0, 1)


def test_summarize_drained_node_gpus_are_not_free() -> None:
    nodes = {n.node: n for n in parse_sinfo_nodes(_read("sinfo_nodes_drain.txt"))}
    assert nodes["node2"].state == "allocated+drain"
    assert not nodes["node2"].available
    assert nodes["node1"].available
    gpu = _partitions("sinfo_nodes_drain.txt")["gpu"]
    # node1: 3 of 4 in use -> 1 free; node2 (drained): 2 in use, its 2 idle GPUs unavailable.
    assert (gpu.gpus_total, gpu.gpus_used, gpu.gpus_free, gpu.gpus_unavailable) == (8, 5, 1, 2)
    assert gpu.nodes_drain == 1
    assert gpu.nodes_mixed == 1
    assert gpu.nodes_alloc == 0


@pytest.mark.parametrize(
    ("state", "available"),
    [
        ("idle", True),
        ("mixed", True),
        ("allocated", True),
        ("idle*", False),
        ("down", False),
        ("drained", False),
        ("mixed+drain", False),
        ("idle+maint", False),
    ],
)
def test_sinfo_node_availability(state: str, available: bool) -> None:
    [node] = parse_sinfo_nodes(f"n1|gpu|{state}|gpu:2|gpu:0\n")
    assert node.available is available


# ---------------------------------------------------------------- scontrol
def test_parse_scontrol_job_one_line() -> None:
    fields = parse_scontrol_job(SCONTROL_LINE + "\n")
    assert fields["JobId"] == "1"
    assert fields["JobName"] == "my"
    assert fields["UserId"] == "alice(1002)"
    assert fields["JobState"] == "RUNNING"
    assert fields["ExitCode"] == "0:0"
    assert fields["StdOut"] == "/home/alice/slurm-1.out"
    assert fields["Power"] == ""
    assert fields["TresPerNode"] == "gres:gpu:2"
    assert len(fields) == 17


def test_scontrol_values_may_hold_spaces_and_equals() -> None:
    fields = parse_scontrol_job(
        "JobId=5 JobName=my job UserId=a(1) TRES=cpu=1,mem=500M,gres/gpu=2 JobState=PENDING"
    )
    assert fields["JobName"] == "my job"
    assert fields["TRES"] == "cpu=1,mem=500M,gres/gpu=2"
    assert fields["JobState"] == "PENDING"


def test_parse_scontrol_job_empty() -> None:
    assert parse_scontrol_job("") == {}


def test_scontrol_job_info() -> None:
    info = scontrol_job_info(parse_scontrol_job(SCONTROL_LINE))
    assert info.job_id == "1"
    assert info.state == JobState.RUNNING
    assert info.user == "alice"
    assert info.name == "my"
    assert info.partition == "gpu"
    assert info.nodelist == "node1"
    assert info.elapsed == "00:00:13"
    assert info.exit_code is None  # not terminal
    assert info.reason == ""
    assert info.source == "scontrol"


def test_scontrol_job_info_array_task_and_exit_code() -> None:
    line = "JobId=13 ArrayJobId=12 ArrayTaskId=1 JobName=arr JobState=FAILED ExitCode=2:0"
    info = scontrol_job_info(parse_scontrol_job(line))
    assert info.job_id == "12_1"
    assert info.exit_code == "2:0"


# ---------------------------------------------------------------- the report's queue
def test_queue_rows_from_a_real_capture() -> None:
    # tests/data/capture_queue.sh: a running 3-GPU job, a pending 5-task array of 2x2 GPUs,
    # and a job held with --begin.
    jobs = {j.name: j for j in parse_queue(_read("squeue_queue.txt"))}
    train, sweep, later = jobs["train"], jobs["sweep"], jobs["later"]
    assert (train.state, train.gpus, train.pending_seconds, train.elapsed) == (
        JobState.RUNNING,
        3,
        None,
        "0:06",
    )
    assert sweep.job_id.endswith("_[1-5%1]") and sweep.count == 5 and sweep.gpus == 4
    assert sweep.state == JobState.PENDING and sweep.reason == "Resources"
    assert later.pending_seconds == 7 and later.reason == "BeginTime" and later.user == "alice"


def test_queue_summary_counts_array_tasks_and_the_longest_wait() -> None:
    summary = summarize_queue(parse_queue(_read("squeue_queue.txt")))
    assert (summary.running, summary.pending) == (1, 6)
    assert summary.longest_pending_seconds == 7
    assert summary.longest_pending_job is not None


def test_empty_queue() -> None:
    summary = summarize_queue(parse_queue(""))
    assert (summary.running, summary.pending, summary.longest_pending_job) == (0, 0, None)
