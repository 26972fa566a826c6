"""Slack mrkdwn from plain text: escaping, code blocks, and the bot's own mentions."""

from __future__ import annotations

import re
from collections.abc import Sequence

_CHANNEL_LINK = re.compile(r"&lt;#([CG][A-Z0-9]+)&gt;")


def escape(text: str) -> str:
    """mrkdwn-safe: no `<!channel>` pings or broken formatting from job names or output.
    Channel links (`<#C123>`) stay links: they show a name and notify nobody."""
    safe = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _CHANNEL_LINK.sub(r"<#\1>", safe)


_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}", re.ASCII)


def with_mentions(text: str, mentions: Sequence[str]) -> str:
    """`escape(text)`, except the `<@ID>` of each id in `mentions`: the mentions the bot itself
    means to make stay mentions, any other `<@...>` in the text (a user's) stays escaped."""
    tokens = {f"<@{m}>" for m in mentions if _USER_ID.fullmatch(m)}
    if not tokens:
        return escape(text)
    parts = re.split("(" + "|".join(map(re.escape, sorted(tokens))) + ")", text)
    # re.split with one group: the odd parts are the mentions themselves.
    return "".join(part if i % 2 else escape(part) for i, part in enumerate(parts))


def code(text: str) -> str:
    """A code block; backtick fences inside the text are defused."""
    return "```" + escape(text).replace("```", "`\u200b``") + "```"
