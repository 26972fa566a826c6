"""Audit log: one JSON line per command (who, where, as whom, what, outcome). No secrets:
the bot's tokens never reach it, and values of `--env K=V` are masked."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import time
from pathlib import Path

from bot.core.grammar import split_words
from bot.store.atomic import PRIVATE_FILE, make_private_dir

MAX_TEXT = 500
_HIDDEN = "***"


def _masked_pair(value: str) -> str:
    key, sep, _ = value.partition("=")
    return f"{key}={_HIDDEN}" if sep else _HIDDEN


def _masked_tokens(tokens: list[str]) -> tuple[list[str], bool]:
    """The words with every `--env` value hidden, and whether there was one to hide."""
    out: list[str] = []
    hid = after_env = False
    for tok in tokens:
        flag, sep, value = tok.partition("=")
        inline = flag.lower() == "--env" and bool(sep)  # `--env=K=V`
        if after_env:
            out.append(_masked_pair(tok))
        else:
            out.append(f"{flag}={_masked_pair(value)}" if inline else tok)
        hid = hid or after_env or inline
        after_env = tok.lower() == "--env"  # `--env --env K=V` (refused) still hides K's value
    return out, hid


def mask(text: str) -> str:
    """The command with `--env` values hidden, read with the grammar's own tokenizer (so every
    quoting, spacing and smart-quote spelling it accepts is caught). A line it cannot read keeps
    only the words before the unreadable part; the command after `--` is the job's, as typed."""
    words = split_words(text)
    tokens, hid = _masked_tokens(words.tokens)
    if not hid and words.unreadable is None:
        return text[:MAX_TEXT]
    parts = [shlex.join(tokens)] if tokens else []
    if words.unreadable is not None:
        parts.append(_HIDDEN)
    if words.command is not None:
        parts += ["--", words.command]
    return " ".join(parts)[:MAX_TEXT]


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
