"""From Slack's message text to the command grammar's text."""

from __future__ import annotations

import re

_MENTION = re.compile(r"^\s*<@[A-Z0-9]+(?:\|[^>]*)?>[\s:,]*")
_LINK = re.compile(r"<((?:https?|mailto|ftp):[^>|]*)(?:\|([^>]*))?>")


def command_text(raw: str, *, strip_mention: bool = False) -> str:
    """Undo Slack's formatting: auto-links, `&amp;`-escapes, and a leading @-mention."""
    text = _MENTION.sub("", raw, count=1) if strip_mention else raw
    text = _LINK.sub(lambda m: m.group(2) if m.group(1).startswith("mailto:") else m.group(1), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&").strip()
