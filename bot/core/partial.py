"""Reading a summary in parts: a part Slurm did not answer is named, never shown as empty."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from bot.errors import BotError

T = TypeVar("T")


async def read_part(what: str, call: Awaitable[T], problems: list[str]) -> T | None:
    """One part of a summary: what Slurm said, or None with the reason noted in `problems`
    (so a part that could not be read is never shown as empty)."""
    try:
        return await call
    except BotError as e:
        problems.append(f"{what}: {e}")
        return None


async def skipped() -> None:
    return None
