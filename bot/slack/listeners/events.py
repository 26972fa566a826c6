"""@-mentions (answered in the thread) and direct messages (answered in the DM); where each
answer goes is bot/slack/delivery.py."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.context import SlackContext
from bot.slack.incoming import command_text


def register(app: AsyncApp, ctx: SlackContext) -> None:
    async def on_mention(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        # A bot's message that mentions us (another bot, or our own echo) is not a request.
        if event.get("bot_id") or event.get("subtype") == "bot_message":
            return
        if not await ctx.recent.first_time(f"event:{body.get('event_id', '')}"):
            return
        channel, user = event["channel"], event.get("user", "")
        text = command_text(event.get("text", ""), strip_mention=True)
        cmd = await ctx.in_thread(text, channel, event.get("thread_ts"))
        reply = (
            cmd
            if not isinstance(cmd, str)
            else await ctx.dispatch.handle(user, cmd, channel=channel)
        )
        thread = event.get("thread_ts") or event["ts"]
        await ctx.delivery.mention(client, user, channel, thread, reply)

    async def on_message(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        # Only a person's own new message in a DM with the bot: no edits, joins or bot posts.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        if not await ctx.recent.first_time(f"event:{body.get('event_id', '')}"):
            return
        text = command_text(event.get("text", ""), strip_mention=True)
        user = event.get("user", "")
        reply = await ctx.dispatch.handle(user, text, channel=event["channel"], dm=True)
        await ctx.delivery.dm(client, user, event["channel"], event.get("thread_ts"), reply)

    app.event("app_mention")(on_mention)
    app.event("message")(on_message)
