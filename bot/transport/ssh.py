"""One persistent asyncssh connection per (cluster, account), reused by every command.

Host keys are always checked against a known_hosts file; there is no switch to turn that off.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh

from bot.errors import HostKeyError, TransportError
from bot.transport.base import CommandResult

log = logging.getLogger(__name__)

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")


@dataclass(frozen=True)
class SSHTarget:
    """Where and as whom to log in. `host` may be an alias from `ssh_config`."""

    host: str
    username: str
    port: int | None = None
    key_files: tuple[Path, ...] = ()
    known_hosts: Path = DEFAULT_KNOWN_HOSTS
    ssh_config: tuple[Path, ...] = ()
    proxy_jump: str | None = None
    keepalive_interval: float = 15.0
    connect_timeout: float = 10.0
    command_timeout: float = 30.0
    max_sessions: int = 8
    max_backoff: float = 30.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return f"{self.username}@{self.host}" + (f":{self.port}" if self.port else "")


def _split_jump(spec: str, default_user: str) -> tuple[str, str, int | None]:
    """`[user@]host[:port]` -> (user, host, port)."""
    user, _, hostport = spec.rpartition("@")
    host, sep, port = hostport.rpartition(":")
    if not sep:
        host, port = hostport, ""
    return user or default_user, host, int(port) if port else None


class SSHTransport:
    def __init__(self, target: SSHTarget) -> None:
        self.target = target
        via = f" via {target.proxy_jump}" if target.proxy_jump else ""
        self.description = f"ssh {target.where}{via}"
        self._conn: asyncssh.SSHClientConnection | None = None
        self._jump: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        # Below sshd's MaxSessions (10) so a burst queues here instead of failing there.
        self._sessions = asyncio.Semaphore(target.max_sessions)
        self._backoff = 0.0
        self._retry_at = 0.0
        self._last_error = ""
        self.connects = 0  # how many logins this transport made (benchmarks and tests read it)

    # ------------------------------------------------------------------ connection
    def _known_hosts(self) -> str:
        path = self.target.known_hosts.expanduser()
        if not path.is_file():
            raise HostKeyError(
                f"known_hosts file {path} does not exist; create it with the cluster's host key "
                f"(`ssh-keyscan -p {self.target.port or 22} {self.target.host} >> {path}`, "
                "after checking the key with your admins)"
            )
        return str(path)

    def _options(self, known_hosts: str) -> dict[str, Any]:
        t = self.target
        opts: dict[str, Any] = {
            "known_hosts": known_hosts,
            "keepalive_interval": t.keepalive_interval,
            "keepalive_count_max": 3,
            "connect_timeout": t.connect_timeout,
            "config": [str(p.expanduser()) for p in t.ssh_config] or (),
        }
        if t.key_files:
            opts["client_keys"] = [str(p.expanduser()) for p in t.key_files]
        return opts

    async def _login(
        self, host: str, port: int | None, user: str, opts: dict[str, Any]
    ) -> asyncssh.SSHClientConnection:
        try:
            return await asyncssh.connect(host, port=port or (), username=user, **opts)
        except (asyncssh.Error, OSError, TimeoutError) as e:
            raise self._explain(e, host, port, user) from None

    async def _open(self) -> asyncssh.SSHClientConnection:
        t = self.target
        opts = self._options(self._known_hosts())
        if t.proxy_jump:
            # Opened here, not by asyncssh from a string, so the bastion's host key is
            # checked against the same known_hosts with the same keys.
            juser, jhost, jport = _split_jump(t.proxy_jump, t.username)
            self._jump = await self._login(jhost, jport, juser, opts)
            opts["tunnel"] = self._jump
        return await self._login(t.host, t.port, t.username, opts)

    def _explain(
        self, exc: BaseException, host: str, port: int | None, user: str
    ) -> TransportError:
        where = f"{user}@{host}:{port or 22}"
        if isinstance(exc, asyncssh.HostKeyNotVerifiable):
            kh = self.target.known_hosts.expanduser()
            return HostKeyError(
                f"SSH host key of {host}:{port or 22} is not trusted (unknown or changed, "
                f"checked against {kh}); verify it with your admins, then add it: "
                f"`ssh-keyscan -p {port or 22} {host} >> {kh}`"
            )
        if isinstance(exc, asyncssh.PermissionDenied):
            return TransportError(
                f"SSH login as {where} was refused; check the key_file for account "
                f"`{user}` in the config"
            )
        if isinstance(exc, OSError | TimeoutError):
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            return TransportError(f"cannot reach {where}: {reason or 'connection timed out'}")
        return TransportError(f"SSH to {where} failed: {exc}")

    async def _connection(self) -> asyncssh.SSHClientConnection:
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return self._conn
            await self._drop()
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                raise TransportError(f"{self._last_error} (next try in {wait:.0f} s)")
            try:
                self._conn = await self._open()
            except TransportError as err:
                await self._drop()
                if not isinstance(err, HostKeyError):
                    self._backoff = min(self.target.max_backoff, max(1.0, self._backoff * 2))
                    self._retry_at = time.monotonic() + self._backoff
                self._last_error = str(err)
                log.warning("%s: %s", self.description, err)
                raise err from None
            self.connects += 1
            self._backoff = 0.0
            self._retry_at = 0.0
            log.info("%s: connected", self.description)
            return self._conn

    async def _drop(self) -> None:
        for c in (self._conn, self._jump):
            if c is not None:
                c.close()
        self._conn = self._jump = None

    # ------------------------------------------------------------------ commands
    async def run(
        self, argv: Sequence[str], *, stdin: str | None = None, timeout: float | None = None
    ) -> CommandResult:
        command = shlex.join(argv)  # every argument quoted: user text is never shell syntax
        limit = timeout or self.target.command_timeout
        async with self._sessions:
            conn = await self._connection()
            for attempt in range(4):
                try:
                    res = await conn.run(command, input=stdin, check=False, timeout=limit)
                    break
                except asyncssh.ChannelOpenError as e:
                    # The server is still closing earlier sessions (MaxSessions): the link is
                    # fine, so wait a moment instead of dropping it.
                    if attempt == 3 or conn.is_closed():
                        raise TransportError(f"{self.target.host} refused a session: {e}") from None
                    await asyncio.sleep(0.05 * 2**attempt)
                except asyncssh.TimeoutError:
                    raise TransportError(
                        f"`{argv[0]}` on {self.target.host} did not answer within {limit:.0f} s"
                    ) from None
                except (asyncssh.Error, OSError) as e:
                    async with self._lock:
                        if self._conn is conn:
                            await self._drop()
                    raise TransportError(f"connection to {self.target.where} lost: {e}") from None
        status = res.exit_status if res.exit_status is not None else -1
        out = res.stdout if isinstance(res.stdout, str) else ""
        err = res.stderr if isinstance(res.stderr, str) else ""
        return CommandResult(tuple(argv), status, out, err)

    async def close(self) -> None:
        async with self._lock:
            await self._drop()
