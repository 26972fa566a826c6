"""SlurmClient logic with a scripted transport: batching, sharing, and outage rules."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from bot.core.models import JobState
from bot.core.slurm import client as client_mod
from bot.core.slurm.client import SlurmClient
from bot.errors import TransportError
from bot.transport.base import CommandResult

DATA = Path(__file__).resolve().parents[2] / "data"
CTLD_DOWN = "squeue: error: Unable to contact slurm controller (connect failure)\n"


class Scripted:
    """A transport that answers by program name and records every argv."""

    description = "scripted"

    def __init__(self, answers: dict[str, tuple[int, str, str]], delay: float = 0.0) -> None:
        self.answers = answers
        self.delay = delay
        self.calls: list[tuple[str, ...]] = []

    async def run(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float | None = None
    ) -> CommandResult:
        self.calls.append(tuple(argv))
        await asyncio.sleep(self.delay)
        answer = self.answers[argv[0]]
        if isinstance(answer, Exception):
            raise answer
        status, out, err = answer
        return CommandResult(tuple(argv), status, out, err)

    async def close(self) -> None:
        return None

    def count(self, program: str) -> int:
        return sum(1 for c in self.calls if c[0] == program)


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
    t = Scripted({})
    t.answers = {"squeue": TransportError("cannot reach alice@h:22: Connection refused")}  # type: ignore[dict-item]
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
