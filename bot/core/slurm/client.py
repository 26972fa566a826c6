"""Async Slurm operations for one cluster and account, over any Transport.

Rule: a state is only reported when Slurm said it. If the bot could not look (SSH down,
slurmctld down, accounting down) the answer is UNKNOWN with the reason and the last state
Slurm recorded, never a guessed FAILED or COMPLETED.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from bot.core.models import (
    HistoryRecord,
    JobInfo,
    JobState,
    QueueJob,
    ResourceSnapshot,
    validate_job_id,
)
from bot.core.slurm import parse
from bot.core.slurm.formats import (
    QUEUE_FORMAT,
    SACCT_HISTORY_FIELDS,
    SACCT_STATUS_FIELDS,
    SINFO_NODE_FORMAT,
    SQUEUE_FORMAT,
)
from bot.errors import SlurmError, TransportError, UsageError
from bot.transport.base import CommandResult, Transport

PARTITION_CACHE_SECONDS = 60.0
# After slurmctld failed to answer, don't ask it again for this long: each try costs Slurm's
# own retries (~10-20 s), and meanwhile every answer would be UNKNOWN anyway.
CTLD_RECHECK_SECONDS = 10.0
# `tail` reads at most this much of a job's output: one line can be gigabytes long.
TAIL_MAX_BYTES = 64 * 1024
# `submit --script PATH` reads at most this much of the user's script.
SCRIPT_MAX_BYTES = 256 * 1024


def sbatch_argv(options: Sequence[str] = ()) -> list[str]:
    """The exact sbatch command line of a submit (the script goes on stdin)."""
    return ["sbatch", "--parsable", *options]


def _array_parent(job_id: str) -> str:
    return job_id.split("_", 1)[0]


def _belongs(info: JobInfo, wanted: str) -> bool:
    """Row `info` answers the request `wanted` (a job, an array, or one array task)."""
    if info.job_id == wanted:
        return True
    if _array_parent(info.job_id) != _array_parent(wanted) or "_" not in info.job_id:
        return False
    if "_" not in wanted:
        return True  # the whole array
    # One task of an array whose row is still a pending range like `12_[2-999%4]`.
    task, spec = wanted.split("_", 1)[1], info.job_id.split("_", 1)[1]
    return spec.startswith("[") and parse.array_spec_contains(spec, int(task))


def summarize_array(wanted: str, rows: list[JobInfo]) -> JobInfo:
    """One JobInfo for an array: the most telling state, plus a per-state task tally."""
    tally: Counter[str] = Counter()
    for r in rows:
        tally.update(r.tasks or {r.state.value: 1})
    states = {JobState(s) for s in tally}
    state: JobState
    for s in (JobState.RUNNING, JobState.COMPLETING, JobState.PENDING):
        if s in states:
            state = s
            break
    else:
        failed = [s for s in states if s.is_terminal and s != JobState.COMPLETED]
        state = failed[0] if failed else rows[0].state
    first = rows[0]
    return first.model_copy(
        update={"job_id": wanted, "state": state, "tasks": dict(tally), "exit_code": None}
    )


@dataclass(frozen=True)
class Output:
    """The last lines of a job's output file."""

    path: str
    text: str
    cut_to: int | None = None  # the lines were longer: only their last this many bytes


def last_lines(chunk: str, lines: int, *, cut: bool) -> Output:
    """The last `lines` lines of `chunk` (the end of a file, `cut` if the file was longer),
    counted as `tail -n` does: a line ends at `\n` only, and the last may lack one."""
    end = len(chunk) - 1 if chunk.endswith("\n") else len(chunk)
    for _ in range(lines):
        end = chunk.rfind("\n", 0, end)
        if end < 0:
            break
    else:
        return Output("", chunk[end + 1 :])  # whole lines: what came before does not matter
    if not cut:
        return Output("", chunk)
    # The first line is a fragment: keep the cap's worth, without a half character at its start.
    kept = chunk.encode()[-TAIL_MAX_BYTES:].decode(errors="ignore").lstrip("\ufffd")
    return Output("", kept, cut_to=TAIL_MAX_BYTES)


