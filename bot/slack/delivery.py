"""Where an answer goes in Slack: one policy for slash commands, mentions, DMs and forms.

- A submitted job's card goes in the channel it came from, and its thread follows the job.
  If the bot may not post there: a slash command shows the card in_channel (response_url)
  and says to invite the bot; a form's card goes to the user's DM, with a note saying why.
  If Slack itself fails (5xx, no answer), the job is followed anyway and the monitor posts
  its card once Slack answers again.
- `/srunx`: cluster reports are for the channel (in_channel if the bot is not in it);
  everything else, errors and help included, only to the caller (ephemeral).
- Mentions: answered in the thread (ephemeral for errors and help); DMs: in the DM.
- What a closed form has to say (Slurm refused the job, the form did not open) goes to the
  user's DM, where it stays readable.
Watch cards and thread replies go through the notifier (the core's outbox), into the
channel where the watch was asked for.
"""

from __future__ import annotations

import logging
from typing import Any, Literal

from slack_bolt.async_app import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import replies as r
from bot.core.watches.monitor import JobMonitor
from bot.render.blocks import render_blocks
from bot.render.kit import section
from bot.slack.failures import SLACK_FAILURES, slack_down, slack_error

log = logging.getLogger(__name__)
# "later": Slack failed (5xx, no answer) even after the client's retries; the job is followed
# anyway and the monitor posts its card once Slack answers again.
CardOutcome = Literal["posted", "refused", "later"]
INVITE = "Invite @srunx to this channel to get the job's updates in a thread."


class Delivery:
    def __init__(self, monitor: JobMonitor) -> None:
        self.monitor = monitor

    # ------------------------------------------------------------------ by surface
    async def slash(
        self,
        client: AsyncWebClient,
        respond: AsyncRespond,
        user: str,
        channel: str,
        reply: r.Reply,
    ) -> None:
        """A `/srunx` answer (its "working on it" ack is replaced or deleted)."""
        fallback, blocks = render_blocks(reply)
        if isinstance(reply, r.Submitted):
            outcome = await self.card(client, user, reply, channel)
            if outcome == "posted":
                await respond(delete_original=True)
            elif outcome == "later":
                await respond(
                    text=card_later(reply), response_type="ephemeral", replace_original=True
                )
            else:
                await respond(
                    text=fallback, blocks=blocks, response_type="in_channel", replace_original=False
                )
                await respond(text=INVITE, response_type="ephemeral")
            return
        if isinstance(reply, r.ClusterReport):
            # A report is for the channel: posted there (or in_channel, if the bot isn't in it).
            if await post_in(client, channel, fallback, blocks) is None:
                await respond(
                    text=fallback, blocks=blocks, response_type="in_channel", replace_original=False
                )
            await respond(delete_original=True)
            return
        await respond(
            text=fallback, blocks=blocks, response_type="ephemeral", replace_original=True
        )

    async def mention(
        self, client: AsyncWebClient, user: str, channel: str, thread: str, reply: r.Reply
    ) -> None:
        """An @-mention's answer, in its thread: a submission's is the job's card, followed
        there like any other (in the DM if the channel refuses it)."""
        if isinstance(reply, r.Submitted):
            if await self.card(client, user, reply, channel, thread) == "refused":
                await self.card(client, user, reply, user)
            return
        fallback, blocks = render_blocks(reply)
        if reply.ephemeral:
            await client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread, text=fallback, blocks=blocks
            )
        else:
            await client.chat_postMessage(
                channel=channel, thread_ts=thread, text=fallback, blocks=blocks
            )

    async def dm(
        self,
        client: AsyncWebClient,
        user: str,
        channel: str,
        thread_ts: str | None,
        reply: r.Reply,
    ) -> None:
        """A DM's answer, in the DM: a submission's is the job's card (later if Slack fails)."""
        if isinstance(reply, r.Submitted):
            await self.card(client, user, reply, channel, thread_ts)
            return
        fallback, blocks = render_blocks(reply)
        await client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=fallback, blocks=blocks
        )

    async def form_card(
        self, client: AsyncWebClient, user: str, reply: r.Submitted, channel: str | None
    ) -> None:
        """A form's job: its card where the form was opened, else in the user's DM (with a
        note saying why)."""
        outcome = await self.card(client, user, reply, channel) if channel else "refused"
        moved_from = channel if channel and outcome == "refused" else None
        if outcome == "refused":
            outcome = await self.card(client, user, reply, user)
        if outcome == "refused":
            log.warning("job %s on %s has no card: no channel took it", reply.job_id, reply.cluster)
            return
        if moved_from and outcome == "posted":
            await self.note(
                client,
                user,
                f"I can't post {r.where(moved_from)}, so job {reply.job_id}'s card is here; "
                "invite @srunx there to get job cards in the channel.",
            )

    async def to_dm(self, client: AsyncWebClient, user: str, reply: r.Reply) -> bool:
        """A reply in the user's DM; False (logged) when it could not be posted."""
        return await post_in(client, user, *render_blocks(reply)) is not None

    async def note(self, client: AsyncWebClient, user: str, text: str) -> None:
        await post_in(client, user, text, [section(text)])

    # ------------------------------------------------------------------ a job's card
    async def card(
        self,
        client: AsyncWebClient,
        user: str,
        reply: r.Submitted,
        channel: str,
        thread_ts: str | None = None,
    ) -> CardOutcome:
        """Post a submitted job's card in `channel` and follow the job there. A refusal
        (not_in_channel, ...) follows nothing: the caller falls back. When Slack itself fails
        the job is followed anyway, its card still to come."""
        try:
            posted = await _post(client, channel, *render_blocks(reply), thread_ts)
        except SLACK_FAILURES as e:
            if not slack_down(e):
                log.info("cannot post in %s (%s)", channel, slack_error(e))
                return "refused"
            log.warning(
                "Slack failed job %s's card (%s); it follows when Slack answers",
                reply.job_id,
                slack_error(e),
            )
            await self._follow(user, reply, channel, "", thread_ts)
            return "later"
        await self._follow(user, reply, *posted, thread_ts)
        return "posted"

    async def _follow(
        self,
        user_id: str,
        reply: r.Submitted,
        channel: str,
        card_ts: str,
        thread_ts: str | None = None,
    ) -> None:
        """The job's state changes go into its card's thread (no `card_ts`: the monitor posts
        the card first)."""
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


def card_later(reply: r.Submitted) -> str:
    return (
        f"Job {reply.job_id} is submitted but Slack did not take its card just now; the card "
        "and the job's updates will appear here once Slack answers again."
    )


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
    """Post a message; (channel id, ts), or None (logged) when it was not posted, so the
    caller falls back (response_url, a DM). A user id as `channel` posts in the DM, whose own
    id comes back."""
    try:
        return await _post(client, channel, text, blocks, None)
    except SLACK_FAILURES as e:
        log.info("cannot post in %s (%s)", channel, slack_error(e))
        return None
