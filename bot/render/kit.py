"""Block Kit's building blocks, cut to Slack's limits (50 blocks a message, 3,000 characters
a section, 10 fields); long lists end in "… and N more"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.render.mrkdwn import code, escape

Block = dict[str, Any]
MAX_BLOCKS = 50
SECTION_CHARS = 3000


def section(text: str) -> Block:
    if len(text) > SECTION_CHARS:
        text = text[: SECTION_CHARS - 1] + "…"
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def fields(pairs: Sequence[tuple[str, str]]) -> Block:
    return {
        "type": "section",
        "fields": [
            {"type": "mrkdwn", "text": f"*{label}*\n{escape(value)[:1900]}"}
            for label, value in pairs[:10]
        ],
    }


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:SECTION_CHARS]}]}


def fit_lines(lines: Sequence[str], budget: int, what: str = "more") -> list[str]:
    """As many whole lines as fit (escaped) in `budget` characters, then `… and N more`."""
    kept: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        cost = len(escape(line)) + 1
        if used + cost > budget - 40:
            kept.append(f"… and {len(lines) - i} {what}")
            break
        kept.append(line)
        used += cost
    return kept


def code_block(text: str, *, keep: str = "head", what: str = "more lines") -> Block:
    lines = text.rstrip("\n").splitlines() or ["(empty)"]
    if keep == "tail":
        kept = fit_lines(lines[::-1], SECTION_CHARS - 10, what)
        if kept[-1].startswith("… and"):
            kept = [kept[-1].replace("and", "and the first", 1), *kept[-2::-1]]
        else:
            kept = kept[::-1]
    else:
        kept = fit_lines(lines, SECTION_CHARS - 10, what)
    return section(code("\n".join(kept)))
