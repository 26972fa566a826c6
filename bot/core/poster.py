"""Where the core's own messages go (GPU alerts, scheduled reports): the Slack layer posts
them; tests record them."""

from __future__ import annotations

from typing import Protocol

from bot.core.replies import Reply


class Poster(Protocol):
    async def post(self, channel: str, reply: Reply) -> str:
        """Post a reply as a new message in `channel`; return its ts. Raises if Slack refused."""
        ...
