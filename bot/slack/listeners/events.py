"""@-mentions (answered in the thread) and direct messages (answered in the DM)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.replies import Submitted
from bot.slack.blocks import render_blocks
from bot.slack.context import SlackContext
from bot.slack.text import command_text


def register(app: AsyncApp, ctx: SlackContext) -> None:
    async def on_mention(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        # A bot's message that mentions us (another bot, or our own echo) is not a request.
        if event.get("bot_id") or event.get("subtype") == "bot_message":
            return
        if not ctx.recent.first_time(f"event:{body.get('event_id', '')}"):
            return
        channel, user = event["channel"], event.get("user", "")
        text = command_text(event.get("text", ""), strip_mention=True)
        text = await ctx.in_thread(text, channel, event.get("thread_ts"))
        reply = await ctx.service.handle(user, text, channel=channel)
        fallback, blocks = render_blocks(reply)
        thread = event.get("thread_ts") or event["ts"]
        if reply.ephemeral:
            await client.chat_postEphemeral(
                channel=channel, user=user, thread_ts=thread, text=fallback, blocks=blocks
            )
        else:
            await client.chat_postMessage(
                channel=channel, thread_ts=thread, text=fallback, blocks=blocks
            )

    async def on_message(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        # Only a person's own new message in a DM with the bot: no edits, joins or bot posts.
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        if not ctx.recent.first_time(f"event:{body.get('event_id', '')}"):
            return
        text = command_text(event.get("text", ""), strip_mention=True)
        reply = await ctx.service.handle(
            event.get("user", ""), text, channel=event["channel"], dm=True
        )
        fallback, blocks = render_blocks(reply)
        if isinstance(reply, Submitted):  # the answer is the job's card (later if Slack fails)
            await ctx.post_card(
                client,
                event.get("user", ""),
                reply,
                event["channel"],
                (fallback, blocks),
                event.get("thread_ts"),
            )
            return
        await client.chat_postMessage(
            channel=event["channel"], thread_ts=event.get("thread_ts"), text=fallback, blocks=blocks
        )

    app.event("app_mention")(on_mention)
    app.event("message")(on_message)
