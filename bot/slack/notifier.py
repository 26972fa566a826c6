"""The monitor's messages in Slack: job cards, thread replies and notices.

Posts to one channel go out in order and at most about one per second (Slack's per-channel
pace); 429s are waited out by the Web client's retry handler (Retry-After)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.models import JobInfo
from bot.core.replies import Reply, StatusReply
from bot.core.watches import JobThread
from bot.errors import PostRefused
from bot.slack.blocks import render_blocks, section
from bot.slack.text import escape


class ChannelPacer:
    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._locks: dict[str, asyncio.Lock] = {}
        self._last: dict[str, float] = {}

    @asynccontextmanager
    async def slot(self, channel: str) -> AsyncIterator[None]:
        # asyncio.Lock wakes waiters in arrival order, so posts keep their order.
        async with self._locks.setdefault(channel, asyncio.Lock()):
            wait = self._last.get(channel, 0.0) + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                yield
            finally:
                self._last[channel] = time.monotonic()


class SlackNotifier:
    def __init__(self, client: AsyncWebClient, pacer: ChannelPacer | None = None) -> None:
        self.client = client
        self.pacer = pacer or ChannelPacer()

    async def _send(self, channel: str, reply: Reply, thread_ts: str | None = None) -> str:
        text, blocks = render_blocks(reply)
        async with self.pacer.slot(channel):
            resp = await self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text, blocks=blocks
            )
        return str(resp["ts"])

    async def post_card(
        self, channel: str, thread_ts: str | None, cluster: str, job: JobInfo
    ) -> str:
        return await self._send(channel, StatusReply(cluster=cluster, job=job), thread_ts)

    async def update_card(self, thread: JobThread, job: JobInfo) -> None:
        text, blocks = render_blocks(StatusReply(cluster=thread.cluster, job=job))
        await self.client.chat_update(
            channel=thread.channel, ts=thread.card_ts, text=text, blocks=blocks
        )

    async def post_reply(self, thread: JobThread, text: str, *, final: bool = False) -> None:
        safe = escape(text)
        async with self.pacer.slot(thread.channel):
            await self.client.chat_postMessage(
                channel=thread.channel,
                thread_ts=thread.thread_ts,
                reply_broadcast=final and thread.broadcast,
                text=safe[:3000],
                blocks=[section(safe)],
            )

    async def post(self, channel: str, reply: Reply) -> str:
        """Any reply as a new message (GPU alerts, reports); paced like the rest."""
        try:
            return await self._send(channel, reply)
        except SlackApiError as e:
            error = e.response.get("error", "error")
            hint = (
                f"; invite @srunx to <#{channel}> first"
                if error in ("not_in_channel", "channel_not_found")
                else ""
            )
            raise PostRefused(
                f"Slack would not let me post in <#{channel}> ({error}){hint}"
            ) from None

    async def post_notice(self, channel: str, text: str) -> None:
        safe = f":warning: {escape(text)}"
        async with self.pacer.slot(channel):
            await self.client.chat_postMessage(channel=channel, text=safe, blocks=[section(safe)])
