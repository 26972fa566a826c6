"""The submit form: opened by `/srunx submit` alone (see commands.py), by the global shortcut
"Submit a Slurm job", and by the message shortcut "Submit as Slurm job" (which starts from
the message's text). Its submission runs the same core submit as the command, as the user's
own account, and the job's card and thread go to the channel (or to the user's DM)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import commands as c
from bot.core import replies as r
from bot.core.forms import FormErrors, command_from_message, submit_command
from bot.slack.blocks import render_blocks
from bot.slack.context import SlackContext, post_in
from bot.slack.modals import (
    CALLBACK,
    errors_for,
    fields_from_state,
    metadata,
    notice_view,
    submit_view,
)
from bot.slack.text import command_text

MESSAGE_SHORTCUT = "submit_from_message"
GLOBAL_SHORTCUT = "submit_job"


def register(app: AsyncApp, ctx: SlackContext) -> None:
    async def open_form(
        client: AsyncWebClient, body: dict[str, Any], channel: str | None, command: str = ""
    ) -> None:
        user = body["user"]["id"]
        reply = await ctx.service.run(
            user, c.SubmitForm(), text="submit (form)", channel=channel, dm=channel is None
        )
        if isinstance(reply, r.SubmitFormReply):
            view = submit_view(reply, channel, command)
        else:  # not mapped, wrong channel, ...: say so where the user is looking
            view = notice_view(reply.message if isinstance(reply, r.ErrorReply) else str(reply))
        await client.views_open(trigger_id=body["trigger_id"], view=view)

    async def on_message_shortcut(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        text = command_text(str(body.get("message", {}).get("text", "")))
        await open_form(client, body, body.get("channel", {}).get("id"), command_from_message(text))

    async def on_global_shortcut(
        ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await open_form(client, body, None)

    async def on_submit(
        ack: AsyncAck, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        user = body["user"]["id"]
        fields = fields_from_state(view)
        try:
            cmd = submit_command(fields)
        except FormErrors as e:
            await ack(response_action="errors", errors=errors_for(e))  # shown on the fields
            return
        await ack()  # closes the form; submitting may take longer than Slack's 3 s
        channel, _ = metadata(view)
        reply = await ctx.service.run(
            user,
            cmd,
            text="submit (form) -- " + fields.command.strip()[:200],
            channel=channel,
            dm=channel is None,
        )
        text, blocks = render_blocks(reply)
        if not isinstance(reply, r.Submitted):
            await client.chat_postMessage(channel=user, text=text, blocks=blocks)  # in the DM
            return
        # The card goes where the form was opened; if the bot may not post there, to the DM.
        posted = await post_in(client, channel, text, blocks) if channel else None
        posted = posted or await post_in(client, user, text, blocks)
        if posted is not None:
            await ctx.follow(user, reply, *posted)

    app.shortcut(MESSAGE_SHORTCUT)(on_message_shortcut)
    app.shortcut(GLOBAL_SHORTCUT)(on_global_shortcut)
    app.view(CALLBACK)(on_submit)
