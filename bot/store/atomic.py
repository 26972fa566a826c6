"""Durable files for the state: kill -9 at any moment leaves each file's old or new content.

A write goes to a fresh temporary file (created 0600, whatever the umask), is fsynced, renamed
over the old file, and the rename is fsynced too. The state names users, channels and jobs:
its directory is made 0700 and its files 0600.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600


def make_private_dir(path: Path) -> None:
    """Create the state directory for the bot's eyes only. An existing one keeps its mode
    (it may be a shared mount point); `bot check` warns when others can read it."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)


def clear_stale(folder: Path, name: str = "*") -> None:
    """Remove the temporary files of writes to `name` a crash interrupted (never renamed in)."""
    for stale in folder.glob(f".{name}.*.tmp"):
        stale.unlink(missing_ok=True)


def fsync_dir(path: Path) -> None:
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # makes a rename or an unlink in it durable
    finally:
        os.close(dir_fd)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # a failed write's leftover: O_EXCL makes a fresh 0600 file
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def remove_durably(path: Path) -> None:
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)


def rename_durably(path: Path, to: Path) -> None:
    os.replace(path, to)
    fsync_dir(to.parent)


def read_json(path: Path) -> Any:
    """The file's JSON; None when it is missing or empty."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return json.loads(text) if text.strip() else None
