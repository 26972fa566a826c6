"""Follows jobs and posts every state change into the job's own thread, exactly once.

One tick per cluster: per cluster account, one `squeue` (all of the account's jobs, or just the
followed ids) and at most one `sacct`, never one command per watch. State that could not be read
(cluster unreachable, controller down) changes nothing: the last posted state stays, one
"unreachable" notice goes to the channels concerned, and one "back" notice when it answers again;
what happened meanwhile is then posted as usual.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Protocol

from bot.config import NotifyConfig
from bot.core.jobtext import final_summary, time_warning_text, transition_text
from bot.core.models import JobInfo, JobState, duration_seconds
from bot.core.service import Service
from bot.core.slurm.client import SlurmClient, Survey
from bot.core.watches import JobThread, Watch, WatchStore
from bot.errors import AccessDenied, BotError, SlurmError, UsageError

log = logging.getLogger(__name__)


class Notifier(Protocol):
    """Where a monitor's messages go (the Slack layer implements it)."""

    async def post_card(
        self, channel: str, thread_ts: str | None, cluster: str, job: JobInfo
    ) -> str:
        """Post a job's card; return its ts."""
        ...

    async def update_card(self, thread: JobThread, job: JobInfo) -> None: ...

    async def post_reply(self, thread: JobThread, text: str, *, final: bool = False) -> None: ...

    async def post_notice(self, channel: str, text: str) -> None: ...


@dataclass
class TickReport:
    cluster: str
    accounts: int = 0
    posted: int = 0
    problems: list[str] = field(default_factory=list)


def array_parent(job_id: str) -> str:
    return job_id.split("_", 1)[0]


class JobMonitor:
    def __init__(
        self, service: Service, store: WatchStore, notifier: Notifier, notify: NotifyConfig
    ) -> None:
        self.service = service
        self.store = store
        self.notifier = notifier
        self.notify = notify
        self._outage: dict[str, str] = {}  # cluster -> the reason announced

    # ------------------------------------------------------------------ following
    async def follow(
        self,
        *,
        cluster: str,
        job_id: str,
        user_id: str,
        channel: str,
        card_ts: str,
        thread_ts: str | None = None,
        name: str = "",
        broadcast: bool = False,
    ) -> JobThread:
        """Start a job's thread under an already posted card (submit, `watch job`)."""
        existing = await self.store.thread(cluster, job_id)
        if existing is not None and not existing.done:
            return existing
        thread = JobThread(
            cluster=cluster,
            job_id=job_id,
            account=self.service.grant(user_id).account,
            user_id=user_id,
            channel=channel,
            card_ts=card_ts,
            thread_ts=thread_ts or card_ts,
            name=name,
            broadcast=broadcast,
        )
        await self.store.save_thread(thread)
        return thread

    # ------------------------------------------------------------------ polling
    async def tick(self, cluster: str) -> TickReport:
        report = TickReport(cluster)
        threads = await self.store.open_threads(cluster)
        mine = await self.store.mine_watches(cluster)
        users: dict[str, str] = {}  # account -> a Slack user acting as it
        for account, user_id in [(t.account, t.user_id) for t in threads] + [
            (w.account, w.user_id) for w in mine
        ]:
            users.setdefault(account, user_id)
        by_account: dict[str, list[JobThread]] = defaultdict(list)
        for t in threads:
            by_account[t.account].append(t)
        for account, user_id in users.items():
            try:
                _, client = self.service.client(user_id, cluster)
            except BotError as e:  # the user was unmapped since: stop acting for them
                report.problems.append(str(e))
                continue
            report.accounts += 1
            wants_all = any(w.account == account for w in mine)
            ids = [t.job_id for t in by_account[account]]
            survey = await client.survey(account if wants_all else None, ids)
            if survey.problem and all(i.state == JobState.UNKNOWN for i in survey.status.values()):
                report.problems.append(survey.problem)
            for t in by_account[account]:
                report.posted += await self._advance(client, t, survey.status[t.job_id])
            for w in (w for w in mine if w.account == account):
                await self._discover(w, survey, {t.job_id for t in threads})
        await self._announce(cluster, threads, mine, report.problems)
        return report

    async def _discover(self, watch: Watch, survey: Survey, followed: set[str]) -> None:
        """`watch mine`: open a thread for each job of the account not followed yet."""
        skip = followed | set(watch.baseline)
        for job in survey.jobs:
            job_id = array_parent(job.job_id)
            if job_id in skip:
                continue
            skip.add(job_id)
            existing = await self.store.thread(watch.cluster, job_id)
            if existing is not None:
                continue
            try:
                ts = await self.notifier.post_card(watch.channel, None, watch.cluster, job)
            except Exception:  # not posted: the next tick finds the job again and retries
                log.exception("posting a card for job %s failed", job_id)
                continue
            await self.follow(
                cluster=watch.cluster,
                job_id=job_id,
                user_id=watch.user_id,
                channel=watch.channel,
                card_ts=ts,
                name=job.name,
            )

    async def _advance(self, client: SlurmClient, thread: JobThread, info: JobInfo) -> int:
        """Post what changed since the thread's last post; returns messages posted."""
        if info.state == JobState.UNKNOWN:
            return 0  # could not look: keep the last known state, post nothing false
        if thread.in_flight is not None:
            # The bot died while posting this transition: it may be in Slack already. Count it
            # as posted rather than risk a double post.
            seq, _, state = thread.in_flight.partition(":")
            thread = thread.model_copy(
                update={"seq": int(seq), "state": JobState(state), "in_flight": None}
            )
            await self.store.save_thread(thread)
        if info.state == thread.state:
            if info.tasks != thread.tasks:  # an array's tally moved: the card shows it live
                thread = thread.model_copy(update={"tasks": info.tasks})
                await self.store.save_thread(thread)
                await _logged(self.notifier.update_card(thread, info), "updating a card")
            return await self._maybe_warn(thread, info)
        if info.state == JobState.NOT_FOUND:
            await self.store.save_thread(thread.model_copy(update={"done": True}))
            note = f"Slurm no longer knows job {thread.job_id}; stopped following it"
            return int(await _logged(self.notifier.post_reply(thread, note), "posting a reply"))
        final = info.state.is_terminal
        text = await self._final_text(client, info) if final else transition_text(info)
        before = thread
        thread = thread.model_copy(update={"in_flight": f"{thread.seq + 1}:{info.state.value}"})
        await self.store.save_thread(thread)  # intent first: a crash now can't cause a repost
        try:
            await self.notifier.post_reply(thread, text, final=final)
        except Exception:
            # Slack said no (or could not be reached): nothing was posted, try next tick.
            log.exception("posting to job %s's thread failed", thread.job_id)
            await self.store.save_thread(before)
            return 0
        posted = thread.model_copy(
            update={
                "seq": thread.seq + 1,
                "state": info.state,
                "in_flight": None,
                "done": final,
                "tasks": info.tasks,
            }
        )
        await self.store.save_thread(posted)
        await _logged(self.notifier.update_card(posted, info), "updating a card")
        return 1

    async def _final_text(self, client: SlurmClient, info: JobInfo) -> str:
        try:
            usage = await client.usage(info.job_id) if not info.tasks else None
        except BotError:
            usage = None
        try:
            _, tail = await client.tail(info.job_id, 10) if not info.tasks else ("", "")
        except BotError:
            tail = ""
        return final_summary(info, usage, tail)

    async def _maybe_warn(self, thread: JobThread, info: JobInfo) -> int:
        if (
            info.state != JobState.RUNNING
            or thread.time_warned
            or not self.notify.time_limit_warning
        ):
            return 0
        limit, used = duration_seconds(info.time_limit), duration_seconds(info.elapsed)
        if limit is None or used is None or limit - used > self.notify.time_limit_warning:
            return 0
        await self.notifier.post_reply(thread, time_warning_text(info, max(0, limit - used)))
        await self.store.save_thread(thread.model_copy(update={"time_warned": True}))
        return 1

    async def _notice(self, channel: str, text: str) -> None:
        await _logged(self.notifier.post_notice(channel, text), "posting a notice")

    async def _announce(
        self, cluster: str, threads: list[JobThread], mine: list[Watch], problems: list[str]
    ) -> None:
        """At most one "unreachable" notice per outage, and one "back" notice after it."""
        channels = sorted({t.channel for t in threads} | {w.channel for w in mine})
        if problems and cluster not in self._outage:
            self._outage[cluster] = problems[0]
            for ch in channels:
                await self._notice(
                    ch,
                    f"cluster {cluster} cannot be reached: {problems[0]}. Job states stay "
                    "as they were; updates resume when it answers again.",
                )
        elif not problems and cluster in self._outage:
            del self._outage[cluster]
            for ch in channels:
                await self._notice(
                    ch, f"cluster {cluster} answers again; catching up on what changed."
                )


