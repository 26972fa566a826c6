"""The submit form: opened by `/srunx submit` alone (see commands.py), by the global shortcut
"Submit a Slurm job", and by the message shortcut "Submit as Slurm job" (which starts from
the message's text). Its submission runs the same core submit as the command, as the user's
own account, and the job's card and thread go to the channel (or to the user's DM)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import commands as c
from bot.core import replies as r
from bot.core.forms import FormErrors, command_from_message, submit_command
from bot.render.modals import CALLBACK, notice_view, open_failed, submit_view
from bot.slack.context import SlackContext
from bot.slack.failures import slack_error
from bot.slack.form_state import errors_for, fields_from_state, metadata
from bot.slack.incoming import command_text

log = logging.getLogger(__name__)
MESSAGE_SHORTCUT = "submit_from_message"
GLOBAL_SHORTCUT = "submit_job"


def _dm(channel: str | None) -> bool:
    """No channel (the global shortcut) or a DM's `D…` id: `access.channels` does not apply."""
    return channel is None or channel.startswith("D")


def register(app: AsyncApp, ctx: SlackContext) -> None:
    async def open_form(
        client: AsyncWebClient, body: dict[str, Any], channel: str | None, command: str = ""
    ) -> None:
        user = body["user"]["id"]
        reply = await ctx.dispatch.run(
            user, c.SubmitForm(), text="submit (form)", channel=channel, dm=_dm(channel)
        )
        problem: r.ErrorReply | None = None
        if isinstance(reply, r.SubmitFormReply):
            view = submit_view(reply, channel, command)
        else:  # not mapped, wrong channel, ...: say so where the user is looking
            problem = (
                reply
                if isinstance(reply, r.ErrorReply)
                else r.ErrorReply(message=f"the submit form is not available ({reply.kind})")
            )
            view = notice_view(problem.message)
        try:
            await client.views_open(trigger_id=body["trigger_id"], view=view)
        except SlackApiError as e:
            # The trigger lasts 3 s; when it is gone the DM says why instead of nothing.
            problem = problem or r.ErrorReply(message=open_failed(slack_error(e)))
            if not await ctx.delivery.to_dm(client, user, problem):
                log.warning("could not tell %s why the submit form did not open", user)

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
        # A valid submission closes its view, so a second delivery of its id is a redelivery.
        if view.get("id") and not await ctx.recent.first_time(f"view:{view['id']}"):
            return
        channel, _ = metadata(view)
        reply = await ctx.dispatch.run(
            user,
            cmd,
            text="submit (form) -- " + fields.command.strip()[:200],
            channel=channel,
            dm=_dm(channel),
        )
        if not isinstance(reply, r.Submitted):
            # The form is closed already: the error goes to the DM, where it stays readable.
            message = reply.message if isinstance(reply, r.ErrorReply) else reply.kind
            failed = r.ErrorReply(message=f"nothing was submitted from your form: {message}")
            if not await ctx.delivery.to_dm(client, user, failed):
                log.warning(
                    "could not tell %s that their form failed: %s", user, failed.message[:200]
                )
            return
        await ctx.delivery.form_card(client, user, reply, channel)

    app.shortcut(MESSAGE_SHORTCUT)(on_message_shortcut)
    app.shortcut(GLOBAL_SHORTCUT)(on_global_shortcut)
    app.view(CALLBACK)(on_submit)
