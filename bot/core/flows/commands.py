"""The workflow commands: `flow validate`, `flow run`, `flows`, `flow status`, `flow cancel`.
A run goes to Slurm whole (bot/core/flows/submit.py) as the caller's own account, and its
thread follows it (bot/core/flows/monitor.py)."""

from __future__ import annotations

import re

from bot.config import ClusterConfig
from bot.core import commands as c
from bot.core import replies as r
from bot.core.access import Access
from bot.core.clusters import Clusters
from bot.core.defaults import JobDefaults
from bot.core.flowruns import FlowCell, FlowRun
from bot.core.flows.monitor import FlowMonitor
from bot.core.flows.plan import cells, plan_cell, plan_steps, script_paths, select
from bot.core.flows.spec import MAX_FLOW_BYTES, WorkflowSpec, load_workflow
from bot.core.flows.store import FlowStore
from bot.core.flows.submit import options
from bot.core.flowstatus import tally
from bot.core.models import Job, JobState
from bot.core.ports import FlowOutbox
from bot.core.script import ScriptRenderer
from bot.core.slurm.client import SlurmClient, sbatch_argv
from bot.errors import AccessDenied, SlurmError, UsageError

FLOW_COMMANDS = (c.FlowValidate, c.FlowRunCommand, c.ListFlows, c.FlowStatus, c.FlowCancel)
FlowCommand = c.FlowValidate | c.FlowRunCommand | c.ListFlows | c.FlowStatus | c.FlowCancel
_PARTITION_RE = re.compile(r"^#SBATCH --partition=(\S+)$", re.MULTILINE)
MAX_LISTED = 50


class Flows:
    def __init__(
        self,
        access: Access,
        clusters: Clusters,
        renderer: ScriptRenderer,
        defaults: JobDefaults,
        store: FlowStore,
        monitor: FlowMonitor,
        outbox: FlowOutbox,
    ) -> None:
        self.access = access
        self.clusters = clusters
        self.renderer = renderer
        self.defaults = defaults
        self.store = store
        self.monitor = monitor
        self.outbox = outbox

    async def run(self, user_id: str, cmd: FlowCommand, channel: str) -> r.Reply:
        match cmd:
            case c.FlowValidate() | c.FlowRunCommand():
                return await self._plan_or_run(user_id, cmd, channel)
            case c.ListFlows():
                return await self._list(user_id, cmd.all)
            case c.FlowStatus():
                run = await self._own_run(user_id, cmd.run_id)
                _, client = self.clusters.client(run.user_id, run.cluster)
                return r.FlowRunReply(run=await live(client, run))
            case c.FlowCancel():
                run = await self._own_run(user_id, cmd.run_id)
                if not run.active:
                    raise UsageError(f"run {run.id} already ended ({run.outcome})")
                _, client = self.clusters.client(run.user_id, run.cluster)
                run, stopped = await self.monitor.cancel(client, run, by=user_id)
                return r.Done(text=f"cancelled run {run.id} `{run.name}`: {stopped} job(s) stopped")

    # ------------------------------------------------------------------ plan and run
    async def _plan_or_run(
        self, user_id: str, cmd: c.FlowValidate | c.FlowRunCommand, channel: str
    ) -> r.Reply:
        cluster, client = self.clusters.client(user_id, cmd.cluster)
        spec = load_workflow(await _text(client, cmd.source))
        run_cmd = cmd if isinstance(cmd, c.FlowRunCommand) else None
        keep = select(
            spec,
            start=run_cmd.start if run_cmd else None,
            stop=run_cmd.stop if run_cmd else None,
            only=run_cmd.only if run_cmd else None,
        )
        args = cells(spec, dict(cmd.args), {k: list(v) for k, v in cmd.sweep})
        planned = await self._cells(user_id, cluster, client, spec, args, keep)
        for partition in sorted({p for cell in planned for p in _partitions(cell)}):
            await client.check_partition(partition)
        sweep = spec.sweep
        if run_cmd is None or run_cmd.dry_run:
            return r.FlowPlanReply(
                name=spec.name,
                cluster=cluster.name,
                steps=plan_steps(spec, keep, args[0]),
                cells=args if len(args) > 1 else [],
                max_parallel=sweep.max_parallel if sweep else 1,
                scripts=_scripts(planned) if run_cmd else [],
                dry_run=run_cmd is not None,
            )
        run = FlowRun(
            name=spec.name,
            cluster=cluster.name,
            user_id=user_id,
            account=self.access.account(user_id),
            channel=channel,
            source=cmd.source.label,
            cells=planned,
            max_parallel=sweep.max_parallel if sweep else 1,
            fail_fast=sweep.fail_fast if sweep else False,
        )
        return await self._start(client, run)

    async def _cells(
        self,
        user_id: str,
        cluster: ClusterConfig,
        client: SlurmClient,
        spec: WorkflowSpec,
        args: list[dict[str, str]],
        keep: list[str],
    ) -> list[FlowCell]:
        paths = sorted({p for a in args for p in script_paths(spec, a, keep)})
        scripts = {p: await client.read_script(p) for p in paths}

        def fill(job: Job, given: frozenset[str]) -> Job:
            return self.defaults.resolve(user_id, cluster, job, given)[0]

        sweep = len(args) > 1
        return [
            plan_cell(
                spec,
                a,
                keep,
                run_name=spec.name,
                cell=i if sweep else None,
                renderer=self.renderer,
                scripts=scripts,
                fill=fill,
            ).model_copy(update={"index": i})
            for i, a in enumerate(args)
        ]

    async def _start(self, client: SlurmClient, run: FlowRun) -> r.Reply:
        """Store the run, post its message, then submit: a run is never in Slurm without its
        record, and its thread exists before the first job can change."""
        run = await self.store.add(run)
        try:
            ts = await self.outbox.post_run(run)
        except Exception:  # no message, no run: nothing was submitted
            gone = run.model_copy(update={"active": False, "outcome": "cancelled"})
            await self.store.save(gone, now=True)
            raise
        run = run.model_copy(update={"parent_ts": ts})
        await self.store.save(run, now=True)
        run = await self.monitor.schedule(client, run)
        await self.store.save(run, now=True)
        await self.monitor.refresh(run)
        if run.outcome == "failed":
            raise SlurmError(f"run {run.id} of `{run.name}` did not start: see its thread")
        jobs = sum(len(cell.steps) for cell in run.cells)
        cells_text = f" in {len(run.cells)} cells" if len(run.cells) > 1 else ""
        return r.Done(
            text=(
                f"started run {run.id} of `{run.name}` on {run.cluster}: {jobs} jobs{cells_text}; "
                f"its thread follows them (`flow status {run.id}`, `flow cancel {run.id}`)"
            )
        )

    # ------------------------------------------------------------------ listing
    async def _list(self, user_id: str, everyone: bool) -> r.FlowList:
        if everyone and not self.access.is_admin(user_id):
            raise AccessDenied("`flows --all` is for admins; `flows` shows your runs")
        runs = await self.store.of_user(None if everyone else user_id, limit=MAX_LISTED)
        summaries = [
            r.FlowSummary(
                id=run.id,
                name=run.name,
                cluster=run.cluster,
                account=run.account,
                channel=run.channel,
                created=run.created,
                jobs=len(run.steps()),
                tally=dict(tally(run)),
                outcome=run.outcome,
            )
            for run in runs[:MAX_LISTED]
        ]
        scope = "all users" if everyone else self.access.account(user_id)
        return r.FlowList(scope=scope, runs=summaries)

    async def _own_run(self, user_id: str, run_id: str) -> FlowRun:
        run = await self.store.get(run_id)
        if run is None:
            raise UsageError(f"no workflow run {run_id}; `flows` lists yours")
        if run.user_id != user_id and not self.access.is_admin(user_id):
            raise AccessDenied(f"run {run_id} is someone else's; `flows` lists yours")
        return run


