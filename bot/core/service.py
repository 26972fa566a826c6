"""The Slack-free core: who may do what, and running a parsed command as that user's account.

Every surface (Slack listeners, console, tests) calls `Service.handle(user_id, text)`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import yaml

from bot.config import ClusterConfig, Config, UserGrant
from bot.core import commands as c
from bot.core import replies as r
from bot.core.audit import AuditLog
from bot.core.grammar import help_text, parse
from bot.core.models import JobState
from bot.core.prefs import Prefs
from bot.core.reports import read_part
from bot.core.script import ScriptRenderer
from bot.core.slurm.client import SlurmClient
from bot.errors import AccessDenied, BotError, UsageError
from bot.transport.pool import TransportPool

if TYPE_CHECKING:
    from bot.core.gpuwatch import GpuWatcher
    from bot.core.monitor import JobMonitor
    from bot.core.report_scheduler import ReportScheduler

REACH_TIMEOUT = 5.0  # `clusters`: how long to wait for each cluster's answer

log = logging.getLogger(__name__)


class NotSetUp(AccessDenied):
    """A Slack user with no cluster account; `mentions`: the admins the message names."""

    def __init__(self, message: str, mentions: list[str]) -> None:
        super().__init__(message)
        self.mentions = mentions


def error_reply(e: BotError) -> r.ErrorReply:
    """The reply for an error, keeping the mentions the bot means to make."""
    return r.ErrorReply(message=str(e), mentions=e.mentions if isinstance(e, NotSetUp) else [])


class Service:
    def __init__(
        self,
        config: Config,
        pool: TransportPool | None = None,
        renderer: ScriptRenderer | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.config = config
        self.audit = audit
        # Set by the Slack app: watches, GPU watches and schedules post into Slack.
        self.monitor: JobMonitor | None = None
        self.gpus: GpuWatcher | None = None
        self.reports: ReportScheduler | None = None
        self.prefs = Prefs()
        self.pool = pool or TransportPool()
        self.renderer = renderer or ScriptRenderer(config.templates, config.templates_dir)
        self._clients: dict[tuple[str, str], SlurmClient] = {}

    # ------------------------------------------------------------------ access
    def grant(self, user_id: str) -> UserGrant:
        grant = self.config.access.users.get(user_id)
        if grant is None:
            ids = list(self.config.access.admins)
            admins = ", ".join(f"<@{a}>" for a in ids) or "your admins"
            raise NotSetUp(
                f"you are not set up to use srunx-bot yet; ask {admins} to map your Slack user "
                f"({user_id}) to your cluster account in access.users",
                ids,
            )
        return grant

    def check_channel(self, channel: str | None, dm: bool) -> None:
        """`access.channels` limits where the bot answers; DMs and the console always work."""
        allowed = self.config.access.channels
        if channel is None or dm or not allowed or channel in allowed:
            return
        where = ", ".join(f"<#{ch}>" for ch in allowed)
        raise AccessDenied(f"srunx-bot does not answer in this channel; use it in {where} or DM me")

    def default_cluster(self, user_id: str) -> ClusterConfig:
        """The cluster set with `use`, if still configured; else the first one."""
        chosen = self.prefs.default_cluster(user_id)
        if chosen in self.config.cluster_names:
            return self.config.cluster(chosen)
        return self.config.clusters[0]

    def client(self, user_id: str, cluster: str | None) -> tuple[ClusterConfig, SlurmClient]:
        grant = self.grant(user_id)
        cfg = self.config.cluster(cluster) if cluster else self.default_cluster(user_id)
        key = (cfg.name, grant.account)
        if key not in self._clients:
            transport = self.pool.get(cfg, grant.account, grant.key_file)
            self._clients[key] = SlurmClient(transport, cfg.name)
        return cfg, self._clients[key]

    # ------------------------------------------------------------------ entry point
    async def handle(
        self, user_id: str, text: str, *, channel: str | None = None, dm: bool = False
    ) -> r.Reply:
        """Parse and run one command; every failure becomes an ErrorReply, never a raise."""
        return await self.run(user_id, None, text=text, channel=channel, dm=dm)

    async def run(
        self,
        user_id: str,
        cmd: c.Command | None,
        *,
        text: str,
        channel: str | None = None,
        dm: bool = False,
    ) -> r.Reply:
        """Run a command parsed already (a form's) or, with `cmd=None`, `text`; audited."""
        reply: r.Reply
        try:
            self.grant(user_id)
            self.check_channel(channel, dm)
            reply = await self.execute(user_id, cmd or parse(text), channel, dm)
        except BotError as e:
            reply = error_reply(e)
        except Exception:
            log.exception("command failed: %r", text[:200])
            reply = r.ErrorReply(
                message="something went wrong on the bot's side; the error is in its log"
            )
        if self.audit is not None:
            grant = self.config.access.users.get(user_id)
            outcome = f"error: {reply.message}" if isinstance(reply, r.ErrorReply) else reply.kind
            if isinstance(reply, r.Submitted):
                outcome += f" job {reply.job_id} on {reply.cluster}"
            await self.audit.record(
                user=user_id,
                channel=channel,
                account=grant.account if grant else None,
                command=text,
                outcome=outcome,
            )
        return reply

    async def execute(
        self, user_id: str, cmd: c.Command, channel: str | None = None, dm: bool = False
    ) -> r.Reply:
        if isinstance(cmd, c.Help):
            return r.HelpReply(text=help_text(cmd.topic))
        if isinstance(cmd, c.Clusters):
            return await self._clusters(user_id)
        if isinstance(cmd, c.UseCluster):
            cfg = self.config.cluster(cmd.name)
            await self.prefs.set_default_cluster(user_id, cfg.name)
            return r.Done(text=f"your default cluster is now {cfg.name}")
        if isinstance(cmd, c.ReportNow | c.ReportEvery | c.ReportStop | c.ListReports):
            return await self._report(user_id, cmd, channel, dm)
        if isinstance(cmd, c.ConfigShow):
            if not self.config.is_admin(user_id):
                raise AccessDenied("`config show` is for admins")
            # No secrets live in the config (tokens come from the environment): paths only.
            text = yaml.safe_dump(self.config.model_dump(mode="json"), sort_keys=False)
            return r.ConfigReply(text=text)
        cluster, client = self.client(user_id, cmd.cluster)
        account = self.grant(user_id).account
        if isinstance(cmd, c.WatchJob | c.WatchMine | c.ListWatches | c.Unwatch | c.WatchGpus):
            return await self._watch(user_id, cluster.name, cmd, channel)
        match cmd:
            case c.SubmitForm():
                try:
                    partitions = await client.partitions()
                except BotError:
                    partitions = []  # the form then asks for the partition as text
                return r.SubmitFormReply(
                    cluster=cluster.name,
                    partitions=partitions,
                    default_partition=cluster.default_partition,
                )
            case c.Submit():
                return await self._submit(cluster, client, account, cmd)
            case c.Status():
                job = await client.job(cmd.job_id)
                if job.state == JobState.NOT_FOUND:
                    raise UsageError(f"no job {cmd.job_id} on {cluster.name}")
                return r.StatusReply(cluster=cluster.name, job=job)
            case c.ListJobs():
                if cmd.all and not self.config.is_admin(user_id):
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
        raise UsageError(f"`{cmd.kind}` is not available here")

    async def _watch(
        self,
        user_id: str,
        cluster: str,
        cmd: c.WatchJob | c.WatchMine | c.ListWatches | c.Unwatch | c.WatchGpus,
        channel: str | None,
    ) -> r.Reply:
        if self.monitor is None or channel is None:
            raise UsageError("watches post into Slack threads: use them in Slack (`bot serve`)")
        from bot.core.monitor import WatchCommands

        watches = WatchCommands(self.monitor)
        match cmd:
            case c.WatchGpus():
                if self.gpus is None:
                    raise UsageError("GPU watches post into Slack: use them in Slack")
                return r.Done(text=await self.gpus.watch(user_id, cmd, channel))
            case c.WatchJob():
                return r.Done(text=await watches.watch_job(user_id, cluster, cmd.job_id, channel))
            case c.WatchMine():
                return r.Done(text=await watches.watch_mine(user_id, cluster, channel))
            case c.Unwatch():
                return r.Done(text=await watches.unwatch(user_id, cluster, cmd.target))
        scope, items = await watches.list(user_id)
        return r.WatchesReply(scope=scope, watches=items)

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
        log.info("submitted job %s on %s as %s", job_id, cluster.name, account)
        return r.Submitted(
            cluster=cluster.name,
            account=account,
            job_id=job_id,
            job=job,
            notify_channel=cmd.notify_channel,
        )

    async def _report(
        self,
        user_id: str,
        cmd: c.ReportNow | c.ReportEvery | c.ReportStop | c.ListReports,
        channel: str | None,
        dm: bool,
    ) -> r.Reply:
        if self.reports is None:
            if isinstance(cmd, c.ReportNow) and cmd.channel is None:
                from bot.core.report_scheduler import build_report

                return await build_report(self, user_id, cmd.cluster, cmd)
            raise UsageError("reports into channels are posted by the Slack bot: use Slack")
        match cmd:
            case c.ReportNow():
                return await self.reports.now(user_id, cmd, channel)
            case c.ReportEvery():
                return await self.reports.every(user_id, cmd, channel, dm)
            case c.ReportStop():
                return await self.reports.stop(user_id, cmd)
        return await self.reports.list(user_id)

    async def home(self, user_id: str) -> r.HomeReply:
        """The App Home tab of one user: their jobs, free GPUs, watches and reports."""
        cluster, client = self.client(user_id, None)
        account = self.grant(user_id).account
        problems: list[str] = []
        jobs, snapshot = await asyncio.gather(
            read_part("jobs", client.list_jobs(account), problems),
            read_part("GPUs", client.resources(), problems),
        )
        watches = await self.monitor.store.watches(user_id) if self.monitor else []
        reports = (await self.reports.list(user_id)).reports if self.reports else []
        return r.HomeReply(
            cluster=cluster.name,
            account=account,
            jobs=jobs,
            snapshot=snapshot,
            watches=watches,
            reports=[x for x in reports if x.user_id == user_id],
            problems=problems,
        )

    async def _clusters(self, user_id: str) -> r.ClustersReply:
        """Every configured cluster, asked at once whether it answers (as the caller)."""
        default = self.default_cluster(user_id).name

        async def one(cl: ClusterConfig) -> r.ClusterSummary:
            where = cl.ssh_config_host or (f"{cl.host}:{cl.port}" if cl.host else "local")
            if cl.proxy_jump:
                where += f" via {cl.proxy_jump}"
            _, client = self.client(user_id, cl.name)
            t0 = time.perf_counter()
            try:
                parts = await asyncio.wait_for(client.ping(), REACH_TIMEOUT)
                ok = True
                detail = f"{len(parts)} partitions, {1000 * (time.perf_counter() - t0):.0f} ms"
            except TimeoutError:
                ok, detail = False, f"no answer within {REACH_TIMEOUT:.0f} s"
            except BotError as e:
                ok, detail = False, str(e)
            return r.ClusterSummary(
                name=cl.name,
                where=where,
                default_partition=cl.default_partition,
                is_default=cl.name == default,
                reachable=ok,
                detail=detail,
            )

        items = await asyncio.gather(*(one(cl) for cl in self.config.clusters))
        return r.ClustersReply(clusters=list(items))

    async def close(self) -> None:
        await self.pool.close()
