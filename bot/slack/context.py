"""What every listener needs: the core service, the redelivery filter, and posting a job's
card (read Slack's failures defensively: a proxy's 5xx has a plain-text body)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.monitor import JobMonitor
from bot.core.replies import Submitted
from bot.core.service import Service
from bot.slack.dedup import RecentIds

log = logging.getLogger(__name__)
_NEEDS_JOB = {"status", "cancel", "tail"}
# "later": Slack failed (5xx, no answer) even after the client's retries; the job is followed
# anyway and the monitor posts its card once Slack answers again.
CardOutcome = Literal["posted", "refused", "later"]


def slack_error(e: BaseException) -> str:
    """Slack's error code for a failed call, whatever came back: a JSON error, a proxy's
    plain-text 5xx (or aiohttp's own response object), or no answer at all."""
    if not isinstance(e, SlackApiError):
        return f"no answer from Slack ({type(e).__name__})"
    data = getattr(e.response, "data", None)
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    status = getattr(e.response, "status_code", None) or getattr(e.response, "status", None)
    return f"HTTP {status}" if status else "an unreadable answer"


def slack_down(e: BaseException) -> bool:
    """Slack itself failed (server error, rate limit or no answer), as opposed to refusing
    this call (not_in_channel, ...): worth trying again later."""
    if not isinstance(e, SlackApiError):
        return True
    data = getattr(e.response, "data", None)
    status = getattr(e.response, "status_code", None) or 0
    return not isinstance(data, dict) or status >= 500 or status == 429


# What a Slack call raises when it fails: an API error, or no answer (connection, timeout).
SLACK_FAILURES = (SlackApiError, aiohttp.ClientError, OSError, asyncio.TimeoutError)


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
        """A submitted job's card is posted (or, with no `card_ts`, will be by the monitor): its
        state changes go into that thread."""
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

    async def post_card(
        self,
        client: AsyncWebClient,
        user_id: str,
        reply: Submitted,
        channel: str,
        blocks: tuple[str, list[Any]],
        thread_ts: str | None = None,
    ) -> CardOutcome:
        """Post a submitted job's card (`blocks`: its text and blocks) in `channel` and follow
        the job there. A refusal (not_in_channel, ...) follows nothing: the caller falls back.
        When Slack itself fails the job is followed anyway, its card still to come."""
        try:
            posted = await _post(client, channel, *blocks, thread_ts)
        except SLACK_FAILURES as e:
            if not slack_down(e):
                log.info("cannot post in %s (%s)", channel, slack_error(e))
                return "refused"
            log.warning(
                "Slack failed job %s's card (%s); it follows when Slack answers",
                reply.job_id,
                slack_error(e),
            )
            await self.follow(user_id, reply, channel, "", thread_ts)
            return "later"
        await self.follow(user_id, reply, *posted, thread_ts)
        return "posted"


async def _post(
    client: AsyncWebClient, channel: str, text: str, blocks: list[Any], thread_ts: str | None
) -> tuple[str, str]:
    resp = await client.chat_postMessage(
        channel=channel, thread_ts=thread_ts, text=text, blocks=blocks
    )
    return str(resp["channel"]), str(resp["ts"])


async def post_in(
    client: AsyncWebClient, channel: str, text: str, blocks: list[Any]
) -> tuple[str, str] | None:
    """Post a message (one with a ts, for a job's thread); (channel id, ts), or None (logged)
    when it was not posted, so the caller falls back (response_url, a DM). A user id as
    `channel` posts in the DM, whose own id comes back."""
    try:
        return await _post(client, channel, text, blocks, None)
    except SLACK_FAILURES as e:
        log.info("cannot post in %s (%s)", channel, slack_error(e))
        return None
