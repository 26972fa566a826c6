"""A transport that answers by program name from a script and records every argv; answers
made of real Slurm output captured from the lab (tests/data/capture_*.sh)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from bot.config import ClusterConfig
from bot.core.ports import Outbox
from bot.runtime import Runtime
from bot.store.state import open_state
from bot.transport.base import CommandResult, Transport
from bot.transport.pool import TransportPool
from labkit import Lab, Recorder

Result = tuple[int, str, str] | Exception  # (exit status, stdout, stderr), or what it raises
Answer = Result | Callable[[tuple[str, ...]], Result]  # fixed, or chosen by the whole argv

DATA = Path(__file__).resolve().parent / "data"
# What Slurm's tools print when their daemon is down (as the lab's fault toggles make them).
CTLD_DOWN = (1, "", "squeue: error: Unable to contact slurm controller (connect failure)\n")
DB_DOWN = (1, "", "sacct: error: Problem talking to the database: Connection refused\n")
NO_JOB = (1, "", "slurm_load_jobs error: Invalid job id specified\n")


class Scripted:
    """Answers each command by its program name: (exit status, stdout, stderr), or raises;
    a callable answer is asked with the whole argv."""

    description = "scripted"

    def __init__(self, answers: dict[str, Answer], delay: float = 0.0) -> None:
        self.answers = answers
        self.delay = delay
        self.calls: list[tuple[str, ...]] = []

    async def run(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float | None = None
    ) -> CommandResult:
        self.calls.append(tuple(argv))
        await asyncio.sleep(self.delay)
        answer = self.answers[argv[0]]
        result = answer(tuple(argv)) if callable(answer) else answer
        if isinstance(result, Exception):
            raise result
        status, out, err = result
        return CommandResult(tuple(argv), status, out, err)

    async def close(self) -> None:
        return None

    def count(self, program: str) -> int:
        return sum(1 for c in self.calls if c[0] == program)


class ScriptedPool(TransportPool):
    """A runtime's transports, one scripted transport per cluster account."""

    def __init__(self, by_account: dict[str, Scripted]) -> None:
        super().__init__()
        self.by_account = by_account

    def get(self, cluster: ClusterConfig, account: str, key_file: Path | None) -> Transport:
        return self.by_account[account]


def scripted_accounts() -> dict[str, Scripted]:
    """One scripted Slurm per cluster account of the lab's config, answering nothing yet."""
    return {account: Scripted({}) for account in ("alice", "bob", "hpcuser")}


async def open_runtime(state: Path, outbox: Outbox, slurm: dict[str, Scripted]) -> Runtime:
    """The bot's parts on the lab's config without the lab: every account's Slurm scripted,
    state kept in the directory `state` (open it again to restart the bot)."""
    store = open_state(state)
    return await Runtime.open(Lab.from_env().config(), store, outbox, pool=ScriptedPool(slurm))


@dataclass
class OfflineBot:
    """The bot's parts without the lab or Slack: Slurm scripted per account, every post
    recorded, state in the directory `state`."""

    rt: Runtime
    out: Recorder
    slurm: dict[str, Scripted]
    state: Path

    @classmethod
    async def open(cls, state: Path) -> Self:
        slurm, out = scripted_accounts(), Recorder()
        return cls(await open_runtime(state, out, slurm), out, slurm, state)

    async def restart(self) -> None:
        """The bot stops and starts again on the same state (and the same Slurm)."""
        await self.rt.close()
        self.rt = await open_runtime(self.state, self.out, self.slurm)


def captured(path: Path) -> Result:
    return (0, path.read_text(), "")


def queued(job_id: str, partition: str = "cpu", nodes: int = 1) -> Result:
    """`squeue` of one job just submitted (SQUEUE_FORMAT), as the lab prints it."""
    line = (
        f"{job_id}|{job_id}|N/A|PENDING|alice|{partition}|{nodes}|node1|cpu=1,node={nodes}|0:00|"
        "5:00|2026-11-28T17:23:22|N/A|None|0|ok\n"
    )
    return (0, line, "")


def sinfo(nodes: str) -> Answer:
    """`sinfo` on a cluster whose nodes are tests/data/sinfo_nodes_NODES.txt: the node list,
    and the partitions (`sinfo -h -o %R`) taken from it."""
    text = (DATA / f"sinfo_nodes_{nodes}.txt").read_text()
    partitions = "".join(f"{p}\n" for p in dict.fromkeys(ln.split("|")[1] for ln in text.split()))

    def answer(argv: tuple[str, ...]) -> Result:
        return (0, partitions if "%R" in argv else text, "")

    return answer


class Transitions:
    """Three lab jobs moving (tests/data/capture_transitions.sh): `steps` PENDING -> RUNNING
    -> COMPLETED, `crash` RUNNING -> FAILED (exit 3), the array `sweep` one task at a time."""

    STAGES = ("1_pending", "2_running", "3_done")
    folder = DATA / "transitions"

    def __init__(self) -> None:
        rows = (self.folder / "squeue_1_pending.txt").read_text().splitlines()
        # JobID|ArrayJobID|...|Name: a job's id is its array's id for the array's rows.
        self.ids = {row.rsplit("|", 1)[1]: row.split("|")[1] for row in rows}

    def _stdout(self, name: str) -> str:
        found = re.search(r"StdOut=(\S+)", (self.folder / f"scontrol_{name}.txt").read_text())
        assert found is not None
        return found.group(1)

    def answers(self, stage: str) -> dict[str, Answer]:
        """Every command a tick runs, answered as Slurm answered at that stage."""
        by_id = {self.ids[name]: name for name in ("steps", "crash")}
        outputs = {self._stdout(name): name for name in by_id.values()}

        def sacct(argv: tuple[str, ...]) -> Result:
            if "-X" in argv:  # the status of many jobs
                return captured(self.folder / f"sacct_{stage}.txt")
            job = argv[argv.index("-j") + 1]  # one finished job's usage
            return captured(self.folder / f"sacct_usage_{by_id[job]}.txt")

        def scontrol(argv: tuple[str, ...]) -> Result:
            name = by_id.get(argv[-1])
            return captured(self.folder / f"scontrol_{name}.txt") if name else NO_JOB

        def tail(argv: tuple[str, ...]) -> Result:
            return captured(self.folder / f"tail_{outputs[argv[-1]]}.txt")

        return {
            "squeue": captured(self.folder / f"squeue_{stage}.txt"),
            "sacct": sacct,
            "scontrol": scontrol,
            "tail": tail,
        }
