"""What every transport offers: run one argv (never a shell string) with optional stdin."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class CommandResult:
    argv: tuple[str, ...]
    exit_status: int
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    def error_text(self) -> str:
        """The most telling line of stderr, for messages (Slurm puts the cause last)."""
        lines = [ln.strip() for ln in self.stderr.splitlines() if ln.strip()]
        return lines[-1] if lines else f"exit status {self.exit_status}"


class Transport(Protocol):
    """Runs commands on a cluster's login node as one account."""

    description: str

    async def run(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float | None = None
    ) -> CommandResult:
        """Run argv; raises TransportError when it could not be run, never on a non-zero exit."""
        ...

    async def close(self) -> None: ...
