"""What every listener needs: the core service and the redelivery filter."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.monitor import JobMonitor
from bot.core.replies import Submitted
from bot.core.service import Service
from bot.slack.dedup import RecentIds

log = logging.getLogger(__name__)
_NEEDS_JOB = {"status", "cancel", "tail"}


@dataclass
class SlackContext:
    service: Service
    monitor: JobMonitor
    recent: RecentIds = field(default_factory=RecentIds)

    async def in_thread(self, text: str, channel: str, thread_ts: str | None) -> str:
        """Inside a job's thread, `status`, `cancel` and `tail` need no job id."""
        head, _, rest = text.partition(" ")
        words = rest.split()
        if (
            not thread_ts
            or head.lower() not in _NEEDS_JOB
            or (words and not words[0].startswith("-"))
        ):
            return text
        thread = await self.monitor.store.thread_at(channel, thread_ts)
        if thread is None:
            return text
        return f"{head} {thread.job_id} --cluster {thread.cluster} {rest}".strip()

    async def follow(
        self,
        user_id: str,
        reply: Submitted,
        channel: str,
        card_ts: str,
        thread_ts: str | None = None,
    ) -> None:
        """A submitted job's card is posted: its state changes go into that thread."""
        await self.monitor.follow(
            cluster=reply.cluster,
            job_id=reply.job_id,
            user_id=user_id,
            channel=channel,
            card_ts=card_ts,
            thread_ts=thread_ts,
            name=reply.job.name,
            broadcast=reply.notify_channel,
        )


async def post_in(
    client: AsyncWebClient, channel: str, text: str, blocks: list[Any]
) -> tuple[str, str] | None:
    """Post a message (one with a ts, for a job's thread); (channel id, ts), or None when the
    bot may not post there, so the caller falls back (response_url, a DM). A user id as
    `channel` posts in the DM, whose own id comes back."""
    try:
        resp = await client.chat_postMessage(channel=channel, text=text, blocks=blocks)
    except SlackApiError as e:
        log.info("cannot post in %s (%s)", channel, e.response["error"])
        return None
    return str(resp["channel"]), str(resp["ts"])
