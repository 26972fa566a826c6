"""What every listener needs: the core's dispatch and the features Slack shows directly (the
Home, job threads), the delivery policy, and the redelivery filter."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.access import Access
from bot.core.dispatch import Dispatch
from bot.core.home import Home
from bot.core.replies import ErrorReply
from bot.core.watches.store import WatchStore
from bot.slack.dedup import RecentIds
from bot.slack.delivery import Delivery

_NEEDS_JOB = {"status", "cancel", "tail"}


@dataclass
class SlackContext:
    dispatch: Dispatch
    access: Access
    home: Home
    threads: WatchStore  # job threads: which job a thread is about
    delivery: Delivery
    cluster_names: list[str]
    recent: RecentIds = field(default_factory=RecentIds)

    async def in_thread(self, text: str, channel: str, thread_ts: str | None) -> str | ErrorReply:
        """Inside a job's thread, `status`, `cancel` and `tail` need no job id. In a thread
        older than the bot keeps finished jobs, and not found, it says so: never a guess."""
        head, _, rest = text.partition(" ")
        words = rest.split()
        if (
            not thread_ts
            or head.lower() not in _NEEDS_JOB
            or (words and not words[0].startswith("-"))
        ):
            return text
        thread = await self.threads.thread_at(channel, thread_ts)
        if thread is None:
            return self._forgotten(head.lower(), thread_ts) or text
        return f"{head} {thread.job_id} --cluster {thread.cluster} {rest}".strip()

    def _forgotten(self, command: str, thread_ts: str) -> ErrorReply | None:
        """The answer in a thread started before what the bot keeps (its job's record may
        have been pruned); None for a newer thread (it is no job's thread)."""
        try:
            started = float(thread_ts)
        except ValueError:
            return None
        if started >= self.threads.kept_since():
            return None
        days = round(self.threads.retention / 86400)
        kept = f"{days} days" if days >= 1 else f"{round(self.threads.retention / 3600)} hours"
        return ErrorReply(
            message=f"this job's thread is older than the bot keeps ({kept}); use `{command} ID`"
        )
