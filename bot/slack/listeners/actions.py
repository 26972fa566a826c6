"""The buttons on a job's card: Refresh (the card in place), Tail and Cancel (answers only the
person who clicked). Every click runs as the clicker's own account, so only the job's owner
can cancel it: Slurm refuses anyone else. A button's value is data (cluster, job id), checked
and turned into the command object directly: it is never parsed as command text."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import commands as c
from bot.core import replies as r
from bot.errors import UsageError
from bot.render.blocks import render_blocks
from bot.render.buttons import read_job_value
from bot.slack.context import SlackContext

log = logging.getLogger(__name__)

JobCommand = type[c.Status] | type[c.Tail] | type[c.Cancel]


async def run_button(
    ctx: SlackContext, user: str, value: str, command: JobCommand, channel: str | None = None
) -> r.Reply:
    """Run `command` on the job a button's value names, as `user`; a forged value runs
    nothing and gets an answer saying so."""
    try:
        cluster, job_id = read_job_value(value, ctx.cluster_names)
    except UsageError as e:
        log.warning("refused a button value from %s: %r", user, value[:100])
        return r.ErrorReply(message=str(e))
    cmd = command(cluster=cluster, job_id=job_id)
    # The audit log gets the command as it would be typed, from the checked values only.
    text = f"{cmd.kind} {job_id} --cluster {cluster}"
    return await ctx.dispatch.run(user, cmd, text=text, channel=channel)


def register(app: AsyncApp, ctx: SlackContext) -> None:
    async def run(body: dict[str, Any], action: dict[str, Any], command: JobCommand) -> r.Reply:
        return await run_button(
            ctx,
            body["user"]["id"],
            str(action.get("value", "")),
            command,
            body.get("channel", {}).get("id"),
        )

    async def owns_card(user: str, reply: r.StatusReply) -> bool:
        """The card shows its owner's view only: the user of the job's thread or, for a card
        with no thread, the user whose own account the job runs as."""
        thread = await ctx.threads.thread(reply.cluster, reply.job.job_id)
        if thread is not None:
            return thread.user_id == user
        account = ctx.access.account_or_none(user)
        return account is not None and bool(reply.job.user) and reply.job.user == account

    async def answer_clicker(client: AsyncWebClient, body: dict[str, Any], reply: r.Reply) -> None:
        message = body.get("message", {})
        text, blocks = render_blocks(reply)
        await client.chat_postEphemeral(
            channel=body["channel"]["id"],
            user=body["user"]["id"],
            thread_ts=message.get("thread_ts") or message.get("ts"),
            text=text,
            blocks=blocks,
        )

    async def on_refresh(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        reply = await run(body, action, c.Status)
        if (
            isinstance(reply, r.StatusReply)
            and not body.get("container", {}).get("is_ephemeral")
            and await owns_card(body["user"]["id"], reply)
        ):
            text, blocks = render_blocks(reply)
            await client.chat_update(
                channel=body["channel"]["id"], ts=body["message"]["ts"], text=text, blocks=blocks
            )
        else:
            await answer_clicker(client, body, reply)

    async def on_tail(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await answer_clicker(client, body, await run(body, action, c.Tail))

    async def on_cancel(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await answer_clicker(client, body, await run(body, action, c.Cancel))

    app.action("job_refresh")(on_refresh)
    app.action("job_tail")(on_tail)
    app.action("job_cancel")(on_cancel)
