"""One persistent asyncssh connection per (cluster, account), reused by every command.

Host keys are always checked against a known_hosts file; there is no switch to turn that off.
"""

from __future__ import annotations

import asyncio
import errno
import getpass
import logging
import shlex
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncssh
from asyncssh.config import SSHClientConfig

from bot.errors import HostKeyError, KeyFileError, TransportError, UnreachableError
from bot.transport.base import CommandResult

log = logging.getLogger(__name__)

DEFAULT_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
_MAX_JUMPS = 8  # deeper ProxyJump chains than this are taken for a loop in the ssh config


@dataclass(frozen=True)
class SSHTarget:
    """Where and as whom to log in. `host` may be an alias from `ssh_config`."""

    host: str
    username: str
    port: int | None = None
    cluster: str = ""  # for messages: "the key for bob on lab"
    key_files: tuple[Path, ...] = ()
    known_hosts: Path = DEFAULT_KNOWN_HOSTS
    ssh_config: tuple[Path, ...] = ()  # empty: no OpenSSH config is read, not even ~/.ssh/config
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

    @property
    def account(self) -> str:
        return f"{self.username} on {self.cluster}" if self.cluster else self.username


@dataclass(frozen=True)
class Hop:
    """One SSH login on the way: a jump host or the login node, resolved for messages."""

    name: str  # as configured: an alias or a host name
    user: str
    port: int | None  # as configured; None lets the ssh config (or 22) decide
    host: str  # what it resolves to
    real_port: int
    role: str  # "jump host" or "login node"
    jump: str | None = None  # its own ProxyJump in the ssh config
    proxy_command: bool = False  # the ssh config gives it a ProxyCommand

    @property
    def address(self) -> str:
        return f"{self.host}:{self.real_port}"


def _split_jump(spec: str, default_user: str) -> tuple[str, str, int | None]:
    """`[user@]host[:port]` -> (user, host, port)."""
    user, _, hostport = spec.rpartition("@")
    host, sep, port = hostport.rpartition(":")
    if not sep:
        host, port = hostport, ""
    return user or default_user, host, int(port) if port else None


_OS_REASONS = {
    errno.ENETUNREACH: "network unreachable",
    errno.EHOSTUNREACH: "no route to host",
    errno.ECONNRESET: "the connection was reset",
    errno.ECONNABORTED: "the connection was aborted",
}


def describe_os_error(exc: BaseException, timeout: float) -> str:
    """What a host did, in words, to follow "the login node HOST:PORT"."""
    if isinstance(exc, ConnectionRefusedError):
        return "refused the connection"
    if isinstance(exc, TimeoutError):
        return f"did not answer within {timeout:g} s"
    if isinstance(exc, socket.gaierror):
        return "cannot be reached: host name not found"
    reason = _OS_REASONS.get(exc.errno or 0) if isinstance(exc, OSError) else None
    return f"cannot be reached: {reason or 'network error'}"


def _key_reason(exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}; check the file and its permissions"
    if "passphrase" in str(exc).lower():
        return "it is protected by a passphrase, which the bot cannot enter; use a key without one"
    return f"{exc} (is it an OpenSSH private key?)"