async def _logged(call: Awaitable[None], what: str) -> bool:
    """Await a Slack call whose failure must not stop the tick; False (logged) if it failed."""
    try:
        await call
    except Exception:
        log.exception("%s failed", what)
        return False
    return True


class WatchCommands:
    """`watch job`, `watch mine`, `watches`, `unwatch`: what a user follows and where."""

    def __init__(self, monitor: JobMonitor) -> None:
        self.monitor = monitor
        self.store = monitor.store
        self.service = monitor.service

    async def watch_job(self, user_id: str, cluster: str, job_id: str, channel: str) -> str:
        _, client = self.service.client(user_id, cluster)
        account = self.service.grant(user_id).account
        info = await client.job(job_id)
        if info.state == JobState.NOT_FOUND:
            raise UsageError(f"no job {job_id} on {cluster}")
        if info.user and info.user != account and not self.service.config.is_admin(user_id):
            raise AccessDenied(f"job {job_id} belongs to {info.user}; you can watch your own jobs")
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
        return f"watching job {job_id} on {cluster} (watch {watch.id}): changes go to its thread"

    async def watch_mine(self, user_id: str, cluster: str, channel: str) -> str:
        _, client = self.service.client(user_id, cluster)
        account = self.service.grant(user_id).account
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
        return (
            f"watching all jobs of {account} on {cluster}, new ones too (watch {watch.id}): "
            "each gets its own thread here"
        )

    async def list(self, user_id: str) -> tuple[str, list[Watch]]:
        admin = self.service.config.is_admin(user_id)
        return ("all users" if admin else "you"), await self.store.watches(
            None if admin else user_id
        )

    async def unwatch(self, user_id: str, cluster: str, target: str) -> str:
        scope, watches = await self.list(user_id)
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
        if not gone and target != "mine" and (await self.store.thread(cluster, target)) is None:
            raise UsageError(f"no watch `{target}` of {scope}; `watches` lists them")
        await self.store.remove_watches([w.id for w in gone])
        jobs = [w.job_id for w in gone if w.job_id] + ([target] if target[0].isdigit() else [])
        await self.store.close_threads(cluster, jobs)
        return f"stopped {len(gone)} watch{'es' if len(gone) != 1 else ''}" + (
            f"; job {target} is no longer followed" if target[0].isdigit() else ""
        )
