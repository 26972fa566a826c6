"""Slack's failures, read defensively: a proxy's 5xx has a plain-text body, a dropped
connection has none, and neither may crash an error path."""

from __future__ import annotations

import asyncio

import aiohttp
from slack_sdk.errors import SlackApiError

# What a Slack call raises when it fails: an API error, or no answer (connection, timeout).
SLACK_FAILURES = (SlackApiError, aiohttp.ClientError, OSError, asyncio.TimeoutError)


def slack_error(e: BaseException) -> str:
    """Slack's error code for a failed call, whatever came back: a JSON error, a proxy's
    plain-text 5xx (or aiohttp's own response object), or no answer at all."""
    if not isinstance(e, SlackApiError):
        return f"no answer from Slack ({type(e).__name__})"
    data = getattr(e.response, "data", None)
    if isinstance(data, dict) and isinstance(data.get("error"), str):
        return str(data["error"])
    status = getattr(e.response, "status_code", None) or getattr(e.response, "status", None)
    return f"HTTP {status}" if status else "an unreadable answer"


def slack_down(e: BaseException) -> bool:
    """Slack itself failed (server error, rate limit or no answer), as opposed to refusing
    this call (not_in_channel, ...): worth trying again later."""
    if not isinstance(e, SlackApiError):
        return True
    data = getattr(e.response, "data", None)
    status = getattr(e.response, "status_code", None) or 0
    return not isinstance(data, dict) or status >= 500 or status == 429
