"""The job commands, each run as the caller's own cluster account."""

from __future__ import annotations

import logging
import re
from pathlib import PurePosixPath

from bot.config import ClusterConfig
from bot.core import commands as c
from bot.core import replies as r
from bot.core.access import Access
from bot.core.clusters import Clusters
from bot.core.defaults import JobDefaults
from bot.core.forms import initial_fields
from bot.core.models import Job, JobResource, JobState
from bot.core.script import ScriptRenderer
from bot.core.slurm.client import SlurmClient, sbatch_argv
from bot.errors import AccessDenied, BotError, UsageError

log = logging.getLogger(__name__)
_NAME_RE = re.compile(r"[\w.+:@-]{1,128}", re.ASCII)  # a script's file name as the job name

JobCommand = (
    c.SubmitForm
    | c.Submit
    | c.SubmitScript
    | c.Status
    | c.ListJobs
    | c.Cancel
    | c.Tail
    | c.Resources
    | c.History
)
JOB_COMMANDS = (
    c.SubmitForm, c.Submit, c.SubmitScript, c.Status, c.ListJobs, c.Cancel, c.Tail,
    c.Resources, c.History,
)  # fmt: skip


class Jobs:
    def __init__(
        self,
        access: Access,
        clusters: Clusters,
        renderer: ScriptRenderer,
        defaults: JobDefaults | None = None,
    ) -> None:
        self.access = access
        self.clusters = clusters
        self.renderer = renderer
        self.defaults = defaults  # None: the job as parsed (no configured defaults)

    async def run(self, user_id: str, cmd: JobCommand) -> r.Reply:
        cluster, client = self.clusters.client(user_id, cmd.cluster)
        account = self.access.account(user_id)
        match cmd:
            case c.SubmitForm():
                try:
                    partitions = await client.partitions()
                except BotError:
                    partitions = []  # the form then asks for the partition as text
                return self._form(user_id, cluster, partitions)
            case c.Submit():
                if self.defaults is not None:  # the fields with no flag, from the defaults
                    filled, _ = self.defaults.resolve(user_id, cluster, cmd.job, cmd.given)
                    cmd = cmd.model_copy(update={"job": filled})
                return await self._submit(cluster, client, account, cmd)
            case c.SubmitScript():
                return await self._submit_script(cluster, client, account, cmd)
            case c.Status():
                job = await client.job(cmd.job_id)
                if job.state == JobState.NOT_FOUND:
                    raise UsageError(f"no job {cmd.job_id} on {cluster.name}")
                return r.StatusReply(cluster=cluster.name, job=job)
            case c.ListJobs():
                if cmd.all and not self.access.is_admin(user_id):
                    raise AccessDenied("`list --all` is for admins; `list` shows your jobs")
                jobs = await client.list_jobs(None if cmd.all else account)
                return r.JobList(
                    cluster=cluster.name,
                    scope="all users" if cmd.all else account,
                    jobs=jobs,
                    show_gpus=cmd.gpus,
                )
            case c.Cancel():
                return r.Cancelled(cluster=cluster.name, job=await client.cancel(cmd.job_id))
            case c.Tail():
                out = await client.tail(cmd.job_id, cmd.lines)
                return r.TailReply(
                    cluster=cluster.name,
                    job_id=cmd.job_id,
                    path=out.path,
                    text=out.text,
                    cut_to=out.cut_to,
                )
            case c.Resources():
                return r.ResourcesReply(snapshot=await client.resources(cmd.partition))
            case c.History():
                records = await client.history(account, cmd.since)
                return r.HistoryReply(
                    cluster=cluster.name, account=account, since=cmd.since_text, records=records
                )

    def _form(
        self, user_id: str, cluster: ClusterConfig, partitions: list[str]
    ) -> r.SubmitFormReply:
        job = Job(command="true")
        if self.defaults is not None:
            job, _ = self.defaults.resolve(user_id, cluster, job, frozenset())
        initial = initial_fields(job)
        return r.SubmitFormReply(
            cluster=cluster.name,
            partitions=partitions,
            default_partition=initial.get("partition", cluster.default_partition),
            initial=initial,
            templates=self.renderer.names,
        )

    async def _submit(
        self, cluster: ClusterConfig, client: SlurmClient, account: str, cmd: c.Submit
    ) -> r.Reply:
        job = cmd.job
        partition = job.resources.partition or cluster.default_partition
        if partition:
            await client.check_partition(partition)
            job = job.model_copy(
                update={"resources": job.resources.model_copy(update={"partition": partition})}
            )
        script = self.renderer.render(job)
        if cmd.dry_run:
            return r.DryRun(cluster=cluster.name, script=script)
        job_id = await client.submit(script)
        return _submitted(cluster, account, job_id, job, cmd.notify_channel)

    async def _submit_script(
        self, cluster: ClusterConfig, client: SlurmClient, account: str, cmd: c.SubmitScript
    ) -> r.Reply:
        """An existing script: read as the caller (never run on the login node), rendered
        with its vars, to sbatch on stdin with only the flags the user gave as options."""
        if cmd.partition:
            await client.check_partition(cmd.partition)
        source = cmd.source if cmd.path is None else await client.read_script(cmd.path)
        assert source is not None  # the grammar gives a path or a block
        script = self.renderer.render_user_script(source, dict(cmd.variables))
        if cmd.dry_run:
            return r.DryRun(
                cluster=cluster.name, script=script, sbatch=tuple(sbatch_argv(cmd.options))
            )
        job_id = await client.submit(script, cmd.options)
        file = cmd.path or cmd.attached
        stem = PurePosixPath(file).stem if file else ""
        name = cmd.name or (stem if _NAME_RE.fullmatch(stem) else "script")
        if cmd.path:
            what = f"script {cmd.path}"
        elif cmd.attached:
            what = f"script {cmd.attached} (attached)"
        else:
            what = "script (fenced block)"
        partition, nodes = cmd.partition, 1
        if partition is None:  # the script's own #SBATCH lines chose: ask Slurm what they say
            try:
                info = await client.job(job_id)
                partition, nodes = info.partition or None, info.nodes or 1
            except BotError:
                pass  # the card then says "partition as the script sets it"
        resources = JobResource(partition=partition, nodes=nodes)
        job = Job(name=name, command=what, resources=resources)
        return _submitted(cluster, account, job_id, job, cmd.notify_channel)


def _submitted(
    cluster: ClusterConfig, account: str, job_id: str, job: Job, notify_channel: bool
) -> r.Submitted:
    log.info("submitted job %s on %s as %s", job_id, cluster.name, account)
    return r.Submitted(
        cluster=cluster.name,
        account=account,
        job_id=job_id,
        job=job,
        notify_channel=notify_channel,
    )
