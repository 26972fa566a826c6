"""Pure parsers of Slurm's delimited outputs (see formats.py). No I/O here."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence

from bot.core.models import (
    HistoryRecord,
    JobInfo,
    JobState,
    NodeResources,
    PartitionResources,
    QueueJob,
    QueueSummary,
)
from bot.core.slurm.formats import (
    QUEUE_FIELDS,
    SACCT_HISTORY_FIELDS,
    SACCT_STATUS_FIELDS,
    SEP,
    SINFO_NODE_FIELDS,
    SQUEUE_FIELDS,
)

_NONE = {"", "N/A", "(null)", "None", "None assigned", "Unknown"}


def _opt(value: str) -> str | None:
    return None if value in _NONE else value


def _rows(text: str, fields: Sequence[str]) -> Iterable[dict[str, str]]:
    """Split each line into the fields; the last field keeps any separators it contains."""
    n = len(fields)
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(SEP, n - 1)
        if len(parts) < n:
            continue  # a stray stderr line or a truncated row: not ours to guess at
        yield dict(zip(fields, (p.strip() for p in parts), strict=True))


def gres_gpu_count(text: str | None) -> int:
    """GPUs in a GRES string: `gpu:4`, `gpu:a100:2(IDX:0-1)`, `gres:gpu:2`, `(null)` -> 0."""
    if not text:
        return 0
    total = 0
    for item in re.split(r",(?![^(]*\))", text):
        item = re.sub(r"\(.*?\)", "", item.strip())
        parts = item.split(":")
        if parts and parts[0] == "gres":
            parts = parts[1:]
        if len(parts) >= 2 and parts[0] == "gpu" and parts[-1].isdigit():
            total += int(parts[-1])
    return total


def tres_gpu_count(tres: str | None) -> int | None:
    """GPUs in a TRES list (`cpu=1,gres/gpu=2,...`); typed entries only when untyped is absent."""
    if not tres:
        return None
    untyped = 0
    typed = 0
    seen = False
    for item in tres.split(","):
        key, _, val = item.partition("=")
        if key == "gres/gpu" and val.isdigit():
            untyped, seen = int(val), True
        elif key.startswith("gres/gpu:") and val.isdigit():
            typed += int(val)
    return untyped if seen else typed


def _array_ranges(spec: str) -> list[tuple[int, int]]:
    """`[1,3,5-9]%2` -> [(1, 1), (3, 3), (5, 9)]."""
    ranges = []
    for part in spec.strip("[]").split("%", 1)[0].strip("[]").split(","):
        lo, _, hi = part.partition("-")
        if lo.isdigit():
            ranges.append((int(lo), int(hi) if hi.isdigit() else int(lo)))
    return ranges


def array_task_count(spec: str) -> int:
    """Tasks in a pending array spec like `2-4%2` or `[1,3,5-9]`."""
    return max(sum(hi - lo + 1 for lo, hi in _array_ranges(spec)), 1)


def array_spec_contains(spec: str, task: int) -> bool:
    return any(lo <= task <= hi for lo, hi in _array_ranges(spec))


def wait_status_exit_code(raw: str) -> str | None:
    """squeue's exit_code is a raw wait status (768) -> Slurm's `exit:signal` form (3:0)."""
    if not raw.isdigit():
        return None
    status = int(raw)
    return f"{status >> 8}:{status & 0x7F}"


def parse_squeue(text: str) -> list[JobInfo]:
    jobs = []
    for r in _rows(text, SQUEUE_FIELDS):
        task = r["ArrayTaskID"]
        job_id = r["JobID"] if task in _NONE else f"{r['ArrayJobID']}_{task}"
        info = JobInfo(
            job_id=job_id,
            state=JobState.from_slurm(r["State"]),
            name=r["Name"],
            user=r["UserName"],
            partition=r["Partition"],
            nodes=int(r["NumNodes"]) if r["NumNodes"].isdigit() else None,
            nodelist=_opt(r["NodeList"]) or "",
            gpus=tres_gpu_count(r["tres-alloc"]),
            elapsed=r["TimeUsed"],
            time_limit=r["TimeLimit"],
            submit_time=_opt(r["SubmitTime"]),
            start_time=_opt(r["StartTime"]) if r["State"] != "PENDING" else None,
            reason=_opt(r["Reason"]) or "",
            source="squeue",
        )
        if info.state.is_terminal:
            info.exit_code = wait_status_exit_code(r["exit_code"])
        if task not in _NONE and not task.isdigit():  # pending array remainder `2-4%2`
            info.job_id = f"{r['ArrayJobID']}_[{task}]"
            info.tasks = {info.state.value: array_task_count(task)}
        jobs.append(info)
    return jobs


def parse_queue(text: str) -> list[QueueJob]:
    rows = []
    for r in _rows(text, QUEUE_FIELDS):
        task = r["ArrayTaskID"]
        ranged = task not in _NONE and not task.isdigit()  # a pending remainder `2-9%2`
        job_id = r["JobID"] if task in _NONE else f"{r['ArrayJobID']}_{task}"
        state = JobState.from_slurm(r["State"])
        waited = r["PendingTime"]
        rows.append(
            QueueJob(
                job_id=f"{r['ArrayJobID']}_[{task}]" if ranged else job_id,
                state=state,
                user=r["UserName"],
                partition=r["Partition"],
                name=r["Name"],
                nodes=int(r["NumNodes"]) if r["NumNodes"].isdigit() else None,
                gpus=tres_gpu_count(r["tres-alloc"]) or 0,
                elapsed=r["TimeUsed"],
                pending_seconds=int(waited)
                if state == JobState.PENDING and waited.isdigit()
                else None,
                reason=_opt(r["Reason"]) or "",
                count=array_task_count(task) if ranged else 1,
            )
        )
    return rows


def summarize_queue(jobs: Sequence[QueueJob]) -> QueueSummary:
    running = sum(j.count for j in jobs if j.state in (JobState.RUNNING, JobState.COMPLETING))
    pending = [j for j in jobs if j.state == JobState.PENDING]
    longest = max(pending, key=lambda j: j.pending_seconds or 0, default=None)
    return QueueSummary(
        running=running,
        pending=sum(j.count for j in pending),
        longest_pending_seconds=longest.pending_seconds if longest else None,
        longest_pending_job=longest.job_id if longest else None,
    )


def parse_sacct_status(text: str) -> list[JobInfo]:
    jobs = []
    for r in _rows(text, SACCT_STATUS_FIELDS):
        state = JobState.from_slurm(r["State"])
        info = JobInfo(
            job_id=r["JobID"],
            state=state,
            name=r["JobName"],
            user=r["User"],
            partition=r["Partition"],
            nodes=int(r["NNodes"]) if r["NNodes"].isdigit() else None,
            nodelist=_opt(r["NodeList"]) or "",
            gpus=tres_gpu_count(r["AllocTRES"]),
            elapsed=r["Elapsed"],
            time_limit=r["Timelimit"],
            submit_time=_opt(r["Submit"]),
            start_time=_opt(r["Start"]),
            end_time=_opt(r["End"]),
            exit_code=r["ExitCode"] if state.is_terminal else None,
            reason=_opt(r["Reason"]) or "",
            source="sacct",
        )
        if "_[" in info.job_id:
            info.tasks = {state.value: array_task_count(info.job_id.split("_", 1)[1])}
        jobs.append(info)
    return jobs


def parse_scontrol_job(text: str) -> dict[str, str]:
    """`scontrol show job -o ID` (one line of Key=Value) -> dict. Values may hold spaces."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    fields: dict[str, str] = {}
    for m in re.finditer(r"(?:^|\s)([A-Za-z/:_]+)=(.*?)(?=\s[A-Za-z/:_]+=|\s*$)", line):
        fields[m.group(1)] = m.group(2)
    return fields


