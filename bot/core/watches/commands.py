"""`watch job`, `watch mine`, `watch gpus`, `watches`, `unwatch`: what a user follows and
where it posts."""

from __future__ import annotations

from bot.core import commands as c
from bot.core import replies as r
from bot.core.access import Access
from bot.core.clusters import Clusters
from bot.core.models import JobInfo, JobState
from bot.core.ports import TERMINAL
from bot.core.records import JobThread, Watch
from bot.core.replies import where
from bot.core.watches.gpus import GpuWatcher
from bot.core.watches.monitor import JobMonitor, array_parent
from bot.errors import AccessDenied, SlurmError, UsageError

WatchCommand = c.WatchJob | c.WatchMine | c.ListWatches | c.Unwatch | c.WatchGpus
WATCH_COMMANDS = (c.WatchJob, c.WatchMine, c.ListWatches, c.Unwatch, c.WatchGpus)


class WatchCommands:
    def __init__(
        self, access: Access, clusters: Clusters, monitor: JobMonitor, gpus: GpuWatcher
    ) -> None:
        self.access = access
        self.clusters = clusters
        self.monitor = monitor
        self.gpus = gpus
        self.store = monitor.store

    async def run(self, user_id: str, cluster: str, cmd: WatchCommand, channel: str) -> r.Reply:
        match cmd:
            case c.WatchGpus():
                return r.Done(text=await self.gpus.watch(user_id, cmd, channel))
            case c.WatchJob():
                return r.Done(text=await self.watch_job(user_id, cluster, cmd.job_id, channel))
            case c.WatchMine():
                return r.Done(text=await self.watch_mine(user_id, cluster, channel))
            case c.Unwatch():
                return r.Done(text=await self.unwatch(user_id, cluster, cmd.target))
        scope, items = await self.list(user_id)
        return r.WatchesReply(scope=scope, watches=items)

    async def watch_job(self, user_id: str, cluster: str, job_id: str, channel: str) -> str:
        _, client = self.clusters.client(user_id, cluster)
        account = self.access.account(user_id)
        info = await client.job(job_id)
        if info.state == JobState.NOT_FOUND:
            raise UsageError(f"no job {job_id} on {cluster}")
        if not self.access.is_admin(user_id):
            _check_owner(info, job_id, account)
        if info.state.is_terminal:
            raise UsageError(f"job {job_id} already ended ({info.state.value}); `status {job_id}`")
        existing = await self.store.thread(cluster, job_id)
        if existing is None or existing.done:
            ts = await self.monitor.notifier.post_card(channel, None, cluster, info)
            await self.monitor.follow(
                cluster=cluster,
                job_id=job_id,
                user_id=user_id,
                channel=channel,
                card_ts=ts,
                name=info.name,
            )
        watch = await self.store.add_watch(
            Watch(
                kind="job",
                user_id=user_id,
                account=account,
                cluster=cluster,
                channel=channel,
                job_id=job_id,
            )
        )
        lands = "printed here" if channel == TERMINAL else "posted in its thread"
        return f"watching job {job_id} on {cluster} (watch {watch.id}): each change is {lands}"

    async def watch_mine(self, user_id: str, cluster: str, channel: str) -> str:
        _, client = self.clusters.client(user_id, cluster)
        account = self.access.account(user_id)
        mine = [
            w
            for w in await self.store.watches(user_id)
            if w.kind == "mine" and w.cluster == cluster
        ]
        if mine:  # one `watch mine` per user and cluster: new jobs' threads go to one channel
            await self.store.remove_watches([w.id for w in mine[1:]])
            return await self._move_mine(mine[0], channel)
        survey = await client.survey(account, [])
        if survey.problem and not survey.jobs:
            raise SlurmError(f"cannot list your jobs on {cluster} now: {survey.problem}")
        ended = sorted({array_parent(j.job_id) for j in survey.jobs if j.state.is_terminal})
        watch = await self.store.add_watch(
            Watch(
                kind="mine",
                user_id=user_id,
                account=account,
                cluster=cluster,
                channel=channel,
                baseline=ended,
            )
        )
        return f"watching all jobs of {account} on {cluster}, new ones too (watch {watch.id}): " + (
            "their changes are printed here"
            if channel == TERMINAL
            else "each gets its own thread here"
        )

    async def _move_mine(self, watch: Watch, channel: str) -> str:
        if watch.channel == channel:
            return (
                f"already watching all jobs of {watch.account} on {watch.cluster} here "
                f"(watch {watch.id})"
            )
        await self.store.save_watch(watch.model_copy(update={"channel": channel}))
        return (
            f"moved your `watch mine` on {watch.cluster} from "
            f"{where(watch.channel).removeprefix('in ')} to here: new jobs get their threads "
            "here (threads already open stay where they are)"
        )

    async def list(self, user_id: str) -> tuple[str, list[Watch]]:
        admin = self.access.is_admin(user_id)
        return ("all users" if admin else "you"), await self.store.watches(
            None if admin else user_id
        )

    async def unwatch(self, user_id: str, cluster: str, target: str) -> str:
        scope, watches = await self.list(user_id)
        job_id = target if target[:1].isdigit() else None
        if target == "mine":
            gone = [
                w
                for w in watches
                if w.kind == "mine" and w.user_id == user_id and w.cluster == cluster
            ]
        else:
            gone = [
                w
                for w in watches
                if w.id == target or (w.job_id == target and w.cluster == cluster)
            ]
        jobs = {(w.cluster, w.job_id) for w in gone if w.job_id} | (
            {(cluster, job_id)} if job_id else set()
        )
        threads = [t for c, j in sorted(jobs) if (t := await self.store.thread(c, j))]
        if not gone and not threads and target != "mine":
            raise UsageError(f"no watch `{target}` of {scope}; `watches` lists them")
        # A job's thread is its owner's: another user's unwatch stops only their own watches.
        mine = [t for t in threads if self._owns(user_id, t)]
        kept = [t for t in threads if not t.done and not self._owns(user_id, t)]
        if not gone and kept:
            raise UsageError(
                f"job {target} on {cluster} is followed by someone else; you can stop "
                "following only your own jobs (`watches` lists yours)"
            )
        await self.store.remove_watches([w.id for w in gone])
        for t in mine:
            await self.store.close_threads(t.cluster, [t.job_id])
        parts = [f"stopped {len(gone)} watch{'es' if len(gone) != 1 else ''}"]
        parts += [f"job {t.job_id} is no longer followed" for t in mine]
        parts += [f"job {t.job_id} stays followed in its owner's thread" for t in kept]
        return "; ".join(parts)

    def _owns(self, user_id: str, thread: JobThread) -> bool:
        return thread.user_id == user_id or self.access.is_admin(user_id)


def _check_owner(info: JobInfo, job_id: str, account: str) -> None:
    """Fail closed: a job whose owner cannot be read now is followed by nobody but admins."""
    if not info.user:
        why = (
            info.reason or "Slurm did not answer"
            if info.state == JobState.UNKNOWN
            else "Slurm has no user recorded for it"
        )
        raise SlurmError(
            f"cannot check who owns job {job_id} right now ({why}); "
            "try again when the cluster answers"
        )
    if info.user != account:
        raise AccessDenied(f"job {job_id} belongs to {info.user}; you can watch your own jobs")
