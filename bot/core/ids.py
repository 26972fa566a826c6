"""Ids of watches and reports (`w…`, `r…`): 12 random hex digits, and unique where stored.

48 random bits make a collision among even a million ids unlikely (~2e-3); the check on
insert makes it impossible. Ids of 4 hex digits stored by older versions stay valid.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from secrets import token_hex
from typing import Any

ID_BYTES = 6
ID_PATTERN = r"[0-9a-f]{12}|[0-9a-f]{4}"  # after the prefix; 4 digits: ids from before


def new_id(prefix: str) -> str:
    return prefix + token_hex(ID_BYTES)


async def insert_unique(
    add: Callable[[dict[str, Any]], Awaitable[bool]], doc: dict[str, Any], prefix: str
) -> str:
    """Store `doc` with the port's `add` (False: id taken), under a new id while its own is
    taken already; returns the id used."""
    while not await add(doc):
        doc = {**doc, "id": new_id(prefix)}
    return str(doc["id"])
