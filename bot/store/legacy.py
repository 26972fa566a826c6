"""The single `state.json` of earlier versions (one TinyDB file: tables threads, watches,
reports, prefs), read once to be imported into the current layout, then set aside as
`state.json.imported` (kept, never read again)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.store.atomic import clear_stale, read_json, rename_durably
from bot.store.backend import Doc

NAME = "state.json"
DONE = "state.json.imported"


@dataclass
class Legacy:
    open_threads: list[Doc] = field(default_factory=list)
    done_threads: list[Doc] = field(default_factory=list)
    watches: list[Doc] = field(default_factory=list)
    reports: list[Doc] = field(default_factory=list)
    prefs: list[Doc] = field(default_factory=list)


def read(root: Path) -> Legacy | None:
    """The old state in `root`, if there is one left to import."""
    path = root / NAME
    if not path.is_file():
        return None
    clear_stale(root, NAME)
    data = read_json(path) or {}
    old = Legacy()

    def table(name: str) -> list[Doc]:
        return list(data.get(name, {}).values())

    for doc in table("threads"):
        doc.setdefault("key", f"{doc['cluster']}:{doc['job_id']}")
        (old.done_threads if doc.get("done") else old.open_threads).append(doc)
    old.watches, old.reports, old.prefs = table("watches"), table("reports"), table("prefs")
    return old


def retire(root: Path) -> None:
    """Imported: renamed, so the next start does not import it again."""
    rename_durably(root / NAME, root / DONE)
