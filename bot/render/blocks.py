"""Block Kit for every reply, with a plain-text fallback, inside Slack's limits."""

from __future__ import annotations

import json
import shlex

from bot.core import replies as r
from bot.core.jobtext import cut_note
from bot.core.models import JobInfo, JobState
from bot.core.records import Watch
from bot.render.buttons import job_buttons
from bot.render.card import job_fields, job_note, state_text
from bot.render.flows import jobs_text, run_blocks, tally_text
from bot.render.kit import (
    MAX_BLOCKS,
    SECTION_CHARS,
    Block,
    code_block,
    context,
    fields,
    fit_lines,
    section,
)
from bot.render.mrkdwn import escape, with_mentions
from bot.render.text import (
    ORDER_HEAD,
    node_table,
    partition_line,
    place,
    plan_head,
    plan_table,
    queue_line,
    queue_rows,
    render_text,
    run_order,
    script_head,
    sweep_lines,
    table,
)

FALLBACK_CHARS = 3000
# What a message's blocks may take as JSON: Slack refuses a message much over 13,000.
BLOCKS_JSON_BUDGET = 12_000

STATE_EMOJI = {
    JobState.PENDING: ":hourglass_flowing_sand:",
    JobState.CONFIGURING: ":hourglass_flowing_sand:",
    JobState.RUNNING: ":arrow_forward:",
    JobState.COMPLETING: ":arrow_forward:",
    JobState.COMPLETED: ":white_check_mark:",
    JobState.FAILED: ":x:",
    JobState.CANCELLED: ":no_entry_sign:",
    JobState.TIMEOUT: ":alarm_clock:",
    JobState.OUT_OF_MEMORY: ":boom:",
    JobState.NODE_FAIL: ":boom:",
    JobState.UNKNOWN: ":grey_question:",
    JobState.NOT_FOUND: ":grey_question:",
}


def watch_line(w: Watch) -> str:
    return (
        f"• `{escape(w.id)}` {escape(w.target)} on {escape(w.cluster)} ({escape(w.account)}) "
        f"→ {escape(place(w.channel))}"
    )


def _job_blocks(title: str, cluster: str, job: JobInfo) -> list[Block]:
    emoji = STATE_EMOJI.get(job.state, ":small_blue_diamond:")
    name = f" `{escape(job.name)}`" if job.name else ""
    blocks = [
        section(
            f"{emoji} {title}*job {job.job_id}*{name} on *{escape(cluster)}*: *{state_text(job)}*"
        )
    ]
    pairs = job_fields(job)
    if pairs:
        blocks.append(fields(pairs))
    note = job_note(job)
    if note:
        blocks.append(context(escape(note)))
    if job.state != JobState.NOT_FOUND:
        blocks.append(job_buttons(cluster, job.job_id, running=not job.state.is_terminal))
    return blocks


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]  # str.capitalize would lower a name's capitals


def flow_line(f: r.FlowSummary) -> str:
    return (
        f"• `{escape(f.id)}` *{escape(f.name)}* on {escape(f.cluster)} ({escape(f.account)}): "
        f"{jobs_text(f.jobs)}, {escape(tally_text(f.tally))} · {escape(f.outcome or 'running')} "
        f"→ {escape(place(f.channel))}"
    )


def _plan_blocks(reply: r.FlowPlanReply) -> list[Block]:
    """The plan, then (a dry run) as many scripts as fit; the console shows them all."""
    emoji = ":test_tube:" if reply.dry_run else ":white_check_mark:"
    blocks = [section(f"{emoji} {_upper_first(escape(plan_head(reply)))}")]
    if reply.cells:
        head, *cells = sweep_lines(reply)
        blocks.append(context(escape(head + " " + "; ".join(c.strip() for c in cells))))
    order = fit_lines(run_order(reply), SECTION_CHARS - len(ORDER_HEAD) - 10, "more levels")
    blocks += [
        code_block(plan_table(reply), what="more jobs"),
        section(_upper_first(escape(ORDER_HEAD)) + "\n" + "\n".join(map(escape, order))),
    ]
    used = len(json.dumps(blocks))
    for i, s in enumerate(reply.scripts):
        pair = [section(escape(script_head(s))), code_block(s.script)]
        cost = len(json.dumps(pair))
        if used + cost > BLOCKS_JSON_BUDGET - 500 or len(blocks) + 3 > MAX_BLOCKS:
            left = len(reply.scripts) - i
            blocks.append(
                context(
                    f"… and {left} more scripts: `bot console -c 'flow run … --dry-run'` "
                    "on a login node shows them all"
                )
            )
            break
        blocks += pair
        used += cost
    return blocks


