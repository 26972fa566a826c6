"""Replies as plain text: what the console prints, and what a Slack reply says in words
(its notification fallback, and the tables inside its code blocks)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence

from bot.core import replies as r
from bot.core.jobtext import cut_note
from bot.core.models import JobInfo, JobState, PartitionResources, QueueJob, QueueSummary
from bot.render.card import job_fields, job_note, state_text
from bot.render.columns import table as table  # re-exported: callers import it from here
from bot.render.flows import jobs_text, run_text, tally_text


def place(channel: str) -> str:
    """Where a watch posts: `<#C123>` (Slack shows the channel's name) or `your DM`."""
    return r.where(channel).removeprefix("in ")


# The head line of a text card joins these; the other fields get a line each.
_HEAD = ("User", "Partition", "Nodes", "GPUs", "Elapsed")
_COUNTED = {"Nodes": "node", "GPUs": "GPU"}


def _phrase(label: str, value: str) -> str:
    """A card field in words: `user alice`, `2 nodes (node[1-2])`, `tasks: RUNNING 2`."""
    if label in _COUNTED:
        count, _, rest = value.partition(" ")
        noun = _COUNTED[label] + ("s" if int(count) > 1 else "")
        return " ".join([count, noun, *([rest] if rest else [])])
    if label == "Tasks":
        return f"tasks: {value}"
    return f"{label.lower()} {value}"


def job_details(job: JobInfo) -> list[str]:
    """The lines of a job card, shared by status and cancel."""
    fields = job_fields(job)
    head = " · ".join(_phrase(k, v) for k, v in fields if k in _HEAD)
    lines = [head, *(_phrase(k, v) for k, v in fields if k not in _HEAD), job_note(job) or ""]
    return [ln for ln in lines if ln]


def _job_card(title: str, cluster: str, job: JobInfo) -> str:
    name = f" `{job.name}`" if job.name else ""
    head = f"{title}job {job.job_id}{name} on {cluster}: {state_text(job)}"
    return "\n".join([head, *("  " + ln for ln in job_details(job))])


def partition_line(p: PartitionResources) -> str:
    unavailable = f", {p.gpus_unavailable} on unavailable nodes" if p.gpus_unavailable else ""
    return (
        f"{p.partition}: {p.gpus_free}/{p.gpus_total} GPUs free ({p.gpus_used} in use"
        f"{unavailable}) · nodes idle {p.nodes_idle}, mixed {p.nodes_mixed}, "
        f"alloc {p.nodes_alloc}, down {p.nodes_down}, drain {p.nodes_drain}"
    )


def node_table(p: PartitionResources) -> str:
    """Per node: state and free/total GPUs (a node that is not available has none free)."""
    rows = [
        [
            n.node,
            n.state,
            f"{max(0, n.gpus_total - n.gpus_used) if n.available else 0}/{n.gpus_total}",
        ]
        for n in p.nodes
    ]
    return table(["NODE", "STATE", "GPUS FREE"], rows)


def queue_rows(jobs: Sequence[QueueJob], *, with_user: bool) -> str:
    rows = [
        [
            j.job_id,
            *([j.user] if with_user else []),
            j.name,
            j.state.value,
            j.partition,
            str(j.gpus),
            wait_text(j.pending_seconds) if j.state == JobState.PENDING else j.elapsed,
        ]
        for j in jobs
    ]
    headers = ["ID", *(["USER"] if with_user else []), "NAME", "STATE", "PARTITION", "GPUS"]
    return table([*headers, "WAITED/RAN"], rows)


def queue_line(q: QueueSummary) -> str:
    longest = (
        f"; longest wait {wait_text(q.longest_pending_seconds)} (job {q.longest_pending_job})"
        if q.longest_pending_job
        else ""
    )
    return f"queue: {q.running} running, {q.pending} pending{longest}"


def report_lines(rep: r.ClusterReport) -> list[str]:
    """A cluster report as text: the console's, and the fallback of the Slack message."""
    lines = [f"{rep.title}: {rep.cluster} at {rep.at}"]
    if rep.partitions is not None:
        lines += [partition_line(p) for p in rep.partitions] or ["no partitions"]
    if rep.queue is not None:
        lines.append(queue_line(rep.queue))
    if rep.user_jobs is not None:
        lines.append(f"jobs of {rep.account}:" + ("" if rep.user_jobs else " none"))
        if rep.user_jobs:
            lines += ["  " + ln for ln in queue_rows(rep.user_jobs, with_user=False).splitlines()]
    if rep.running is not None:
        lines.append("running jobs:" + ("" if rep.running else " none"))
        if rep.running:
            lines += ["  " + ln for ln in queue_rows(rep.running, with_user=True).splitlines()]
    lines += [f"could not read {p}" for p in rep.problems]
    return lines


def plan_head(reply: r.FlowPlanReply) -> str:
    jobs = jobs_text(len(reply.steps))
    if reply.dry_run:
        return f"dry run of workflow {reply.name} on {reply.cluster}, nothing submitted: {jobs}"
    return f"workflow {reply.name} on {reply.cluster} is valid: {jobs}"


def sweep_lines(reply: r.FlowPlanReply) -> list[str]:
    """A sweep's cells, one a line after a head line; none without a sweep."""
    if not reply.cells:
        return []
    head = (
        f"a sweep of {len(reply.cells)} cells, at most {reply.max_parallel} at once; "
        "each cell runs every job:"
    )
    cells = [
        f"  cell {i}: " + (" ".join(f"{k}={v}" for k, v in args.items()) or "(no args)")
        for i, args in enumerate(reply.cells)
    ]
    return [head, *cells]


def plan_table(reply: r.FlowPlanReply) -> str:
    rows = [
        [
            s.name,
            " ".join(s.deps) or "-",
            str(s.level),
            s.resources or "-",
            str(s.retry) if s.retry else "-",
            s.source or "-",
        ]
        for s in reply.steps
    ]
    return table(["JOB", "AFTER", "LEVEL", "RESOURCES", "RETRY", "FROM"], rows)


ORDER_HEAD = "the order Slurm will run them (jobs on one line may run at the same time):"


def run_order(reply: r.FlowPlanReply) -> list[str]:
    """`1. preprocess`, `2. train, tune`, ...: the jobs by level, roots first."""
    levels: dict[int, list[str]] = {}
    for s in reply.steps:
        levels.setdefault(s.level, []).append(s.name)
    return [f"{n}. {', '.join(names)}" for n, (_, names) in enumerate(sorted(levels.items()), 1)]


def script_head(s: r.FlowScript) -> str:
    return f"{s.name}: it would run `{shlex.join(s.sbatch)}` with this script on stdin:"


def plan_text(reply: r.FlowPlanReply) -> str:
    lines = [plan_head(reply), *sweep_lines(reply), plan_table(reply), ORDER_HEAD]
    lines += ["  " + ln for ln in run_order(reply)]
    for s in reply.scripts:
        lines += [script_head(s), s.script.rstrip("\n")]
    return "\n".join(lines)


def flow_rows(reply: r.FlowList) -> str:
    rows = [
        [
            f.id,
            f.name,
            f.cluster,
            f.account,
            str(f.jobs),
            tally_text(f.tally),
            f.outcome or "running",
            place(f.channel),
        ]
        for f in reply.runs
    ]
    headers = ["ID", "NAME", "CLUSTER", "ACCOUNT", "JOBS", "STATES", "OUTCOME", "WHERE"]
    return table(headers, rows)


def render_text(reply: r.Reply) -> str:
    match reply:
        case r.ErrorReply():
            return f"error: {reply.message}"
        case r.HelpReply() | r.ConfigReply() | r.Done():
            return reply.text
        case r.WatchesReply():
            if not reply.watches:
                return f"no watches of {reply.scope}"
            rows = [
                [w.id, w.kind, w.target, w.account, w.cluster, place(w.channel)]
                for w in reply.watches
            ]
            return f"watches of {reply.scope}:\n" + table(
                ["ID", "KIND", "WHAT", "ACCOUNT", "CLUSTER", "GOES TO"], rows
            )
        case r.Submitted():
            res = reply.job.resources
            bits = [
                f"partition {res.partition}" if res.partition else "default partition",
                f"{res.nodes} node{'s' if res.nodes > 1 else ''}",
            ]
            if res.gpus_per_node:
                bits.append(f"{res.gpus_per_node} GPU{'s' if res.gpus_per_node > 1 else ''}/node")
            return (
                f"submitted job {reply.job_id} `{reply.job.name}` on {reply.cluster} "
                f"as {reply.account}: {', '.join(bits)}\n"
                f"  follow it: `status {reply.job_id}` · output: `tail {reply.job_id}`"
            )
        case r.DryRun():
            head = f"dry run on {reply.cluster}, nothing submitted; "
            if reply.sbatch:
                head += f"it would run `{shlex.join(reply.sbatch)}` with the job script on stdin:"
            else:
                head += "the job script:"
            return f"{head}\n{reply.script}"
        case r.StatusReply():
            return _job_card("", reply.cluster, reply.job)
        case r.Cancelled():
            return _job_card("cancelled ", reply.cluster, reply.job)
        case r.JobList():
            if not reply.jobs:
                return f"no queued or running jobs for {reply.scope} on {reply.cluster}"
            headers = ["ID", "NAME", "USER", "STATE", "PARTITION", "NODES", "ELAPSED", "WHERE/WHY"]
            if reply.show_gpus:
                headers.insert(6, "GPUS")
            rows = []
            for j in reply.jobs:
                row = [
                    j.job_id,
                    j.name,
                    j.user,
                    j.state.value,
                    j.partition,
                    str(j.nodes or ""),
                    j.elapsed,
                    j.nodelist or j.reason,
                ]
                if reply.show_gpus:
                    row.insert(6, str(j.gpus or 0))
                rows.append(row)
            return f"jobs of {reply.scope} on {reply.cluster}:\n" + table(headers, rows)
        case r.TailReply():
            body = reply.text.rstrip("\n") or "(empty)"
            cut = f"\n(output {cut_note(reply.cut_to)})" if reply.cut_to else ""
            head = f"last lines of {reply.path} (job {reply.job_id} on {reply.cluster})"
            return f"{head}:\n{body}{cut}"
        case r.ResourcesReply():
            snap = reply.snapshot
            lines = [f"GPUs on {snap.cluster}: {snap.gpus_free} free"]
            for p in snap.partitions:
                lines.append(partition_line(p))
                if p.nodes:
                    lines += ["  " + ln for ln in node_table(p).splitlines()]
            return "\n".join(lines)
        case r.HistoryReply():
            if not reply.records:
                return f"no jobs of {reply.account} on {reply.cluster} since {reply.since}"
            rows = [
                [
                    h.job_id,
                    h.name,
                    h.state.value,
                    h.exit_code,
                    h.elapsed,
                    h.total_cpu,
                    h.max_rss or "-",
                    str(h.gpus or 0),
                ]
                for h in reply.records
            ]
            return f"jobs of {reply.account} on {reply.cluster} since {reply.since}:\n" + table(
                ["ID", "NAME", "STATE", "EXIT", "ELAPSED", "CPU", "MAXRSS", "GPUS"], rows
            )
        case r.ClustersReply():
            rows = [
                [
                    c.name + (" (your default)" if c.is_default else ""),
                    c.where,
                    c.default_partition or "-",
                    {True: "yes", False: "NO", None: "?"}[c.reachable],
                    c.detail,
                ]
                for c in reply.clusters
            ]
            return "clusters:\n" + table(
                ["NAME", "WHERE", "DEFAULT PARTITION", "REACHABLE", "DETAIL"], rows
            )
        case r.Alert():
            return reply.text
        case r.ClusterReport():
            return "\n".join(report_lines(reply))
        case r.ReportsReply():
            if not reply.reports:
                return f"no scheduled reports of {reply.scope}"
            rows = [
                [x.id, x.cluster, x.when, x.channel, x.partition or "all", ",".join(x.include)]
                for x in reply.reports
            ]
            return f"scheduled reports of {reply.scope}:\n" + table(
                ["ID", "CLUSTER", "WHEN", "CHANNEL", "PARTITION", "INCLUDE"], rows
            )
        case r.SubmitFormReply():
            return (
                'the submit form opens with `/srunx submit` alone or the "Submit a Slurm job" '
                "shortcut; here, type "
                f"`submit -p {reply.default_partition or 'PARTITION'} [options] -- COMMAND` "
                f"(partitions on {reply.cluster}: {', '.join(reply.partitions) or 'unknown'})"
            )
        case r.HomeReply():
            lines = [f"home of {reply.account} on {reply.cluster}"]
            lines += [f"  job {j.job_id} {j.name} {j.state.value}" for j in reply.jobs or []]
            if reply.snapshot:
                lines += ["  " + partition_line(p) for p in reply.snapshot.partitions]
            lines += [f"  watch {w.id}: {w.target}" for w in reply.watches]
            lines += [f"  report {x.id}: {x.when}" for x in reply.reports]
            return "\n".join(lines + [f"  problem: {p}" for p in reply.problems])
        case r.TemplatesReply():
            rows = [
                [t.name, "built-in" if t.builtin else "config", t.description or "-"]
                for t in reply.templates
            ]
            return "templates (submit --template NAME):\n" + table(
                ["NAME", "FROM", "DESCRIPTION"], rows
            )
        case r.TemplateReply():
            return f"template `{reply.name}`:\n{reply.text.rstrip()}"
        case r.ConfigPathsReply():
            return "\n".join(
                [
                    f"config file    {reply.config_file or '(none: this login node as you)'}",
                    f"state dir      {reply.state_dir}",
                    f"templates dir  {reply.templates_dir}",
                ]
            )
        case r.DefaultsReply():
            rows = [[s.key, "-" if s.value is None else s.value, s.source] for s in reply.settings]
            return f"your job defaults on {reply.cluster}:\n" + table(
                ["KEY", "VALUE", "FROM"], rows
            )
        case r.FlowRunReply():
            return run_text(reply.run)
        case r.FlowPlanReply():
            return plan_text(reply)
        case r.FlowList():
            if not reply.runs:
                return f"no workflow runs of {reply.scope}"
            return f"workflow runs of {reply.scope}:\n" + flow_rows(reply)
    raise TypeError(f"no text rendering for {type(reply).__name__}")


def wait_text(seconds: int | None) -> str:
    """`2d 3h`, `1h 05m`, `4m`: how long a job has waited."""
    if seconds is None:
        return "-"
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m:02d}m"
    return f"{m}m" if m else f"{seconds}s"
