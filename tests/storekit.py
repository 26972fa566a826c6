"""Store test helpers: the backends the contract tests run against (PostgreSQL joins later),
by name, so that a subprocess can open the same one (the files only); specs shaped like the
features' own."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from bot.store import durable, state
from bot.store.backend import Backend
from bot.store.journal import Journal
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


def _spy(monkeypatch: pytest.MonkeyPatch, owner: object, name: str, arg: int) -> list[Any]:
    """Calls of `owner.name` go through, each one's argument `arg` recorded, in order."""
    seen: list[Any] = []
    real = getattr(owner, name)

    def call(*args: Any) -> None:
        seen.append(args[arg])
        real(*args)

    monkeypatch.setattr(owner, name, call)
    return seen


def record_writes(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files the store writes durably (temp file, fsync, rename), in order."""
    return _spy(monkeypatch, durable, "write_atomic", 0)


def record_appends(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """The lines appended to journals (bot/store/journal.py), in order."""
    return _spy(monkeypatch, Journal, "_append", 1)
