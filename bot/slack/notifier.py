"""The core's outbox in Slack (bot/core/ports.py): job cards, thread replies, notices, the
features' own posts (GPU alerts, reports), and workflow runs (a parent message updated in
place, and its thread).

Posts to one channel go out in order and at most about one per second (Slack's per-channel
pace); 429s are waited out by the Web client's retry handler (Retry-After). Every post about a
job or a run carries message metadata (cluster, job or `flow:RUN`, sequence number), so after
a crash the bot can tell from the thread whether a transition got out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.flowruns import FlowRun
from bot.core.models import JobInfo
from bot.core.ports import ThreadPost
from bot.core.records import JobThread
from bot.core.replies import FlowRunReply, Reply, StatusReply
from bot.errors import PostRefused
from bot.render.blocks import render_blocks
from bot.render.kit import section
from bot.render.mrkdwn import escape, with_mentions
from bot.slack.failures import SLACK_FAILURES, slack_error

log = logging.getLogger(__name__)
EVENT_TYPE = "srunx_job_update"
MARK_TYPE = "srunx_post"  # a post the bot may need to find again (a report's slot)
MAX_HISTORY_PAGES = 3  # conversations.history pages read when looking for a marked post
MAX_THREAD_PAGES = 20  # conversations.replies pages read when looking for one transition


def job_metadata(cluster: str, job_id: str, seq: int, kind: str) -> dict[str, Any]:
    """Message metadata of a job's post: `kind` is card, transition or note."""
    return {
        "event_type": EVENT_TYPE,
        "event_payload": {"cluster": cluster, "job": job_id, "seq": seq, "kind": kind},
    }


def _same_mark(found: Any, want: dict[str, Any]) -> bool:
    """A message's metadata is `want` (compared as text: JSON may bring numbers back as text)."""
    if not isinstance(found, dict) or found.get("event_type") != want["event_type"]:
        return False
    payload = found.get("event_payload")
    return isinstance(payload, dict) and all(
        str(payload.get(k)) == str(v) for k, v in want["event_payload"].items()
    )


def _post_mark(cluster: str, key: str, seq_now: int, post: ThreadPost) -> dict[str, Any]:
    """A thread post's mark: a transition carries its own seq; a note, the thread's count."""
    if post.seq is None:
        return job_metadata(cluster, key, seq_now, "note")
    return job_metadata(cluster, key, post.seq, "transition")


def _run_key(run: FlowRun) -> str:
    """What a run's marks carry in place of a job id."""
    return f"flow:{run.id}"


def _refused(channel: str, e: SlackApiError) -> PostRefused:
    error = slack_error(e)
    hint = (
        f"; invite @srunx to <#{channel}> first"
        if error in ("not_in_channel", "channel_not_found")
        else ""
    )
    return PostRefused(f"Slack would not let me post in <#{channel}> ({error}){hint}")


