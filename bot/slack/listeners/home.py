"""The App Home tab: published when the user opens it, again on Refresh, and after a Cancel
click (with the outcome as a notice). Everything runs as the viewing user's own account."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import commands as c
from bot.core.access import error_reply
from bot.errors import BotError
from bot.render.home_tab import CANCEL, REFRESH, error_view, home_notice, home_view
from bot.slack.context import SlackContext
from bot.slack.listeners.actions import run_button

log = logging.getLogger(__name__)


def register(app: AsyncApp, ctx: SlackContext) -> None:
    async def publish(client: AsyncWebClient, user: str, notice: str | None = None) -> None:
        # Never an empty or broken Home: an unmapped user or a failure gets a view saying so.
        try:
            view = home_view(await ctx.home.build(user), notice)
        except BotError as e:
            err = error_reply(e)
            view = error_view(err.message, err.mentions)
        except Exception:
            log.exception("building the Home of %s failed", user)
            view = error_view("something went wrong on the bot's side; the error is in its log")
        await client.views_publish(user_id=user, view=view)

    async def on_opened(
        body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient
    ) -> None:
        # The same event comes for the Messages and About tabs; Slack may redeliver it.
        if event.get("tab") != "home":
            return
        if not await ctx.recent.first_time(f"event:{body.get('event_id', '')}"):
            return
        await publish(client, event.get("user", ""))

    async def on_refresh(ack: AsyncAck, body: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        await publish(client, body["user"]["id"])

    async def on_cancel(
        ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient
    ) -> None:
        await ack()
        user = body["user"]["id"]
        reply = await run_button(ctx, user, str(action.get("value", "")), c.Cancel)
        await publish(client, user, home_notice(reply))

    app.event("app_home_opened")(on_opened)
    app.action(REFRESH)(on_refresh)
    app.action(CANCEL)(on_cancel)
