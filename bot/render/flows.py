"""A workflow run's parent message, however it is drawn: a title (run, cluster, account,
outcome), a table of every job (per sweep cell) and a footer with the totals. The console
prints it whole. In Slack it stays within one message's limits: a big run lists the jobs
that need looking at first, then "… and N more jobs", and the footer's tally counts them all.

A job that will never run says why, never just "pending": Slurm keeps a dependant whose
parent failed PENDING with reason DependencyNeverSatisfied."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from bot.core.flowruns import FlowCell, FlowRun, FlowStep
from bot.core.flowstatus import step_status, tally
from bot.core.jobtext import human_seconds
from bot.core.models import JobState
from bot.render.buttons import run_buttons
from bot.render.columns import table
from bot.render.kit import SECTION_CHARS, Block, context, section
from bot.render.mrkdwn import code, escape

MAX_ROWS = 40  # jobs listed in Slack
TABLE_CHARS = 8000  # the table's share of a message (Slack refuses blocks over ~13,000)
# A Slack table's widest cells: one long name must not widen every row.
_CELL_CHARS = 32
_STATE_CHARS = 48

OUTCOME_EMOJI = {
    "running": ":arrows_counterclockwise:",
    "completed": ":white_check_mark:",
    "failed": ":x:",
    "cancelled": ":no_entry_sign:",
    "ended": ":white_circle:",
}


def is_sweep(run: FlowRun) -> bool:
    return len(run.cells) > 1


def cell_label(cell: FlowCell) -> str:
    """`2 lr=0.1 bs=32`: the cell's index and its args."""
    return " ".join([str(cell.index), *(f"{k}={v}" for k, v in cell.args.items())])


def _job_id(step: FlowStep) -> str:
    if not step.job_id:
        return "-"
    return step.job_id + (f" (attempt {step.attempts})" if step.attempts > 1 else "")


def _cut(text: str, width: int | None) -> str:
    return text if width is None or len(text) <= width else text[: width - 1] + "…"


Row = tuple[list[str], str]  # the cells shown, and the job's tally key


def _rows(run: FlowRun, narrow: bool) -> tuple[list[str], list[Row]]:
    sweep = is_sweep(run)
    headers = [*(["CELL"] if sweep else []), "JOB", "ID", "STATE", "ELAPSED"]
    rows: list[Row] = []
    for cell, step in run.steps():
        status = step_status(run, cell, step)
        width, state_width = (_CELL_CHARS, _STATE_CHARS) if narrow else (None, None)
        row = [
            *([_cut(cell_label(cell), width)] if sweep else []),
            _cut(step.name, width),
            _job_id(step),
            _cut(status.text, state_width),
            step.elapsed or "-",
        ]
        rows.append((row, status.key))
    return headers, rows


def tally_text(counts: Mapping[str, int]) -> str:
    """`2 COMPLETED, 1 RUNNING`."""
    return ", ".join(f"{n} {key}" for key, n in counts.items() if n) or "no jobs"


def outcome(run: FlowRun) -> str:
    return run.outcome or ("running" if run.active else "ended")


def run_title(run: FlowRun) -> str:
    return f"workflow {run.name} on {run.cluster} as {run.account}: {outcome(run)}"


def jobs_text(n: int) -> str:
    return f"{n} job{'s' if n != 1 else ''}"


def run_footer(run: FlowRun, now: float | None = None) -> str:
    jobs = jobs_text(len(run.steps()))
    if is_sweep(run):
        jobs += f" in {len(run.cells)} cells (at most {run.max_parallel} at once)"
    parts = [f"{jobs}: {tally_text(tally(run))}"]
    if run.ended is not None:
        parts.append(f"{human_seconds(run.ended - run.created)} in all")
    elif run.active:
        parts.append(f"{human_seconds((now or time.time()) - run.created)} so far")
    parts.append(f"run {run.id} from {run.source}")
    return " · ".join(parts)


def run_text(run: FlowRun) -> str:
    """The console's form: every job."""
    headers, rows = _rows(run, narrow=False)
    lines = [run_title(run), table(headers, [row for row, _ in rows]), run_footer(run)]
    if run.active:
        lines.append(f"  follow it: `flow status {run.id}` · stop it: `flow cancel {run.id}`")
    return "\n".join(lines)


def _pick(rows: Sequence[Row], limit: int) -> list[int]:
    """The indices of at most `limit` rows, in the table's order, those not COMPLETED first:
    on a big run they are the ones to look at (the tally counts the rest)."""
    if len(rows) <= limit:
        return list(range(len(rows)))
    order = sorted(range(len(rows)), key=lambda i: rows[i][1] == JobState.COMPLETED.value)
    return sorted(order[:limit])


def _code_sections(lines: Sequence[str]) -> list[Block]:
    """The lines in as few code-block sections as fit Slack's 3,000 characters each."""
    blocks: list[Block] = []
    chunk: list[str] = []
    for line in lines:
        if chunk and len(code("\n".join([*chunk, line]))) > SECTION_CHARS:
            blocks.append(section(code("\n".join(chunk))))
            chunk = []
        chunk.append(line)
    return [*blocks, section(code("\n".join(chunk)))]


def _table_lines(run: FlowRun) -> list[str]:
    """The table for Slack: at most MAX_ROWS jobs within TABLE_CHARS, a `…` line where
    jobs are left out, and how many were."""
    headers, rows = _rows(run, narrow=True)
    shown = _pick(rows, MAX_ROWS)
    while True:
        head, *lines = table(headers, [rows[i][0] for i in shown]).splitlines()
        out = [head]
        for n, (i, line) in enumerate(zip(shown, lines, strict=True)):
            if i != (shown[n - 1] + 1 if n else 0):
                out.append("…")
            out.append(line)
        if len(shown) < len(rows):
            out.append(f"… and {len(rows) - len(shown)} more jobs")
        if len(shown) <= 1 or sum(len(escape(ln)) + 1 for ln in out) <= TABLE_CHARS:
            return out
        shown = shown[:-1]


def run_blocks(run: FlowRun) -> list[Block]:
    """The Slack form: the title, the table (summarised when big), the totals, the buttons."""
    word = outcome(run)
    head = (
        f"{OUTCOME_EMOJI[word]} Workflow *{escape(run.name)}* on *{escape(run.cluster)}* "
        f"as {escape(run.account)}: *{word}*"
    )
    return [
        section(head),
        *_code_sections(_table_lines(run)),
        context(escape(run_footer(run))),
        run_buttons(run.id, run.name, active=run.active),
    ]