async def _found(read: Callable[..., Awaitable[Any]], want: dict[str, Any], pages: int) -> bool:
    """Whether a message `read` lists (conversations.replies or .history, page by page, at
    most `pages`) carries the mark `want`."""
    cursor: str | None = None
    for _ in range(pages):
        resp = await read(include_all_metadata=True, limit=200, cursor=cursor)
        if any(_same_mark(m.get("metadata"), want) for m in resp.get("messages") or []):
            return True
        cursor = (resp.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return False
    return False


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

    async def _send(
        self,
        channel: str,
        reply: Reply,
        thread_ts: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        text, blocks = render_blocks(reply)
        async with self.pacer.slot(channel):
            resp = await self.client.chat_postMessage(
                channel=channel, thread_ts=thread_ts, text=text, blocks=blocks, metadata=metadata
            )
        return str(resp["ts"])

    async def post_card(
        self, channel: str, thread_ts: str | None, cluster: str, job: JobInfo
    ) -> str:
        meta = job_metadata(cluster, job.job_id, 0, "card")
        return await self._send(channel, StatusReply(cluster=cluster, job=job), thread_ts, meta)

    async def update_card(self, thread: JobThread, job: JobInfo) -> None:
        text, blocks = render_blocks(StatusReply(cluster=thread.cluster, job=job))
        await self.client.chat_update(
            channel=thread.channel, ts=thread.card_ts, text=text, blocks=blocks
        )

    async def post_reply(self, thread: JobThread, post: ThreadPost) -> None:
        meta = _post_mark(thread.cluster, thread.job_id, thread.seq, post)
        broadcast = post.final and thread.broadcast
        await self._post_marked(thread.channel, thread.thread_ts, post, meta, broadcast)

    async def posted_in_thread(self, thread: JobThread, seq: int) -> bool:
        want = job_metadata(thread.cluster, thread.job_id, seq, "transition")
        return await self._marked(thread.channel, thread.thread_ts, want, f"job {thread.job_id}")

    async def post_run(self, run: FlowRun) -> str:
        """The run's parent message, marked like a job's card (its key: `flow:RUN`)."""
        meta = job_metadata(run.cluster, _run_key(run), 0, "card")
        try:
            return await self._send(run.channel, FlowRunReply(run=run), None, meta)
        except SlackApiError as e:
            raise _refused(run.channel, e) from None

    async def update_run(self, run: FlowRun) -> None:
        if not run.parent_ts:
            return  # not posted yet: post_run shows the run as it is then
        text, blocks = render_blocks(FlowRunReply(run=run))
        await self.client.chat_update(
            channel=run.channel, ts=run.parent_ts, text=text, blocks=blocks
        )

    async def post_in_run(self, run: FlowRun, post: ThreadPost) -> None:
        """A post in the run's thread; the `<@OWNER>` it names stays a mention (`flow cancel`
        says who cancelled), any other `<@...>` (a job's output) stays text."""
        meta = _post_mark(run.cluster, _run_key(run), run.seq, post)
        await self._post_marked(
            run.channel,
            run.parent_ts,
            post,
            meta,
            broadcast=False,
            mentions=[run.user_id, *([run.cancelled_by] if run.cancelled_by else [])],
        )

    async def posted_in_run(self, run: FlowRun, seq: int) -> bool:
        want = job_metadata(run.cluster, _run_key(run), seq, "transition")
        return await self._marked(run.channel, run.parent_ts, want, f"workflow run {run.id}")

    async def _post_marked(
        self,
        channel: str,
        thread_ts: str,
        post: ThreadPost,
        meta: dict[str, Any],
        broadcast: bool,
        mentions: list[str] | None = None,
    ) -> None:
        """A reply in a thread carrying its mark; `before_send` runs inside the channel's
        slot, as the message leaves (a crash after it is resolved by `_marked`)."""
        safe = with_mentions(post.text, mentions or [])
        async with self.pacer.slot(channel):
            if post.before_send is not None:
                await post.before_send()
            await self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                reply_broadcast=broadcast,
                text=safe[:3000],
                blocks=[section(safe)],
                metadata=meta,
            )

    async def _marked(self, channel: str, thread_ts: str, want: dict[str, Any], what: str) -> bool:
        """Whether a message of the thread carries the mark `want`; False when the thread
        cannot be read (the change is posted again: a rare duplicate beats a lost post)."""

        def read(**page: Any) -> Awaitable[Any]:  # called here: the manifest check sees it
            return self.client.conversations_replies(channel=channel, ts=thread_ts, **page)

        try:
            return await _found(read, want, MAX_THREAD_PAGES)
        except SLACK_FAILURES as e:  # missing_scope (history not granted) among them
            log.warning(
                "cannot read %s's thread (%s); posting its change again", what, slack_error(e)
            )
        return False

    async def post(self, channel: str, reply: Reply, mark: str | None = None) -> str:
        """Any reply as a new message (GPU alerts, reports); paced like the rest."""
        meta = None if mark is None else {"event_type": MARK_TYPE, "event_payload": {"mark": mark}}
        try:
            return await self._send(channel, reply, metadata=meta)
        except SlackApiError as e:
            raise _refused(channel, e) from None

    async def posted(self, channel: str, mark: str) -> bool:
        """Among the channel's latest messages (newest first: a slot is looked for soon after
        it was due)."""
        want = {"event_type": MARK_TYPE, "event_payload": {"mark": mark}}

        def read(**page: Any) -> Awaitable[Any]:
            return self.client.conversations_history(channel=channel, **page)

        try:
            return await _found(read, want, MAX_HISTORY_PAGES)
        except SLACK_FAILURES as e:
            log.warning("cannot read <#%s> (%s); posting %s again", channel, slack_error(e), mark)
        return False

    async def post_notice(self, channel: str, text: str) -> None:
        safe = f":warning: {escape(text)}"
        async with self.pacer.slot(channel):
            await self.client.chat_postMessage(channel=channel, text=safe, blocks=[section(safe)])
