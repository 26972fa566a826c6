"""An append-only journal for the records a batch must make durable at once (a poll tick's
intents, each before its post): one line appended and fsynced, where a shard rewrite costs a
temporary file, an fsync, a rename and a directory fsync. The shards still get the record
when the batch ends.

Every line has a number, and a shard file names the highest number given out when it was
rendered (its stamp): a line is replayed at load only onto a shard whose stamp is lower, so a
line the shards already hold (or a newer state of its record) is never applied over them. A
torn last line (a crash mid-append) is ignored: its append never returned.
"""

from __future__ import annotations

import asyncio
import json
import os
from dataclasses import dataclass
from pathlib import Path

from bot.store.atomic import PRIVATE_FILE, fsync_dir
from bot.store.backend import Doc


@dataclass(frozen=True)
class Entry:
    n: int
    shard: int  # the shard the record was in when journaled
    doc: Doc


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.n = 0  # the highest number given out (stamped into every shard written)
        self.size = 0  # bytes appended since the last clear
        self.lock = asyncio.Lock()  # appends one at a time; held by whoever clears it

    def entries(self) -> list[Entry]:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        out = []
        for line in data.split(b"\n")[:-1]:  # after the last newline: torn, or nothing
            try:
                e = json.loads(line)
            except ValueError:
                break  # torn: nothing after it was ever acknowledged
            out.append(Entry(e["n"], e["s"], e["doc"]))
        return out

    def number(self) -> int:
        """The next line's number; taken as its record goes into memory, so that a shard
        rendered from then on holds it."""
        self.n += 1
        return self.n

    async def append(self, n: int, shard: int, text: str) -> None:
        """Record `text` (a record's JSON) as line `n`; durable when this returns."""
        data = f'{{"n":{n},"s":{shard},"doc":{text}}}\n'.encode()
        async with self.lock:
            await asyncio.to_thread(self._append, data)
            self.size += len(data)

    def _append(self, data: bytes) -> None:
        new = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        if new:
            fsync_dir(self.path.parent)  # the file's name, once

    def clear(self) -> None:
        """Empty it (every line in it must be in durable shards): the caller holds `lock`,
        or nothing else runs (loading)."""
        if self.path.exists():
            fd = os.open(self.path, os.O_WRONLY | os.O_TRUNC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self.size = 0