@dataclass(frozen=True)
class Survey:
    jobs: list[JobInfo]  # what squeue listed (all of a user's jobs, for `survey(user, ...)`)
    status: dict[str, JobInfo]  # one answer per asked id
    problem: str | None = None  # why some answers may be UNKNOWN


def _rows_for(wanted: str, rows: list[JobInfo]) -> list[JobInfo]:
    mine = [r for r in rows if _belongs(r, wanted)]
    if any("_" in r.job_id for r in mine) and "_" not in wanted:
        # An array: its tasks speak for it; a bare `ID` row there is an accounting artefact.
        mine = [r for r in mine if r.job_id != wanted]
    return mine


def _merge(acct: list[JobInfo], live: list[JobInfo]) -> list[JobInfo]:
    """Per task: squeue's state (and exit code) is fresher; sacct fills in what squeue lacks.
    An array's pending range (`12_[2-3%1]`) from accounting is stale once squeue lists the
    array: squeue shows what is still pending itself, so the tasks are not counted twice."""
    listed = {_array_parent(r.job_id) for r in live if "_" in r.job_id}
    merged = {
        r.job_id: r for r in acct if not ("_[" in r.job_id and _array_parent(r.job_id) in listed)
    }
    for r in live:
        old = merged.get(r.job_id)
        if old is not None and old.state.is_terminal and r.state.is_terminal:
            # The controller's exit code and name win: accounting can lag or disagree for a
            # moment (right after the end it may call the job `allocation`).
            merged[r.job_id] = old.model_copy(
                update={
                    "state": r.state,
                    "exit_code": r.exit_code or old.exit_code,
                    "name": r.name or old.name,
                }
            )
        else:
            merged[r.job_id] = r
    return list(merged.values())


def _combine(wanted: str, rows: list[JobInfo]) -> JobInfo:
    if "_" in wanted:  # one task: its own row, or the pending range it is part of
        exact = [r for r in rows if r.job_id == wanted]
        return (exact or rows)[0].model_copy(update={"job_id": wanted, "tasks": {}})
    return rows[0] if len(rows) == 1 and rows[0].job_id == wanted else summarize_array(wanted, rows)


