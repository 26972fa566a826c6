"""SlurmClient logic with a scripted transport: batching, sharing, and outage rules."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.core.models import JobInfo, JobState
from bot.core.slurm import client as client_mod
from bot.core.slurm.client import SlurmClient
from bot.errors import TransportError
from scripted import Scripted

DATA = Path(__file__).resolve().parents[2] / "data"
CTLD_DOWN = "squeue: error: Unable to contact slurm controller (connect failure)\n"


def _squeue_rows() -> str:
    return (DATA / "squeue_all.txt").read_text()


async def test_many_jobs_cost_one_squeue_and_one_sacct() -> None:
    t = Scripted(
        {
            "squeue": (0, _squeue_rows(), ""),
            "sacct": (0, (DATA / "sacct_status.txt").read_text(), ""),
        }
    )
    out = await SlurmClient(t, "lab").status(["398", "393", "4", "6", "999"])
    assert t.count("squeue") == 1 and t.count("sacct") == 1
    assert out["398"].state == JobState.RUNNING and out["398"].gpus == 3
    assert out["393"].state == JobState.FAILED and out["393"].exit_code == "3:0"  # controller
    assert out["4"].state == JobState.FAILED and out["4"].exit_code == "3:0"
    assert out["6"].state == JobState.CANCELLED
    assert out["999"].state == JobState.NOT_FOUND


async def test_active_jobs_need_no_accounting() -> None:
    t = Scripted({"squeue": (0, _squeue_rows(), "")})
    out = await SlurmClient(t, "lab").status(["398"])
    assert out["398"].state == JobState.RUNNING and t.count("sacct") == 0


async def test_identical_concurrent_queries_share_one_lookup() -> None:
    t = Scripted({"squeue": (0, _squeue_rows(), "")}, delay=0.05)
    c = SlurmClient(t, "lab")
    results = await asyncio.gather(*(c.status(["398"]) for _ in range(50)))
    assert t.count("squeue") == 1
    assert all(r["398"].state == JobState.RUNNING for r in results)
    await c.status(["398"])  # finished lookups are not cached
    assert t.count("squeue") == 2


async def test_controller_down_gives_unknown_and_is_not_asked_again_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sacct_running = (
        "398|RUNNING|0:0|alice|gpu|1|node1|gres/gpu=3|00:00:08|UNLIMITED|x|y|Unknown|None|j\n"
    )
    t = Scripted({"squeue": (1, "", CTLD_DOWN), "sacct": (0, sacct_running, "")})
    c = SlurmClient(t, "lab")
    first = await c.job("398")
    assert first.state == JobState.UNKNOWN and first.last_known == JobState.RUNNING
    assert "Unable to contact slurm controller" in first.reason
    second = await c.job("398")
    assert second.state == JobState.UNKNOWN and t.count("squeue") == 1
    monkeypatch.setattr(client_mod, "CTLD_RECHECK_SECONDS", 0.0)
    t.answers["squeue"] = (0, _squeue_rows(), "")
    c._ctld_down = (0.0, "expired")
    assert (await c.job("398")).state == JobState.RUNNING and t.count("squeue") == 2


async def test_controller_down_never_turns_a_finished_record_into_a_guess() -> None:
    t = Scripted(
        {"squeue": (1, "", CTLD_DOWN), "sacct": (0, (DATA / "sacct_status.txt").read_text(), "")}
    )
    out = await SlurmClient(t, "lab").status(["4", "999"])
    assert out["4"].state == JobState.FAILED and out["4"].exit_code == "3:0"  # recorded: trusted
    assert out["999"].state == JobState.UNKNOWN  # could not look: not "not found"


async def test_unreachable_cluster_is_unknown_for_every_job() -> None:
    t = Scripted({"squeue": TransportError("cannot reach alice@h:22: Connection refused")})
    out = await SlurmClient(t, "lab").status(["1", "2_3"])
    assert {j.state for j in out.values()} == {JobState.UNKNOWN}
    assert out["2_3"].reason.startswith("cannot reach")


async def test_a_task_inside_a_pending_array_range_is_pending_not_missing() -> None:
    t = Scripted({"squeue": (0, _squeue_rows(), "")})
    out = await SlurmClient(t, "lab").status(["399_3", "399_1", "399"])
    assert out["399_3"].state == JobState.PENDING and out["399_3"].job_id == "399_3"
    assert out["399_3"].tasks == {}
    assert out["399_1"].state == JobState.RUNNING
    assert out["399"].tasks == {"PENDING": 3, "RUNNING": 1}
    assert out["399"].state == JobState.RUNNING
    assert t.count("sacct") == 0


OUT = "/home/alice/slurm-7.out"
SCONTROL_7 = f"JobId=7 JobName=x UserId=alice(1001) JobState=COMPLETED StdOut={OUT}\n"


def _tail_client(output: str) -> tuple[Scripted, SlurmClient]:
    t = Scripted({"scontrol": (0, SCONTROL_7, ""), "tail": (0, output, "")})
    return t, SlurmClient(t, "lab")


async def test_tail_reads_at_most_a_capped_number_of_bytes() -> None:
    cap = client_mod.TAIL_MAX_BYTES
    t, c = _tail_client("x" * (cap + 1))  # one line longer than the cap: cut
    out = await c.tail("7", 1)
    assert ("tail", "-c", str(cap + 1), "--", OUT) in t.calls
    assert out.path == OUT and out.cut_to == cap and out.text == "x" * cap


async def test_tail_keeps_the_last_lines_and_says_nothing_was_cut_when_they_fit() -> None:
    cap = client_mod.TAIL_MAX_BYTES
    many = "partial" + "".join(f"line {i}\n" for i in range(cap // 8))
    _, c = _tail_client(many[-(cap + 1) :])  # what `tail -c` gives of a long file
    out = await c.tail("7", 2)
    last = cap // 8 - 1
    assert out.text == f"line {last - 1}\nline {last}\n" and out.cut_to is None
    _, c = _tail_client("a\rb\nc\nd")  # `\r` is not a line end; a last line needs no newline
    out = await c.tail("7", 2)
    assert out.text == "c\nd" and out.cut_to is None
    assert (await c.tail("7", 5)).text == "a\rb\nc\nd"


async def test_tail_cut_inside_a_character_drops_the_broken_start() -> None:
    cap = client_mod.TAIL_MAX_BYTES
    # `tail -c` cut the first two-byte `é` in half; the transport decoded that byte as U+FFFD.
    _, c = _tail_client("\ufffd" + "é" * (cap // 2))
    out = await c.tail("7", 3)
    assert out.cut_to == cap and set(out.text) == {"é"}
    assert len(out.text.encode()) <= cap


def test_a_just_ended_job_keeps_the_controllers_name_over_accountings() -> None:
    # Right after the end, accounting may still call the job `allocation`.
    acct = [JobInfo(job_id="5", state=JobState.COMPLETED, name="allocation", exit_code="0:0")]
    live = [JobInfo(job_id="5", state=JobState.COMPLETED, name="train")]
    (merged,) = client_mod._merge(acct, live)
    assert merged.name == "train" and merged.exit_code == "0:0"