def _blocks(reply: r.Reply) -> list[Block]:
    match reply:
        case r.ErrorReply():
            return [section(f":warning: {with_mentions(reply.message, reply.mentions)}")]
        case r.HelpReply() | r.ConfigReply():
            return [code_block(reply.text)]
        case r.Done():
            return [section(f":eyes: {escape(reply.text)}")]
        case r.Submitted():
            res = reply.job.resources
            pairs = [
                ("Partition", res.partition or "default"),
                ("Nodes", str(res.nodes)),
                ("Account", reply.account),
            ]
            if res.gpus_per_node:
                pairs.insert(2, ("GPUs per node", str(res.gpus_per_node)))
            if res.time_limit:
                pairs.append(("Time limit", res.time_limit))
            return [
                section(
                    f":rocket: Submitted *job {reply.job_id}* `{escape(reply.job.name)}` "
                    f"on *{escape(reply.cluster)}*"
                ),
                fields(pairs),
                job_buttons(reply.cluster, reply.job_id, running=True),
            ]
        case r.DryRun():
            return [
                section(
                    f"Dry run on *{escape(reply.cluster)}*, nothing submitted. "
                    + (
                        f"It would run `{escape(shlex.join(reply.sbatch))}` with the job script "
                        "on stdin:"
                        if reply.sbatch
                        else "The job script:"
                    )
                ),
                code_block(reply.script),
            ]
        case r.StatusReply():
            return _job_blocks("", reply.cluster, reply.job)
        case r.Cancelled():
            return _job_blocks("Cancelled ", reply.cluster, reply.job)
        case r.JobList():
            if not reply.jobs:
                return [section(escape(render_text(reply)))]
            head, _, body = render_text(reply).partition("\n")
            return [section(escape(head)), code_block(body, what="more jobs")]
        case r.TailReply():
            return [
                section(
                    f"Last lines of `{escape(reply.path)}` (job {reply.job_id} on "
                    f"{escape(reply.cluster)})"
                ),
                code_block(reply.text, keep="tail"),
                *([context(f"output {cut_note(reply.cut_to)}")] if reply.cut_to else []),
            ]
        case r.ResourcesReply():
            return _resource_blocks(reply)
        case r.ClusterReport():
            return report_blocks(reply)
        case r.Alert():
            who = f"<@{reply.mention}> " if reply.mention else ""
            return [section(f":bell: {who}{escape(reply.text)}")]
        case r.SubmitFormReply() | r.HomeReply():
            return [section(escape(render_text(reply)))]
        case r.WatchesReply() if reply.watches:
            # A list, not a table: channel links only work outside code blocks.
            lines = [watch_line(w) for w in reply.watches]
            return [
                section(escape(f"watches of {reply.scope}:")),
                section("\n".join(fit_lines(lines, SECTION_CHARS, "more watches"))),
            ]
        case r.HistoryReply() | r.ClustersReply() | r.WatchesReply() | r.ReportsReply():
            head, _, body = render_text(reply).partition("\n")
            if not body:
                return [section(escape(head))]
            return [section(escape(head)), code_block(body, what="more")]
        case r.TemplatesReply():
            head, _, body = render_text(reply).partition("\n")
            return [section(escape(head)), code_block(body, what="more templates")]
        case r.ConfigPathsReply() | r.DefaultsReply():
            return [code_block(render_text(reply))]
        case r.TemplateReply():
            return [section(f"Template `{escape(reply.name)}`"), code_block(reply.text)]
        case r.FlowRunReply():
            return run_blocks(reply.run)
        case r.FlowPlanReply():
            return _plan_blocks(reply)
        case r.FlowList() if reply.runs:
            lines = [flow_line(f) for f in reply.runs]
            return [
                section(escape(f"workflow runs of {reply.scope}:")),
                section("\n".join(fit_lines(lines, SECTION_CHARS, "more runs"))),
            ]
        case r.FlowList():
            return [section(escape(render_text(reply)))]
    raise TypeError(f"no Block Kit rendering for {type(reply).__name__}")


def _resource_blocks(reply: r.ResourcesReply) -> list[Block]:
    snap = reply.snapshot
    blocks = [section(f":bar_chart: GPUs on *{escape(snap.cluster)}*: *{snap.gpus_free}* free")]
    for i, p in enumerate(snap.partitions):
        if len(blocks) + 2 > MAX_BLOCKS - 1:
            blocks.append(context(f"… and {len(snap.partitions) - i} more partitions"))
            break
        blocks.append(section(escape(partition_line(p))))
        if p.nodes:
            blocks.append(code_block(node_table(p), what="more nodes"))
    return blocks


def report_blocks(rep: r.ClusterReport) -> list[Block]:
    """One message: a header, a table per section, and what could not be read."""
    blocks = [
        section(f":bar_chart: *{escape(rep.title)}* for *{escape(rep.cluster)}*"),
        context(f"taken {escape(rep.at)}"),
    ]
    if rep.partitions is not None:
        rows = [
            [
                p.partition,
                f"{p.gpus_free}/{p.gpus_total}",
                f"{p.nodes_idle}/{p.nodes_mixed}/{p.nodes_alloc}/{p.nodes_down}/{p.nodes_drain}",
            ]
            for p in rep.partitions
        ]
        blocks.append(section("*GPUs and nodes* (idle/mixed/alloc/down/drain)"))
        blocks.append(
            code_block(table(["PARTITION", "GPUS FREE", "NODES"], rows), what="more partitions")
        )
    if rep.queue is not None:
        blocks.append(section(escape(queue_line(rep.queue).capitalize())))
    if rep.user_jobs is not None:
        blocks.append(section(f"*Jobs of {escape(rep.account or '')}*"))
        body = queue_rows(rep.user_jobs, with_user=False) if rep.user_jobs else "none"
        blocks.append(code_block(body, what="more jobs"))
    if rep.running is not None:
        blocks.append(section("*Running jobs*"))
        body = queue_rows(rep.running, with_user=True) if rep.running else "none"
        blocks.append(code_block(body, what="more jobs"))
    if rep.problems:
        blocks.append(context(":warning: could not read " + escape("; ".join(rep.problems))))
    return blocks


def render_blocks(reply: r.Reply) -> tuple[str, list[Block]]:
    """(fallback text, blocks) for chat.postMessage, respond() or chat.update."""
    mentions = reply.mentions if isinstance(reply, r.ErrorReply) else []
    text = with_mentions(render_text(reply), mentions)
    if len(text) > FALLBACK_CHARS:
        text = text[: FALLBACK_CHARS - 1] + "…"
    return text, _blocks(reply)[:MAX_BLOCKS]
