"""`/srunx ...`: ack at once, then run the command and answer.

Submissions (the job's card) and cluster reports are posted in the channel; everything else,
errors and help included, is shown only to the caller."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import replies as r
from bot.slack.blocks import render_blocks
from bot.slack.context import SlackContext, post_in, slack_error
from bot.slack.modals import open_failed, submit_view
from bot.slack.text import command_text, escape

log = logging.getLogger(__name__)


def register(app: AsyncApp, ctx: SlackContext) -> None:
    async def on_srunx(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        text = command_text(command.get("text", ""))
        echo = escape(text[:200] + ("…" if len(text) > 200 else "")) or "help"
        await ack(response_type="ephemeral", text=f":hourglass_flowing_sand: `{echo}`")
        if not ctx.recent.first_time(f"command:{command.get('trigger_id', '')}"):
            return
        channel = command.get("channel_id", "")
        reply = await ctx.service.handle(
            command["user_id"],
            text,
            channel=channel,
            dm=command.get("channel_name") == "directmessage",
        )
        fallback, blocks = render_blocks(reply)
        if isinstance(reply, r.Submitted):
            outcome = await ctx.post_card(
                client, command["user_id"], reply, channel, (fallback, blocks)
            )
            if outcome == "posted":
                await respond(delete_original=True)
                return
            if outcome == "later":
                await respond(
                    text=card_later(reply), response_type="ephemeral", replace_original=True
                )
                return
            await respond(
                text=fallback, blocks=blocks, response_type="in_channel", replace_original=False
            )
            await respond(
                text="Invite @srunx to this channel to get the job's updates in a thread.",
                response_type="ephemeral",
            )
            return
        if isinstance(reply, r.SubmitFormReply):
            # `submit` alone: the form. The trigger_id is good for 3 s from the command.
            try:
                await client.views_open(
                    trigger_id=command.get("trigger_id", ""), view=submit_view(reply, channel)
                )
            except SlackApiError as e:
                await respond(
                    text=open_failed(slack_error(e)),
                    response_type="ephemeral",
                    replace_original=True,
                )
                return
            await respond(delete_original=True)
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

    app.command("/srunx")(on_srunx)


def card_later(reply: r.Submitted) -> str:
    return (
        f"Job {reply.job_id} is submitted but Slack did not take its card just now; the card "
        "and the job's updates will appear here once Slack answers again."
    )
