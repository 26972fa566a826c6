"""The words of a job thread: state changes, the time-limit warning and the final summary
(what users of goslmailer / slurm-mail value: exit code, elapsed, CPU efficiency, memory
against the request, GPUs, the last lines of output, and a hint when something ran out)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from bot.core.models import HistoryRecord, JobInfo, JobState, duration_seconds

if TYPE_CHECKING:  # the client (and asyncio) is not needed to word a reply
    from bot.core.slurm.client import Output

LOW_CPU_EFFICIENCY = 0.10


def _when(text: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(text) if text else None
    except ValueError:
        return None


def human_seconds(secs: float) -> str:
    secs = int(secs)
    if secs < 60:
        return f"{secs} s"
    if secs < 3600:
        return f"{secs // 60} min {secs % 60} s" if secs % 60 else f"{secs // 60} min"
    return f"{secs // 3600} h {secs % 3600 // 60} min"


def human_bytes(n: int) -> str:
    if n < 1024:
        return f"{n} bytes"
    return f"{n / 1024:.3g} KiB" if n < 1024**2 else f"{n / 1024**2:.3g} MiB"


def cut_note(cut_to: int) -> str:
    return f"cut to the last {human_bytes(cut_to)}"


def transition_text(info: JobInfo) -> str:
    """One line for a non-final state change."""
    if info.tasks:
        return f"{info.state.value} (array tasks: {info.tally})"
    match info.state:
        case JobState.PENDING:
            return "PENDING" + (f": waiting for {info.reason}" if info.reason else "")
        case JobState.RUNNING:
            where = f" on {info.nodelist}" if info.nodelist else ""
            start, submit = _when(info.start_time), _when(info.submit_time)
            waited = (
                f" after {human_seconds((start - submit).total_seconds())} in queue"
                if (start and submit)
                else ""
            )
            return f"RUNNING{where}{waited}"
    return info.state.value


def time_warning_text(info: JobInfo, left: int) -> str:
    return (
        f"about {human_seconds(left)} left before the time limit ({info.time_limit}); "
        "Slurm stops the job then"
    )


def _cpus(tres: str) -> int:
    for item in tres.split(","):
        key, _, val = item.partition("=")
        if key == "cpu" and val.isdigit():
            return int(val)
    return 1


def final_summary(info: JobInfo, usage: HistoryRecord | None, tail: Output | None) -> str:
    lines = [f"*{info.state.value}*" + (f", exit code {info.exit_code}" if info.exit_code else "")]
    if info.tasks:
        lines.append(f"array tasks: {info.tally}")
    hints = []
    if usage is not None:
        elapsed = duration_seconds(usage.elapsed) or 0
        cpu = duration_seconds(usage.total_cpu)
        facts = [f"elapsed {usage.elapsed}"]
        if cpu is not None and elapsed >= 60:  # shorter: accounting samples too coarsely
            eff = cpu / (elapsed * _cpus(usage.alloc_tres))
            facts.append(f"CPU efficiency {eff:.0%}")
            if eff < LOW_CPU_EFFICIENCY:
                hints.append(f"it used {eff:.0%} of the CPUs it asked for: ask for fewer (-c)")
        if usage.max_rss:
            facts.append(
                f"max memory {usage.max_rss}"
                + (f" of {usage.req_mem} requested" if usage.req_mem else "")
            )
        if usage.gpus:
            facts.append(f"{usage.gpus} GPU{'s' if usage.gpus > 1 else ''}")
        lines.append(" · ".join(facts))
    if info.state == JobState.OUT_OF_MEMORY:
        req = f" ({usage.req_mem} requested)" if usage and usage.req_mem else ""
        hints.append(f"it ran out of memory{req}: ask for more with --mem")
    if info.state == JobState.TIMEOUT:
        hints.append(
            f"it hit its time limit ({info.time_limit or 'the limit'}): ask for more with --time"
        )
    lines += [f"hint: {h}" for h in hints]
    if tail and tail.text.strip():
        body = tail.text.rstrip("\n")[-1500:].replace("```", "'''")  # keep the fence whole
        cut = f" ({cut_note(tail.cut_to)})" if tail.cut_to else ""
        lines.append(f"last lines of output{cut}:\n```" + body + "```")
    return "\n".join(lines)