class SSHTransport:
    def __init__(self, target: SSHTarget) -> None:
        self.target = target
        via = f" via {target.proxy_jump}" if target.proxy_jump else ""
        self.description = f"ssh {target.where}{via}"
        self._conn: asyncssh.SSHClientConnection | None = None
        self._jumps: list[asyncssh.SSHClientConnection] = []
        self._lock = asyncio.Lock()
        # Below sshd's MaxSessions (10) so a burst queues here instead of failing there.
        self._sessions = asyncio.Semaphore(target.max_sessions)
        self._backoff = 0.0
        self._retry_at = 0.0
        self._last_error: TransportError = TransportError("")
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

    def _client_keys(self) -> list[asyncssh.SSHKeyPair]:
        """The account's keys, loaded here so a bad file is its own clear error."""
        keys: list[asyncssh.SSHKeyPair] = []
        for p in self.target.key_files:
            path = p.expanduser()
            try:
                keys.extend(asyncssh.load_keypairs(str(path)))
            except FileNotFoundError:
                raise KeyFileError(
                    f"the key file {path} for {self.target.account} does not exist; "
                    "fix key_file in the config"
                ) from None
            except (asyncssh.KeyImportError, OSError) as e:
                raise KeyFileError(
                    f"the key for {self.target.account} cannot be loaded: {_key_reason(e)}"
                ) from None
        return keys

    def _config_paths(self) -> list[str] | None:
        # None, not asyncssh's default (): a cluster that names no ssh config reads none.
        return [str(p.expanduser()) for p in self.target.ssh_config] or None

    def _options(self) -> dict[str, Any]:
        t = self.target
        opts: dict[str, Any] = {
            "known_hosts": self._known_hosts(),
            "keepalive_interval": t.keepalive_interval,
            "keepalive_count_max": 3,
            "connect_timeout": t.connect_timeout,
            "config": self._config_paths(),
            "proxy_command": None,  # every hop is opened below, never by a command or asyncssh
        }
        if t.key_files:
            opts["client_keys"] = self._client_keys()
        return opts

    def _resolve(self, name: str, port: int | None, user: str, role: str) -> Hop:
        """Where `name` leads under the ssh config (HostName, Port, ProxyJump), if there is one."""
        paths = self._config_paths()
        if not paths:
            return Hop(name, user, port, name, port or 22, role)
        try:
            cfg = SSHClientConfig.load(
                None, paths, False, False, False, getpass.getuser(), user, name, port or ()
            )
        except (OSError, ValueError) as e:
            raise TransportError(f"the ssh config {', '.join(paths)} cannot be read: {e}") from None
        host, real_port, jump = cfg.get("Hostname", name), cfg.get("Port", 22), cfg.get("ProxyJump")
        return Hop(
            name,
            user,
            port,
            str(host),
            int(str(real_port)),
            role,
            _jump_spec(jump),
            bool(cfg.get("ProxyCommand")),
        )

    def _reached_directly(self, hop: Hop) -> None:
        """A host the bot dials itself: a ProxyCommand would have been OpenSSH's way there."""
        if hop.proxy_command and hop.jump is None:
            raise TransportError(
                f"the ssh config sets a ProxyCommand for {hop.name}, which the bot does not run; "
                "use ProxyJump (or the cluster's proxy_jump) instead"
            )

    def _route(self) -> list[Hop]:
        """Every login on the way, jump hosts first (OpenSSH's order), the login node last."""
        t = self.target
        node = self._resolve(t.host, t.port, t.username, "login node")
        if not t.proxy_jump:
            self._reached_directly(node)
        return [*self._jumps_for(t.proxy_jump or node.jump, 0), node]

    def _jumps_for(self, spec: str | None, depth: int) -> list[Hop]:
        if not spec:
            return []
        if depth > _MAX_JUMPS:
            raise TransportError(
                f"the ProxyJump chain for {self.target.host} loops; fix the config"
            )
        hops: list[Hop] = []
        for i, part in enumerate(spec.split(",")):
            user, name, port = _split_jump(part.strip(), self.target.username)
            hop = self._resolve(name, port, user, "jump host")
            if i == 0:  # only the first hop is reached directly, so only its own jump counts
                self._reached_directly(hop)
                hops += self._jumps_for(hop.jump, depth + 1)
            hops.append(hop)
        return hops

    async def _login(
        self, hop: Hop, via: asyncssh.SSHClientConnection | None, opts: dict[str, Any]
    ) -> asyncssh.SSHClientConnection:
        try:
            return await asyncssh.connect(
                hop.name, port=hop.port or (), username=hop.user, tunnel=via, **opts
            )
        except (asyncssh.Error, OSError, TimeoutError) as e:
            raise self._explain(e, hop) from None

    async def _open(self) -> asyncssh.SSHClientConnection:
        opts = self._options()
        *jumps, node = self._route()
        via: asyncssh.SSHClientConnection | None = None
        for hop in jumps:
            # Opened here, not by asyncssh from a string or a config, so every bastion's host
            # key is checked against the same known_hosts and it is logged in to with the same
            # account and keys.
            via = await self._login(hop, via, opts)
            self._jumps.append(via)
        return await self._login(node, via, opts)

    def _explain(self, exc: BaseException, hop: Hop) -> TransportError:
        where = f"{hop.user}@{hop.address}"
        if isinstance(exc, asyncssh.HostKeyNotVerifiable):
            kh = self.target.known_hosts.expanduser()
            return HostKeyError(
                f"SSH host key of the {hop.role} {hop.address} is not trusted (unknown or changed, "
                f"checked against {kh}); verify it with your admins, then add it: "
                f"`ssh-keyscan -p {hop.real_port} {hop.host} >> {kh}`"
            )
        if isinstance(exc, asyncssh.PermissionDenied):
            return TransportError(
                f"SSH login as {where} was refused by the {hop.role}; check the key_file for "
                f"account `{hop.user}` in the config"
            )
        if isinstance(exc, OSError | TimeoutError):
            words = describe_os_error(exc, self.target.connect_timeout)
            return UnreachableError(
                f"the {hop.role} {hop.address} {words}", detail=str(exc) or type(exc).__name__
            )
        return UnreachableError(f"SSH to the {hop.role} {hop.address} failed: {exc}", str(exc))

    async def _connection(self) -> asyncssh.SSHClientConnection:
        async with self._lock:
            if self._conn is not None and not self._conn.is_closed():
                return self._conn
            await self._drop()
            wait = self._retry_at - time.monotonic()
            if wait > 0:
                raise _retry_later(self._last_error, wait)
            try:
                self._conn = await self._open()
            except TransportError as err:
                await self._drop()
                if not isinstance(err, HostKeyError | KeyFileError):
                    self._backoff = min(self.target.max_backoff, max(1.0, self._backoff * 2))
                    self._retry_at = time.monotonic() + self._backoff
                self._last_error = err
                detail = getattr(err, "detail", "")
                log.warning("%s: %s%s", self.description, err, f" ({detail})" if detail else "")
                raise err from None
            self.connects += 1
            self._backoff = 0.0
            self._retry_at = 0.0
            log.info("%s: connected", self.description)
            return self._conn

    async def _drop(self) -> None:
        for c in (self._conn, *reversed(self._jumps)):
            if c is not None:
                c.close()
        self._conn = None
        self._jumps = []

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
                    # errors="replace": output that is not UTF-8 (or cut mid-character by
                    # `tail -c`) must not fail the command.
                    res = await conn.run(
                        command, input=stdin, check=False, timeout=limit, errors="replace"
                    )
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
                    raise UnreachableError(
                        f"the connection to the login node {self.target.where} was lost",
                        detail=str(e),
                    ) from None
        status = res.exit_status if res.exit_status is not None else -1
        out = res.stdout if isinstance(res.stdout, str) else ""
        err = res.stderr if isinstance(res.stderr, str) else ""
        return CommandResult(tuple(argv), status, out, err)

    async def close(self) -> None:
        async with self._lock:
            await self._drop()


def _jump_spec(value: object) -> str | None:
    """A config's ProxyJump, with OpenSSH's `none` meaning no jump."""
    text = str(value).strip() if value else ""
    return None if not text or text.lower() == "none" else text


def _retry_later(err: TransportError, wait: float) -> TransportError:
    """The last failure again, while backing off: same words, same detail."""
    text = f"{err} (next try in {wait:.0f} s)"
    if isinstance(err, UnreachableError):
        return UnreachableError(text, err.detail)
    return TransportError(text)