class SlurmClient:
    def __init__(self, transport: Transport, cluster: str) -> None:
        self.transport = transport
        self.cluster = cluster
        self._partitions: tuple[float, list[str]] | None = None
        self._inflight: dict[tuple[str, ...], asyncio.Task[Survey]] = {}
        self._ctld_down: tuple[float, str] | None = None  # (until, why)

    async def _run(self, *argv: str, stdin: str | None = None) -> CommandResult:
        return await self.transport.run(argv, stdin=stdin)

    async def _checked(self, *argv: str, stdin: str | None = None) -> str:
        res = await self._run(*argv, stdin=stdin)
        if not res.ok:
            raise SlurmError(f"`{argv[0]}` failed on {self.cluster}: {res.error_text()}")
        return res.stdout

    # ------------------------------------------------------------------ partitions
    async def partitions(self) -> list[str]:
        now = time.monotonic()
        if self._partitions and now - self._partitions[0] < PARTITION_CACHE_SECONDS:
            return self._partitions[1]
        out = await self._checked("sinfo", "-h", "-o", "%R")
        names = sorted({ln.strip() for ln in out.splitlines() if ln.strip()})
        self._partitions = (now, names)
        return names

    async def ping(self) -> list[str]:
        """Ask Slurm now (no cache): does the cluster answer? Returns its partitions."""
        self._partitions = None
        return await self.partitions()

    async def check_partition(self, partition: str) -> None:
        names = await self.partitions()
        if partition not in names:
            raise UsageError(
                f"unknown partition `{partition}` on {self.cluster}; partitions: {', '.join(names)}"
            )

    # ------------------------------------------------------------------ submit
    async def submit(self, script: str, options: Sequence[str] = ()) -> str:
        """sbatch with the script on stdin (no file on a shared disk); returns the job id.
        `options` (`--partition=gpu`, one argv element each) override the script's `#SBATCH`
        lines: sbatch lets its command line win."""
        res = await self._run(*sbatch_argv(options), stdin=script)
        if not res.ok:
            raise SlurmError(f"sbatch refused the job on {self.cluster}: {res.error_text()}")
        job_id = res.stdout.strip().splitlines()[-1].split(";", 1)[0] if res.stdout.strip() else ""
        if not job_id.isdigit():
            raise SlurmError(f"sbatch on {self.cluster} gave no job id: {res.stdout.strip()!r}")
        return job_id

    async def read_script(self, path: str, what: str = "script") -> str:
        """A script (or a workflow's YAML: `what`) on the cluster, read (never run) as this
        account, at most SCRIPT_MAX_BYTES."""
        cap = str(SCRIPT_MAX_BYTES + 1)
        if path.startswith("~/"):
            # From the account's home whatever the transport's working directory; the path is
            # a positional parameter, never part of the shell's code.
            path = path[2:]
            argv = ["sh", "-c", 'cd && exec head -c "$1" -- "$2"', "sh", cap, path]
        else:
            argv = ["head", "-c", cap, "--", path]
        res = await self._run(*argv)
        if not res.ok:
            raise UsageError(f"cannot read the {what} {path} on {self.cluster}: {res.error_text()}")
        if len(res.stdout.encode()) > SCRIPT_MAX_BYTES:
            raise UsageError(f"the {what} is larger than {SCRIPT_MAX_BYTES // 1024} KiB")
        if not res.stdout.strip():
            raise UsageError(f"the {what} {path} on {self.cluster} is empty")
        return res.stdout

    # ------------------------------------------------------------------ status
    async def status(self, job_ids: Iterable[str]) -> dict[str, JobInfo]:
        """States of many jobs in at most two commands: one squeue, one sacct."""
        return (await self.survey(None, job_ids)).status

    async def survey(self, user: str | None, job_ids: Iterable[str]) -> Survey:
        """With `user`: every job Slurm's controller has for that user, plus the states of
        `job_ids`, still in at most two commands (`squeue -u`, `sacct`). Identical queries
        asked while one is running share its answer instead of queueing again."""
        wanted = tuple(dict.fromkeys(validate_job_id(j) for j in job_ids))
        if not wanted and user is None:
            return Survey(jobs=[], status={})
        key = (user or "", *wanted)
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._survey(user, list(wanted)))
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def _survey(self, user: str | None, wanted: list[str]) -> Survey:
        problems: list[str] = []
        try:
            live, ctld_error = await self._squeue(
                ["-u", user] if user else ["-j", ",".join(wanted)]
            )
        except TransportError as e:
            unknown = {j: JobInfo(job_id=j, state=JobState.UNKNOWN, reason=str(e)) for j in wanted}
            return Survey(jobs=[], status=unknown, problem=str(e))
        if ctld_error:
            problems.append(f"slurmctld: {ctld_error}")

        # Jobs squeue shows as still active need nothing more; the rest need accounting.
        settled = {
            j
            for j in wanted
            if (rows := _rows_for(j, live)) and all(r.state.is_active for r in rows)
        }
        acct: list[JobInfo] = []
        rest = [j for j in wanted if j not in settled]
        if rest:
            try:
                acct, acct_error = await self._sacct(rest)
                if acct_error:
                    problems.append(f"accounting: {acct_error}")
            except TransportError as e:
                problems.append(str(e))

        merged = _merge(acct, live)
        status = {j: await self._resolve(j, _rows_for(j, merged), problems) for j in wanted}
        return Survey(jobs=live, status=status, problem="; ".join(problems) or None)

    async def _squeue(self, selector: list[str]) -> tuple[list[JobInfo], str | None]:
        if self._ctld_down and time.monotonic() < self._ctld_down[0]:
            return [], self._ctld_down[1]
        res = await self._run("squeue", "-h", "--states=all", *selector, "-O", SQUEUE_FORMAT)
        if res.ok or "Invalid job id" in res.stderr:  # none known to slurmctld: an answer
            self._ctld_down = None
            return (parse.parse_squeue(res.stdout) if res.ok else []), None
        self._ctld_down = (time.monotonic() + CTLD_RECHECK_SECONDS, res.error_text())
        return [], res.error_text()

    async def _sacct(self, ids: list[str]) -> tuple[list[JobInfo], str | None]:
        res = await self._run(
            "sacct", "-X", "-P", "-n", "-j", ",".join(ids), "-o", ",".join(SACCT_STATUS_FIELDS)
        )
        return (parse.parse_sacct_status(res.stdout), None) if res.ok else ([], res.error_text())

    async def _resolve(self, j: str, rows: list[JobInfo], problems: list[str]) -> JobInfo:
        if not rows:
            if problems:
                return JobInfo(job_id=j, state=JobState.UNKNOWN, reason="; ".join(problems))
            return JobInfo(
                job_id=j,
                state=JobState.NOT_FOUND,
                reason=f"Slurm on {self.cluster} has no record of this job",
            )
        info = _combine(j, rows)
        if info.state.is_active and any(p.startswith("slurmctld") for p in problems):
            # Only accounting answered: its "still running" may be stale, so say so.
            return info.model_copy(
                update={
                    "state": JobState.UNKNOWN,
                    "last_known": info.state,
                    "reason": "; ".join(problems),
                }
            )
        if info.state.is_terminal and info.exit_code is None and not info.tasks:
            # Ended, but accounting lags or is down: scontrol still has the exit code a while.
            detail = await self._scontrol(j)
            if detail is not None and detail.state.is_terminal:
                return info.model_copy(update={"exit_code": detail.exit_code})
        return info

    async def _scontrol(self, job_id: str) -> JobInfo | None:
        try:
            res = await self._run("scontrol", "show", "job", "-o", job_id)
        except TransportError:
            return None
        if not res.ok:
            return None
        fields = parse.parse_scontrol_job(res.stdout)
        return parse.scontrol_job_info(fields) if fields else None

    async def job(self, job_id: str) -> JobInfo:
        return (await self.status([job_id]))[job_id]

    # ------------------------------------------------------------------ list / cancel
    async def list_jobs(self, user: str | None) -> list[JobInfo]:
        argv = ["squeue", "-h", "-O", SQUEUE_FORMAT]
        argv += ["-u", user] if user else []
        return parse.parse_squeue(await self._checked(*argv))

    async def cancel(self, job_id: str) -> JobInfo:
        """scancel, then confirm: scancel exits 0 for unknown ids on some Slurm versions."""
        before = await self.job(job_id)
        if before.state == JobState.NOT_FOUND:
            raise UsageError(f"no job {job_id} on {self.cluster}")
        if before.state == JobState.UNKNOWN:
            raise SlurmError(f"cannot cancel job {job_id} now: {before.reason}")
        if before.state.is_terminal:
            raise UsageError(f"job {job_id} already ended ({before.state.value})")
        res = await self._run("scancel", job_id)
        if not res.ok:
            if "permission denied" in res.stderr.lower():
                raise UsageError(
                    f"job {job_id} belongs to {before.user or 'another user'}; "
                    "you can only cancel your own jobs"
                )
            raise SlurmError(f"scancel failed on {self.cluster}: {res.error_text()}")
        return await self.job(job_id)

    async def cancel_many(self, job_ids: Sequence[str]) -> None:
        """One `scancel` for many jobs (a workflow run's): ids Slurm no longer knows are
        not an error, the jobs are gone either way."""
        ids = [validate_job_id(j) for j in job_ids]
        if not ids:
            return
        res = await self._run("scancel", *ids)
        if not res.ok and "invalid job id" not in res.stderr.lower():
            raise SlurmError(f"scancel failed on {self.cluster}: {res.error_text()}")

    async def set_dependency(self, job_id: str, dependency: str) -> None:
        """Point a pending job at new parents (a retried workflow job's new id)."""
        res = await self._run(
            "scontrol", "update", f"JobId={validate_job_id(job_id)}", f"Dependency={dependency}"
        )
        if not res.ok:
            raise SlurmError(
                f"cannot change job {job_id}'s dependency on {self.cluster}: {res.error_text()}"
            )

    async def jobs_commented(self, user: str, comment: str) -> dict[str, str]:
        """The user's jobs Slurm still has whose comment is `comment`: name -> job id (how a
        restarted bot finds the jobs of a run it was submitting when it died)."""
        out = await self._checked("squeue", "-h", "--states=all", "-u", user, "-o", "%i|%j|%k")
        found: dict[str, str] = {}
        for line in out.splitlines():
            job_id, _, rest = line.partition("|")
            name, _, note = rest.rpartition("|")
            if note == comment and job_id.isdigit():
                found[name] = job_id
        return found

    # ------------------------------------------------------------------ output
    async def output_path(self, job_id: str) -> str:
        res = await self._run("scontrol", "show", "job", "-o", job_id)
        fields = parse.parse_scontrol_job(res.stdout) if res.ok else {}
        path = fields.get("StdOut", "")
        if not path:
            if "Invalid job id" in res.stderr:
                raise UsageError(
                    f"Slurm on {self.cluster} no longer has the output path of job {job_id} "
                    "(it ended a while ago); look in the job's working directory"
                )
            raise SlurmError(f"cannot read job {job_id} from {self.cluster}: {res.error_text()}")
        return path

    async def tail(self, job_id: str, lines: int) -> Output:
        """Never more than TAIL_MAX_BYTES from the cluster: one byte over says it was cut."""
        path = await self.output_path(job_id)
        res = await self._run("tail", "-c", str(TAIL_MAX_BYTES + 1), "--", path)
        if not res.ok:
            raise SlurmError(f"cannot read {path}: {res.error_text()}")
        # A transport decodes bytes it cannot read as U+FFFD (3 bytes): never fewer bytes.
        cut = len(res.stdout.encode()) > TAIL_MAX_BYTES
        return replace(last_lines(res.stdout, lines, cut=cut), path=path)

    # ------------------------------------------------------------------ resources / history
    async def resources(self, partition: str | None = None) -> ResourceSnapshot:
        argv = ["sinfo", "-h", "-N", "-O", SINFO_NODE_FORMAT]
        if partition:
            await self.check_partition(partition)
            argv += ["-p", partition]
        nodes = parse.parse_sinfo_nodes(await self._checked(*argv))
        return ResourceSnapshot(cluster=self.cluster, partitions=parse.summarize_partitions(nodes))

    async def queue(self, partition: str | None = None) -> list[QueueJob]:
        """Every user's pending and running jobs (what a cluster report counts)."""
        argv = ["squeue", "-h", "-t", "PENDING,RUNNING,COMPLETING,CONFIGURING"]
        argv += ["-p", partition] if partition else []
        return parse.parse_queue(await self._checked(*argv, "-O", QUEUE_FORMAT))

    async def usage(self, job_id: str) -> HistoryRecord | None:
        """Accounting of one finished job (exit code, elapsed, CPU time, max memory)."""
        out = await self._checked(
            "sacct", "-P", "-n", "-j", validate_job_id(job_id), "-o", ",".join(SACCT_HISTORY_FIELDS)
        )
        return next((r for r in parse.parse_sacct_history(out) if r.job_id == job_id), None)

    async def history(self, user: str, since: str) -> list[HistoryRecord]:
        out = await self._checked(
            "sacct", "-P", "-n", "-u", user, "-S", since, "-o", ",".join(SACCT_HISTORY_FIELDS)
        )
        return parse.parse_sacct_history(out)
