"""`/srunx ...`: ack at once, then run the command and answer (where: bot/slack/delivery.py).
`submit` alone opens the form."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import replies as r
from bot.render.modals import open_failed, submit_view
from bot.render.mrkdwn import escape
from bot.slack.context import SlackContext
from bot.slack.failures import slack_error
from bot.slack.incoming import command_text

log = logging.getLogger(__name__)


def register(app: AsyncApp, ctx: SlackContext) -> None:
    async def on_srunx(
        ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond, client: AsyncWebClient
    ) -> None:
        text = command_text(command.get("text", ""))
        echo = escape(text[:200] + ("…" if len(text) > 200 else "")) or "help"
        await ack(response_type="ephemeral", text=f":hourglass_flowing_sand: `{echo}`")
        if not await ctx.recent.first_time(f"command:{command.get('trigger_id', '')}"):
            return
        channel = command.get("channel_id", "")
        reply = await ctx.dispatch.handle(
            command["user_id"],
            text,
            channel=channel,
            dm=command.get("channel_name") == "directmessage",
        )
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
        await ctx.delivery.slash(client, respond, command["user_id"], channel, reply)

    app.command("/srunx")(on_srunx)
