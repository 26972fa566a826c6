"""The buttons on a job's card: Refresh (the card in place), Tail and Cancel (answers only the
person who clicked). Every click runs as the clicker's own account, so only the job's owner
can cancel it: Slurm refuses anyone else."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import replies as r
from bot.slack.blocks import render_blocks
from bot.slack.context import SlackContext


def register(app: AsyncApp, ctx: SlackContext) -> None:
    async def run(body: dict[str, Any], action: dict[str, Any], verb: str) -> r.Reply:
        cluster, _, job_id = str(action.get("value", "")).partition("|")
        return await ctx.service.handle(
            body["user"]["id"],
            f"{verb} {job_id} --cluster {cluster}",
            channel=body.get("channel", {}).get("id"),
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
        reply = await run(body, action, "status")
        if isinstance(reply, r.StatusReply) and not body.get("container", {}).get("is_ephemeral"):
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
        await answer_clicker(client, body, await run(body, action, "tail"))

    async def on_cancel(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        await answer_clicker(client, body, await run(body, action, "cancel"))

    app.action("job_refresh")(on_refresh)
    app.action("job_tail")(on_tail)
    app.action("job_cancel")(on_cancel)