def scontrol_job_info(fields: dict[str, str]) -> JobInfo:
    state = JobState.from_slurm(fields.get("JobState", ""))
    task = fields.get("ArrayTaskId")
    job_id = f"{fields['ArrayJobId']}_{task}" if task and "ArrayJobId" in fields else ""
    return JobInfo(
        job_id=job_id or fields.get("JobId", ""),
        state=state,
        name=fields.get("JobName", ""),
        user=fields.get("UserId", "").split("(", 1)[0],
        partition=fields.get("Partition", ""),
        nodelist=_opt(fields.get("NodeList", "")) or "",
        gpus=tres_gpu_count(fields.get("TRES")),
        elapsed=fields.get("RunTime", ""),
        time_limit=fields.get("TimeLimit", ""),
        exit_code=fields.get("ExitCode") if state.is_terminal else None,
        reason=_opt(fields.get("Reason", "")) or "",
        source="scontrol",
    )


def parse_sacct_history(text: str) -> list[HistoryRecord]:
    """Allocation lines with MaxRSS taken as the max over their steps (`ID.batch`, `ID.0`)."""
    records: dict[str, HistoryRecord] = {}
    rss: dict[str, int] = defaultdict(int)
    for r in _rows(text, SACCT_HISTORY_FIELDS):
        jid, _, step = r["JobID"].partition(".")
        if step:
            rss[jid] = max(rss[jid], _bytes(r["MaxRSS"]))
            continue
        records[jid] = HistoryRecord(
            job_id=jid,
            name=r["JobName"],
            state=JobState.from_slurm(r["State"]),
            exit_code=r["ExitCode"],
            partition=r["Partition"],
            elapsed=r["Elapsed"],
            time_limit=r["Timelimit"],
            start_time=_opt(r["Start"]),
            end_time=_opt(r["End"]),
            total_cpu=r["TotalCPU"],
            max_rss="",
            alloc_tres=r["AllocTRES"],
            req_mem=r["ReqMem"],
            gpus=tres_gpu_count(r["AllocTRES"]),
        )
    for jid, rec in records.items():
        if rss.get(jid):
            rec.max_rss = human_bytes(rss[jid])
    return list(records.values())


