"""The bot's state: TinyDB behind a small async interface.

TinyDB's own JSONStorage rewrites the file in place, so a crash mid-write can leave it torn.
AtomicJSONStorage writes a temporary file, fsyncs it and renames it over the old one: after a
crash the file is either the old state or the new one. Writes go through one lock, one at a
time, off the event loop (TinyDB is not thread-safe, and there must be one writer).

The state names users, channels and jobs: the directory is made 0700 and its files 0600,
whatever the umask.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tinydb import TinyDB
from tinydb.storages import Storage

T = TypeVar("T")

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private_dir(path: Path) -> None:
    """Create the state directory for the bot's eyes only. An existing one keeps its mode
    (it may be a shared mount point); `bot check` warns when others can read it."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


class AtomicJSONStorage(Storage):
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        make_private_dir(self.path.parent)
        for stale in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            stale.unlink(missing_ok=True)  # a write a crash interrupted: never renamed in

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        if not text.strip():
            return None
        data: dict[str, dict[str, Any]] = json.loads(text)
        return data

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        tmp.unlink(missing_ok=True)  # a failed write's leftover: O_EXCL makes a fresh 0600 file
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, separators=(",", ":"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)  # make the rename itself durable
        finally:
            os.close(dir_fd)

    def close(self) -> None:
        return None


class Store:
    """One TinyDB file; every access is serialized and runs in a worker thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = TinyDB(path, storage=AtomicJSONStorage)
        self._lock = asyncio.Lock()

    async def run(self, fn: Callable[[TinyDB], T]) -> T:
        async with self._lock:
            return await asyncio.to_thread(fn, self.db)

    def close(self) -> None:
        self.db.close()
