"""Store test helpers: the backends the contract tests run against (PostgreSQL joins later),
by name, so that a subprocess can open the same one; specs shaped like the features' own."""

from __future__ import annotations

from pathlib import Path

from bot.store.port import Backend, Spec
from bot.store.tiny import TinyBackend

NAMES = ["tiny"]

# What job threads and watches need: a key, a unique (channel, thread_ts), lists by field.
THREADS = Spec(
    "threads",
    key="key",
    indexes=(("cluster",),),
    unique=(("channel", "thread_ts"),),
    history=True,
    shards=4,
)
WATCHES = Spec("watches", indexes=(("kind", "cluster"), ("user_id",)))


def open_backend(name: str, where: Path) -> Backend:
    if name == "tiny":
        return TinyBackend(where)
    raise ValueError(f"no backend {name}")