_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4, "P": 1024**5}


def _bytes(text: str) -> int:
    m = re.match(r"^([\d.]+)([KMGTP]?)", text.strip())
    return int(float(m.group(1)) * _UNITS[m.group(2)]) if m else 0


def human_bytes(n: int) -> str:
    for unit in ("B", "K", "M", "G", "T"):
        if n < 1024 or unit == "T":
            return f"{n:.0f}{unit}" if unit in ("B", "K") else f"{n:.1f}{unit}"
        n = n / 1024  # type: ignore[assignment]
    return f"{n}B"


# ---------------------------------------------------------------- nodes and GPUs
_UNAVAILABLE_FLAGS = {
    "down",
    "drain",
    "drained",
    "draining",
    "fail",
    "failing",
    "maint",
    "reserved",
    "not_responding",
    "no_respond",
    "power_down",
    "powered_down",
    "powering_down",
    "reboot",
    "reboot_requested",
    "reboot_issued",
    "future",
    "unknown",
    "inval",
    "planned",
}
_DRAIN_FLAGS = {"drain", "drained", "draining"}
_DOWN_FLAGS = {"down", "fail", "failing", "not_responding", "no_respond", "unknown", "inval"}


def _node_flags(state: str) -> set[str]:
    flags = {f for f in re.split(r"[+]", state.lower().rstrip("*~#!%$@^-")) if f}
    if state.endswith("*"):
        flags.add("not_responding")
    return flags


def parse_sinfo_nodes(text: str) -> list[NodeResources]:
    nodes = []
    for r in _rows(text, SINFO_NODE_FIELDS):
        flags = _node_flags(r["StateComplete"])
        nodes.append(
            NodeResources(
                node=r["NodeList"],
                partition=r["PartitionName"],
                state=r["StateComplete"].lower(),
                gpus_total=gres_gpu_count(r["Gres"]),
                gpus_used=gres_gpu_count(r["GresUsed"]),
                available=not (flags & _UNAVAILABLE_FLAGS),
            )
        )
    return nodes


def _node_bucket(state: str) -> str:
    flags = _node_flags(state)
    if flags & _DRAIN_FLAGS:
        return "drain"
    if flags & _DOWN_FLAGS:
        return "down"
    if flags & {"mixed"}:
        return "mixed"
    if flags & {"allocated", "completing"}:
        return "alloc"
    return "idle" if "idle" in flags else "down"


def summarize_partitions(nodes: Sequence[NodeResources]) -> list[PartitionResources]:
    """Per-partition GPU totals; unavailable nodes' idle GPUs are never counted free."""
    by_part: dict[str, list[NodeResources]] = defaultdict(list)
    for n in nodes:
        by_part[n.partition].append(n)
    out = []
    for part, members in by_part.items():
        buckets = Counter(_node_bucket(n.state) for n in members)
        total = sum(n.gpus_total for n in members)
        used = sum(n.gpus_used for n in members)
        free = sum(max(0, n.gpus_total - n.gpus_used) for n in members if n.available)
        out.append(
            PartitionResources(
                partition=part,
                gpus_total=total,
                gpus_used=used,
                gpus_free=free,
                gpus_unavailable=total - used - free,
                nodes_idle=buckets["idle"],
                nodes_mixed=buckets["mixed"],
                nodes_alloc=buckets["alloc"],
                nodes_down=buckets["down"],
                nodes_drain=buckets["drain"],
                nodes=sorted(members, key=lambda n: n.node),
            )
        )
    return out
