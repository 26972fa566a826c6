"""Ids of watches and reports (`w…`, `r…`): 12 random hex digits, and unique where stored.

48 random bits make a collision among even a million ids unlikely (~2e-3); the check on
insert makes it impossible. Ids of 4 hex digits stored by older versions stay valid.
"""

from __future__ import annotations

from secrets import token_hex
from typing import Any

from tinydb import Query
from tinydb.table import Table

ID_BYTES = 6
ID_PATTERN = r"[0-9a-f]{12}|[0-9a-f]{4}"  # after the prefix; 4 digits: ids from before


def new_id(prefix: str) -> str:
    return prefix + token_hex(ID_BYTES)


def insert_unique(table: Table, doc: dict[str, Any], prefix: str) -> str:
    """Insert `doc`, under a new id while its own is taken already; returns the id used."""
    while table.contains(Query().id == doc["id"]):
        doc = {**doc, "id": new_id(prefix)}
    table.insert(doc)
    return str(doc["id"])
