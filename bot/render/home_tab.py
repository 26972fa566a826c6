"""The App Home tab of one user: their queued and running jobs (each with a Cancel button),
free GPUs per partition of their default cluster, their watches and scheduled reports.

A view holds at most 100 blocks: everything else takes a fixed number of blocks, and the jobs
get what is left, ending in "… and N more jobs" when they do not all fit."""

from __future__ import annotations

from collections.abc import Sequence

from bot.core import replies as r
from bot.core.models import JobInfo, JobState
from bot.core.records import Watch
from bot.core.schedules import ReportSchedule
from bot.render.blocks import STATE_EMOJI
from bot.render.buttons import cancel_button
from bot.render.card import state_text
from bot.render.kit import SECTION_CHARS, Block, context, fit_lines, section
from bot.render.mrkdwn import escape, with_mentions
from bot.render.text import partition_line, render_text

MAX_VIEW_BLOCKS = 100
REFRESH = "home_refresh"
CANCEL = "home_cancel"

_DIVIDER: Block = {"type": "divider"}


def home_view(reply: r.HomeReply, notice: str | None = None) -> Block:
    """The `views.publish` view for `reply`; `notice` is the outcome of the last click."""
    head = [
        _title(f":house: Slurm account *{escape(reply.account)}* on *{escape(reply.cluster)}*"),
    ]
    if notice:
        head.append(section(f":information_source: {escape(notice)}"))
    if reply.problems:
        head.append(context(":warning: could not read " + escape("; ".join(reply.problems))))
    rest = [
        _DIVIDER,
        _gpus(reply),
        _DIVIDER,
        _listing(
            "Watches",
            [_watch_line(w) for w in reply.watches],
            "No watches. `/srunx watch mine` follows all your jobs in a thread.",
        ),
        _listing(
            "Scheduled reports",
            [_report_line(x) for x in reply.reports],
            'No scheduled reports. `/srunx report every 1d` (or `"0 9 * * 1-5"`) in a channel.',
        ),
    ]
    jobs = _jobs(reply.cluster, reply.jobs, MAX_VIEW_BLOCKS - len(head) - len(rest))
    return {"type": "home", "blocks": [*head, *jobs, *rest]}


def home_notice(reply: r.Reply) -> str:
    """A Home button's outcome, shown at the top of the republished Home."""
    match reply:
        case r.Cancelled():
            return f"Cancelled job {reply.job.job_id} on {reply.cluster}: {state_text(reply.job)}"
        case r.ErrorReply():
            return reply.message
    return render_text(reply)


def error_view(message: str, mentions: Sequence[str] = ()) -> Block:
    """A Home that says why there is nothing to show (not mapped to an account, say);
    `mentions`: the ids whose `<@ID>` in `message` the bot means as mentions (its admins)."""
    return {
        "type": "home",
        "blocks": [
            _title(":house: srunx-bot"),
            section(f":warning: {with_mentions(message, mentions)}"),
        ],
    }


def _title(text: str) -> Block:
    return {
        **section(text),
        "accessory": {
            "type": "button",
            "action_id": REFRESH,
            "value": "refresh",
            "text": {"type": "plain_text", "text": "Refresh"},
        },
    }


def _jobs(cluster: str, jobs: Sequence[JobInfo] | None, budget: int) -> list[Block]:
    """A title and one section per job, in `budget` blocks (the last may say how many more)."""
    if jobs is None:
        return [section("*Your jobs*: unknown (see above); Refresh tries again.")]
    if not jobs:
        return [
            section(
                "*Your jobs*\nNo queued or running jobs. "
                "`/srunx submit -p PARTITION -- COMMAND` starts one."
            )
        ]
    blocks = [section(f"*Your jobs* ({len(jobs)})")]
    shown = jobs if len(jobs) < budget else jobs[: budget - 2]
    blocks += [_job(cluster, job) for job in shown]
    if len(shown) < len(jobs):
        blocks.append(context(f"… and {len(jobs) - len(shown)} more jobs (`/srunx list`)"))
    return blocks


def _job(cluster: str, job: JobInfo) -> Block:
    name = f" `{escape(job.name)}`" if job.name else ""
    bits = [f"*{escape(job.job_id)}*{name}", state_text(job)]
    if job.partition:
        bits.append(escape(job.partition))
    if job.state in (JobState.PENDING, JobState.UNKNOWN) and job.reason:
        bits.append(f"_{escape(job.reason)}_")
    elif job.elapsed:
        bits.append(escape(job.elapsed))
    if job.tasks:
        bits.append(escape(job.tally))
    block = section(f"{STATE_EMOJI.get(job.state, ':small_blue_diamond:')} " + " · ".join(bits))
    # COMPLETING is what a cancel leaves behind for a moment: nothing left to cancel.
    if job.state.is_active and job.state != JobState.COMPLETING:
        block["accessory"] = cancel_button(cluster, job.job_id, CANCEL)
    return block


def _gpus(reply: r.HomeReply) -> Block:
    snap = reply.snapshot
    if snap is None:
        return section(f"*Free GPUs on {escape(reply.cluster)}*: unknown (see above)")
    lines = [f"• {partition_line(p)}" for p in snap.partitions] or ["no partitions"]
    head = f"*Free GPUs on {escape(snap.cluster)}*: {snap.gpus_free} free"
    kept = fit_lines(lines, SECTION_CHARS - len(head) - 1, "more partitions")
    return section("\n".join([head, *map(escape, kept)]))


def _listing(title: str, lines: Sequence[str], empty: str) -> Block:
    """A titled section of mrkdwn lines (already escaped), cut to fit one section."""
    if not lines:
        return section(f"*{title}*\n{empty}")
    head = f"*{title}* ({len(lines)})"
    # fit_lines counts escaped length: for these lines an overestimate, so they still fit.
    return section("\n".join([head, *fit_lines(lines, SECTION_CHARS - len(head) - 1)]))


def _watch_line(w: Watch) -> str:
    return f"• `{escape(w.id)}` {escape(w.target)} on {escape(w.cluster)}, {_in(w.channel)}"


def _report_line(x: ReportSchedule) -> str:
    part = f" ({escape(x.partition)})" if x.partition else ""
    return f"• `{escape(x.id)}` {escape(x.when)} on {escape(x.cluster)}{part}, {_in(x.channel)}"


def _in(channel: str) -> str:
    return escape(r.where(channel))
