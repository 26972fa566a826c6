"""The buttons on a job's card: Refresh (the card in place), Tail and Cancel (answers only the
person who clicked); and on a workflow run's message: Refresh (in place) and Cancel run. Every
click runs as the clicker's own account, so only the job's owner can cancel it: Slurm refuses
anyone else (a run: the core lets only its owner or an admin cancel it). A button's value is
data (cluster and job id, or run id), checked and turned into the command object directly: it
is never parsed as command text."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import commands as c
from bot.core import replies as r
from bot.errors import UsageError
from bot.render.blocks import render_blocks
from bot.render.buttons import FLOW_CANCEL, FLOW_REFRESH, read_job_value, read_run_value
from bot.slack.context import SlackContext

log = logging.getLogger(__name__)

JobCommand = type[c.Status] | type[c.Tail] | type[c.Cancel]
RunCommand = type[c.FlowStatus] | type[c.FlowCancel]


async def _run_checked(
    ctx: SlackContext,
    user: str,
    value: str,
    read: Callable[[str], tuple[c.Command, str]],
    channel: str | None,
) -> r.Reply:
    """Run the command `read` makes of a button's value (and the text the audit log gets for
    it, built from the checked values only); a forged value runs nothing and is answered."""
    try:
        cmd, text = read(value)
    except UsageError as e:
        log.warning("refused a button value from %s: %r", user, value[:100])
        return r.ErrorReply(message=str(e))
    return await ctx.dispatch.run(user, cmd, text=text, channel=channel)


async def run_button(
    ctx: SlackContext, user: str, value: str, command: JobCommand, channel: str | None = None
) -> r.Reply:
    """Run `command` on the job a button's value names, as `user`."""

    def read(v: str) -> tuple[c.Command, str]:
        cluster, job_id = read_job_value(v, ctx.cluster_names)
        cmd = command(cluster=cluster, job_id=job_id)
        return cmd, f"{cmd.kind} {job_id} --cluster {cluster}"

    return await _run_checked(ctx, user, value, read, channel)


async def run_flow_button(
    ctx: SlackContext, user: str, value: str, command: RunCommand, channel: str | None = None
) -> r.Reply:
    """Run `command` on the workflow run a button's value names, as `user`."""

    def read(v: str) -> tuple[c.Command, str]:
        cmd = command(run_id=read_run_value(v))
        return cmd, f"{cmd.kind.replace('_', ' ')} {cmd.run_id}"

    return await _run_checked(ctx, user, value, read, channel)


def register(app: AsyncApp, ctx: SlackContext) -> None:
    async def run(body: dict[str, Any], action: dict[str, Any], command: JobCommand) -> r.Reply:
        return await run_button(
            ctx,
            body["user"]["id"],
            str(action.get("value", "")),
            command,
            body.get("channel", {}).get("id"),
        )

    async def run_flow(
        body: dict[str, Any], action: dict[str, Any], command: RunCommand
    ) -> r.Reply:
        return await run_flow_button(
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

    def may_update_run(user: str, body: dict[str, Any], reply: r.Reply) -> bool:
        """A run's message is rewritten only with the run itself, for its owner or an
        admin, and never an ephemeral one (chat.update cannot reach it)."""
        return (
            isinstance(reply, r.FlowRunReply)
            and not body.get("container", {}).get("is_ephemeral")
            and (reply.run.user_id == user or ctx.access.is_admin(user))
        )

    async def update_message(client: AsyncWebClient, body: dict[str, Any], reply: r.Reply) -> None:
        text, blocks = render_blocks(reply)
        await client.chat_update(
            channel=body["channel"]["id"], ts=body["message"]["ts"], text=text, blocks=blocks
        )

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
            await update_message(client, body, reply)
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

    async def on_flow_button(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """Refresh and Cancel run alike: the run as it now is rewrites its message (for its
        owner or an admin); anything else (an error, someone else's view) is answered to the
        clicker alone."""
        await ack()
        command = c.FlowCancel if action.get("action_id") == FLOW_CANCEL else c.FlowStatus
        reply = await run_flow(body, action, command)
        if may_update_run(body["user"]["id"], body, reply):
            await update_message(client, body, reply)
        else:
            await answer_clicker(client, body, reply)

    app.action("job_refresh")(on_refresh)
    app.action("job_tail")(on_tail)
    app.action("job_cancel")(on_cancel)
    app.action(FLOW_REFRESH)(on_flow_button)
    app.action(FLOW_CANCEL)(on_flow_button)
