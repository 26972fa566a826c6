"""Run Slurm commands on this host (the bot lives on a login node)."""

from __future__ import annotations

import asyncio
import getpass
import os
import pwd
from collections.abc import Sequence

from bot.errors import TransportError
from bot.transport.base import CommandResult


def current_account() -> str:
    """The account commands run as without a prefix: the effective uid's, not $USER's."""
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:  # a uid with no passwd entry (some containers)
        return getpass.getuser()


def _as_account(account: str | None) -> list[str]:
    """Prefix that runs a command as `account` when the bot is someone else."""
    if account is None or account == current_account():
        return []
    if os.geteuid() == 0:
        return ["runuser", "-u", account, "--"]
    return ["sudo", "-n", "-u", account, "--"]


class LocalTransport:
    def __init__(self, account: str | None = None, timeout: float = 30.0) -> None:
        self._prefix = _as_account(account)
        self._timeout = timeout
        self.description = f"local ({account or current_account()})"

    async def run(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float | None = None
    ) -> CommandResult:
        full = [*self._prefix, *argv]
        try:
            proc = await asyncio.create_subprocess_exec(
                *full,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except FileNotFoundError:
            raise TransportError(f"`{full[0]}` is not installed on this host") from None
        try:
            out, err = await asyncio.wait_for(
                proc.communicate(stdin.encode() if stdin is not None else None),
                timeout or self._timeout,
            )
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise TransportError(
                f"`{argv[0]}` did not answer within {timeout or self._timeout:.0f} s"
            ) from None
        return CommandResult(
            tuple(argv),
            proc.returncode if proc.returncode is not None else -1,
            out.decode(errors="replace"),
            err.decode(errors="replace"),
        )

    async def close(self) -> None:
        return None
