"""Listeners grouped by kind of Slack input; each module has one `register(app, ctx)`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.context import SlackContext
from bot.slack.listeners import actions, commands, events, forms, home


def register(app: AsyncApp, ctx: SlackContext) -> None:
    commands.register(app, ctx)
    events.register(app, ctx)
    actions.register(app, ctx)
    home.register(app, ctx)
    forms.register(app, ctx)
