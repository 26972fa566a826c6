"""A transport that answers by program name from a script and records every argv."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from bot.config import ClusterConfig
from bot.transport.base import CommandResult, Transport
from bot.transport.pool import TransportPool

Answer = tuple[int, str, str] | Exception


class Scripted:
    """Answers each command by its program name: (exit status, stdout, stderr), or raises."""

    description = "scripted"

    def __init__(self, answers: dict[str, Answer], delay: float = 0.0) -> None:
        self.answers = answers
        self.delay = delay
        self.calls: list[tuple[str, ...]] = []

    async def run(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float | None = None
    ) -> CommandResult:
        self.calls.append(tuple(argv))
        await asyncio.sleep(self.delay)
        answer = self.answers[argv[0]]
        if isinstance(answer, Exception):
            raise answer
        status, out, err = answer
        return CommandResult(tuple(argv), status, out, err)

    async def close(self) -> None:
        return None

    def count(self, program: str) -> int:
        return sum(1 for c in self.calls if c[0] == program)


class ScriptedPool(TransportPool):
    """A runtime's transports, one scripted transport per cluster account."""

    def __init__(self, by_account: dict[str, Scripted]) -> None:
        super().__init__()
        self.by_account = by_account

    def get(self, cluster: ClusterConfig, account: str, key_file: Path | None) -> Transport:
        return self.by_account[account]
