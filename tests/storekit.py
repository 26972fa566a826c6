"""Store test helpers: the backends the contract tests run against (PostgreSQL joins later),
by name, so that a subprocess can open the same one (the files only); specs shaped like the
features' own."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bot.store import state
from bot.store.backend import Backend
from bot.store.memory import MemoryBackend
from bot.store.tiny import TinyBackend

NAMES = ["tiny", "memory"]
DURABLE = ["tiny"]  # what a new process finds again
_memory: dict[Path, MemoryBackend] = {}  # a memory backend "reopened" is the same one

# The features' own specs, on fewer shards (a test touches every one).
THREADS = dataclasses.replace(state.THREADS, shards=4)
WATCHES = dataclasses.replace(state.WATCHES, shards=1)


def open_backend(name: str, where: Path) -> Backend:
    if name == "tiny":
        return TinyBackend(where)
    if name == "memory":
        return _memory.setdefault(where, MemoryBackend())
    raise ValueError(f"no backend {name}")
