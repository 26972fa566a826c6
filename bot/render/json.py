"""Replies as JSON for `bot console --json`: the reply's own fields, `kind` first.

The field names are the Reply models' (bot/core/replies.py), so they stay stable with the
code; `ephemeral` is left out (who sees a Slack message means nothing in a terminal). An error
is `{"error": "..."}` alone."""

from __future__ import annotations

import json
from typing import Any

from bot.core import replies as r


def reply_data(reply: r.Reply) -> dict[str, Any]:
    if isinstance(reply, r.ErrorReply):
        return {"error": reply.message}
    data = reply.model_dump(mode="json", exclude={"ephemeral"})
    return {"kind": data.pop("kind"), **data}


def render_json(reply: r.Reply) -> str:
    return json.dumps(reply_data(reply), indent=2, ensure_ascii=False)
