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

from bot.config import NotifyConfig
from bot.core.access import Access
from bot.core.clusters import Clusters
from bot.core.jobtext import final_summary, time_warning_text, transition_text
from bot.core.models import JobInfo, JobState, duration_seconds
from bot.core.ports import ThreadOutbox, ThreadPost
from bot.core.records import JobThread, Watch
from bot.core.slurm.client import SlurmClient, Survey
from bot.core.watches.store import WatchStore
from bot.errors import BotError, TakenElsewhere

log = logging.getLogger(__name__)


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
        self,
        access: Access,
        clusters: Clusters,
        store: WatchStore,
        notifier: ThreadOutbox,
        notify: NotifyConfig,
    ) -> None:
        self.access = access
        self.clusters = clusters
        self.store = store
        self.notifier = notifier
        self.notify = notify
        self._outage: dict[tuple[str, str], str] = {}  # (cluster, account) -> the reason announced

    # ------------------------------------------------------------------ following
    async def follow(
        self,
        *,
        cluster: str,
        job_id: str,
        user_id: str,
        channel: str,
        card_ts: str = "",
        thread_ts: str | None = None,
        name: str = "",
        broadcast: bool = False,
    ) -> JobThread:
        """Start a job's thread under an already posted card (submit, `watch job`); with no
        `card_ts` (Slack did not take the card), the next tick posts the card first."""
        existing = await self.store.thread(cluster, job_id)
        if existing is not None and not existing.done:
            return existing
        thread = JobThread(
            cluster=cluster,
            job_id=job_id,
            account=self.access.account(user_id),
            user_id=user_id,
            channel=channel,
            card_ts=card_ts,
            thread_ts=thread_ts or card_ts,
            name=name,
            broadcast=broadcast,
        )
        await self.store.save_thread(thread, now=True)  # its card is out: never a second one
        return thread

    # ------------------------------------------------------------------ polling
    async def tick(self, cluster: str) -> TickReport:
        """One poll of a cluster. Its saves are one durable write at its end, except those
        that must precede or follow a post at once (intents, new cards, warnings): a crash
        before the end loses only post-marks, and each is found again from its intent."""
        async with self.store.batch():
            report = await self._tick(cluster)
        await self.store.prune()
        return report

    async def _tick(self, cluster: str) -> TickReport:
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
        followed = {t.job_id for t in threads}
        failed: dict[str, str] = {}  # account -> why its jobs could not be read
        for account, user_id in users.items():
            own = [w for w in mine if w.account == account]
            problem = await self._poll_account(
                report, cluster, account, user_id, by_account[account], own, followed
            )
            if problem is not None:
                failed[account] = problem
                report.problems.append(problem)
        await self._announce(cluster, threads, mine, failed)
        return report

    async def _poll_account(
        self,
        report: TickReport,
        cluster: str,
        account: str,
        user_id: str,
        threads: list[JobThread],
        mine: list[Watch],
        followed: set[str],
    ) -> str | None:
        """One account's survey and what it changed; why, when its jobs could not be read.
        One account's failure never stops the others' polling."""
        try:
            _, client = self.clusters.client(user_id, cluster)
        except BotError as e:  # the user was unmapped since: stop acting for them
            return str(e)
        report.accounts += 1
        try:
            survey = await client.survey(account if mine else None, [t.job_id for t in threads])
        except BotError as e:
            return str(e)
        except Exception:
            log.exception("surveying the jobs of %s on %s failed", account, cluster)
            return f"the jobs of {account} could not be read; see the log"
        for t in threads:
            report.posted += await self._advance(client, t, survey.status[t.job_id])
        for w in mine:
            await self._discover(w, survey, followed)
        if survey.problem and all(i.state == JobState.UNKNOWN for i in survey.status.values()):
            return survey.problem
        return None

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
        if not thread.card_ts:
            carded = await self._post_missing_card(thread, info)
            if carded is None:
                return 0
            thread = carded
        if thread.in_flight is not None:
            thread = await self._resolve_in_flight(thread, info)
        if info.state == thread.state:
            if info.tasks != thread.tasks:  # an array's tally moved: the card shows it live
                thread = thread.model_copy(update={"tasks": info.tasks})
                await self.store.save_thread(thread)
                await _logged(self.notifier.update_card(thread, info), "updating a card")
            return await self._maybe_warn(thread, info)
        if info.state == JobState.NOT_FOUND:
            await self.store.save_thread(thread.model_copy(update={"done": True}), now=True)
            note = f"Slurm no longer knows job {thread.job_id}; stopped following it"
            return int(
                await _logged(self.notifier.post_reply(thread, ThreadPost(note)), "posting a reply")
            )
        final = info.state.is_terminal
        text = await self._final_text(client, info) if final else transition_text(info)
        seq = thread.seq + 1
        intent = thread.model_copy(update={"in_flight": f"{seq}:{info.state.value}"})

        async def record_intent() -> None:
            # Saved as the message leaves, not while it queues for the channel: a crash in
            # between is resolved by looking in the thread (_resolve_in_flight).
            await self.store.record_intent(intent)

        try:
            post = ThreadPost(text, final=final, seq=seq, before_send=record_intent)
            await self.notifier.post_reply(intent, post)
        except TakenElsewhere:  # another replica posts it: its record is the one to keep
            return 0
        except Exception:
            # Slack said no (or could not be reached): nothing was posted, try next tick.
            log.exception("posting to job %s's thread failed", thread.job_id)
            await self.store.save_thread(thread)
            return 0
        posted = intent.model_copy(
            update={
                "seq": seq,
                "state": info.state,
                "in_flight": None,
                "done": final,
                "tasks": info.tasks,
            }
        )
        await self.store.save_thread(posted)
        await _logged(self.notifier.update_card(posted, info), "updating a card")
        return 1

    async def _post_missing_card(self, thread: JobThread, info: JobInfo) -> JobThread | None:
        """The card Slack did not take at submit; its thread starts under it. None (logged):
        still not posted, the next tick tries again."""
        try:
            ts = await self.notifier.post_card(
                thread.channel, thread.thread_ts or None, thread.cluster, info
            )
        except Exception:
            log.exception("posting the card of job %s failed", thread.job_id)
            return None
        carded = thread.model_copy(update={"card_ts": ts, "thread_ts": thread.thread_ts or ts})
        await self.store.save_thread(carded, now=True)
        return carded

    async def _resolve_in_flight(self, thread: JobThread, info: JobInfo) -> JobThread:
        """The bot died between recording a transition and hearing Slack's answer: look for it
        in the thread. Found: it was posted. Not found, or the thread cannot be read: it goes
        out again (a rare duplicate beats a lost end notice)."""
        assert thread.in_flight is not None
        seq_text, _, state_text = thread.in_flight.partition(":")
        seq, state = int(seq_text), JobState(state_text)
        try:
            found = await self.notifier.posted_in_thread(thread, seq)
        except Exception:
            log.exception("looking in job %s's thread failed", thread.job_id)
            found = False
        update: dict[str, object] = {"in_flight": None}
        if found:
            update |= {"seq": seq, "state": state, "done": state.is_terminal}
        resolved = thread.model_copy(update=update)
        await self.store.save_thread(resolved)
        if found:  # the card may not have caught up before the crash
            await _logged(self.notifier.update_card(resolved, info), "updating a card")
        return resolved

    async def _final_text(self, client: SlurmClient, info: JobInfo) -> str:
        try:
            usage = await client.usage(info.job_id) if not info.tasks else None
        except BotError:
            usage = None
        try:
            out = await client.tail(info.job_id, 10) if not info.tasks else None
        except BotError:
            out = None
        return final_summary(info, usage, out)

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
        warning = time_warning_text(info, max(0, limit - used))
        await self.notifier.post_reply(thread, ThreadPost(warning))
        await self.store.save_thread(thread.model_copy(update={"time_warned": True}), now=True)
        return 1

    async def _notice(self, channel: str, text: str) -> None:
        await _logged(self.notifier.post_notice(channel, text), "posting a notice")

    async def _announce(
        self,
        cluster: str,
        threads: list[JobThread],
        mine: list[Watch],
        failed: dict[str, str],
    ) -> None:
        """At most one notice per account's outage and one "back" notice after it, each only in
        the channels that follow that account's jobs: one account's broken key is not news to
        the others. When every account fails alike the cluster itself is down, and says so."""
        channels: dict[str, set[str]] = defaultdict(set)
        for account, channel in [(t.account, t.channel) for t in threads] + [
            (w.account, w.channel) for w in mine
        ]:
            channels[account].add(channel)
        whole = len(failed) == len(channels) and len(set(failed.values())) == 1
        news: dict[str, str] = {}  # channel -> its one notice this tick
        for account in sorted(channels):
            key = (cluster, account)
            reason = failed.get(account)
            if reason is not None and key not in self._outage:
                self._outage[key] = reason
                what = (
                    f"cluster {cluster} cannot be reached"
                    if whole
                    else f"the jobs of {account} on {cluster} cannot be read"
                )
                text = (
                    f"{what}: {reason}. Job states stay as they were; updates resume when it "
                    "answers again."
                )
            elif reason is None and key in self._outage:
                del self._outage[key]
                text = f"cluster {cluster} answers again; catching up on what changed."
            else:
                continue
            for ch in channels[account]:
                news.setdefault(ch, text)
        for ch, text in sorted(news.items()):
            await self._notice(ch, text)


async def _logged(call: Awaitable[None], what: str) -> bool:
    """Await a Slack call whose failure must not stop the tick; False (logged) if it failed."""
    try:
        await call
    except Exception:
        log.exception("%s failed", what)
        return False
    return True
