"""@-mentions (answered in the thread) and direct messages (answered in the DM); where each
answer goes is bot/slack/delivery.py."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.commands import AttachedScript
from bot.core.replies import ErrorReply, Reply
from bot.errors import UsageError
from bot.slack.context import SlackContext
from bot.slack.files import attached_file, wanted_file
from bot.slack.incoming import command_text


async def _attachment(
    event: dict[str, Any], text: str, client: AsyncWebClient, admitted: bool
) -> AttachedScript | ErrorReply | None:
    """The file attached to a `submit` (a script) or a `flow run|validate` (a workflow);
    other commands ignore attachments. Not fetched for a user the bot refuses (`admitted`
    False): their refusal comes from the command itself."""
    files, wanted = event.get("files"), wanted_file(text)
    if not admitted or not files or not isinstance(files, list) or wanted is None:
        return None
    try:
        return await attached_file(files, client, *wanted)
    except UsageError as e:
        return ErrorReply(message=str(e))


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
        attached = await _attachment(event, text, client, ctx.dispatch.admits(user, channel))
        reply: Reply
        if not isinstance(cmd, str):
            reply = cmd
        elif isinstance(attached, ErrorReply):
            reply = attached
        else:
            reply = await ctx.dispatch.handle(user, cmd, channel=channel, attached=attached)
        thread = event.get("thread_ts") or event["ts"]
        await ctx.delivery.mention(client, user, channel, thread, reply)

    async def on_message(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        # Only a person's own new message in a DM with the bot (one with a file attached is
        # `file_share`): no edits, joins or bot posts.
        subtype = event.get("subtype")
        if event.get("channel_type") != "im" or subtype not in (None, "file_share"):
            return
        if event.get("bot_id"):
            return
        if not await ctx.recent.first_time(f"event:{body.get('event_id', '')}"):
            return
        text = command_text(event.get("text", ""), strip_mention=True)
        user = event.get("user", "")
        admitted = ctx.dispatch.admits(user, event["channel"], dm=True)
        attached = await _attachment(event, text, client, admitted)
        reply = (
            attached
            if isinstance(attached, ErrorReply)
            else await ctx.dispatch.handle(
                user, text, channel=event["channel"], dm=True, attached=attached
            )
        )
        await ctx.delivery.dm(client, user, event["channel"], event.get("thread_ts"), reply)

    app.event("app_mention")(on_mention)
    app.event("message")(on_message)
