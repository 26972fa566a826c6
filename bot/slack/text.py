"""From Slack's message text to the command grammar's text, and back (escaping)."""

from __future__ import annotations

import re
from collections.abc import Sequence

_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s:,]*")
_LINK = re.compile(r"<((?:https?|mailto|ftp):[^>|]*)(?:\|([^>]*))?>")


def command_text(raw: str, *, strip_mention: bool = False) -> str:
    """Undo Slack's formatting: auto-links, `&amp;`-escapes, and a leading @-mention."""
    text = _MENTION.sub("", raw, count=1) if strip_mention else raw
    text = _LINK.sub(lambda m: m.group(2) if m.group(1).startswith("mailto:") else m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()


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
