"""Audit log: one JSON line per command (who, where, as whom, what, outcome). No secrets:
the bot's tokens never reach it, and values of `--env K=V` are masked."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path

from bot.core.store import PRIVATE_FILE, make_private_dir

_ENV_VALUE = re.compile(r"(--env[ =]+['\"]?[A-Za-z_][A-Za-z0-9_]*=)(\S+)")
MAX_TEXT = 500


def mask(text: str) -> str:
    return _ENV_VALUE.sub(r"\1***", text)[:MAX_TEXT]


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = asyncio.Lock()  # keep lines whole and in order

    async def record(
        self, *, user: str, channel: str | None, account: str | None, command: str, outcome: str
    ) -> None:
        line = json.dumps(
            {
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "user": user,
                "channel": channel or "console",
                "account": account,
                "command": mask(command),
                "outcome": outcome[:MAX_TEXT],
            },
            ensure_ascii=False,
        )
        async with self._lock:
            await asyncio.to_thread(self._append, line)

    def _append(self, line: str) -> None:
        make_private_dir(self.path.parent)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(line + "\n")