async def live(client: SlurmClient, run: FlowRun) -> FlowRun:
    """The run with its jobs' states as Slurm has them now (for `flow status` and Refresh);
    nothing is saved or posted: the poll does that, once."""
    ids = run.live_ids()
    if not ids:
        return run
    status = (await client.survey(None, ids)).status
    cells = []
    for cell in run.cells:
        steps = []
        for s in cell.steps:
            info = status.get(s.job_id or "")
            if info is not None and info.state not in (JobState.UNKNOWN, JobState.NOT_FOUND):
                s = s.model_copy(
                    update={"state": info.state, "elapsed": info.elapsed, "reason": info.reason}
                )
            steps.append(s)
        cells.append(cell.model_copy(update={"steps": steps}))
    return run.model_copy(update={"cells": cells})


async def _text(client: SlurmClient, source: c.FlowSource) -> str:
    if source.text is not None:
        if len(source.text.encode()) > MAX_FLOW_BYTES:
            raise UsageError(f"the workflow is larger than {MAX_FLOW_BYTES // 1024} KiB")
        return source.text
    assert source.path is not None  # the grammar gives a path or a text
    return await client.read_script(source.path, what="workflow")


def _partitions(cell: FlowCell) -> set[str]:
    return {m for s in cell.steps for m in _PARTITION_RE.findall(s.script)}


def _scripts(planned: list[FlowCell]) -> list[r.FlowScript]:
    """Every job's script and sbatch argv, the run and the parents' ids shown by name (none
    exist yet)."""
    unsaved = FlowRun(
        id="f<run>", name="", cluster="", user_id="", account="", channel="", source="",
        cells=planned,
    )  # fmt: skip
    shown: list[r.FlowScript] = []
    for cell in planned:
        steps = {s.name: s.model_copy(update={"job_id": f"<{s.slurm_name}>"}) for s in cell.steps}
        for s in cell.steps:
            argv = sbatch_argv(options(unsaved, s, steps))
            shown.append(r.FlowScript(name=s.slurm_name, sbatch=tuple(argv), script=s.script))
    return shown
