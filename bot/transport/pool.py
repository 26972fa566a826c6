"""Transports keyed by (cluster, account): built once, reused for every command."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import ClusterConfig
from bot.transport.base import Transport
from bot.transport.local import LocalTransport

if TYPE_CHECKING:
    from bot.transport.ssh import SSHTarget


def ssh_target(cluster: ClusterConfig, account: str, key_file: Path | None) -> SSHTarget:
    # asyncssh (~0.3 s to import) loads with the first SSH cluster, not for `help`.
    from bot.transport.ssh import DEFAULT_KNOWN_HOSTS, SSHTarget

    host = cluster.ssh_config_host or cluster.host
    assert host is not None
    ssh_config: tuple[Path, ...] = ()
    if cluster.ssh_config is not None:
        ssh_config = (cluster.ssh_config,)
    elif cluster.ssh_config_host is not None:
        ssh_config = (Path("~/.ssh/config"),)
    key = key_file or cluster.key_file
    return SSHTarget(
        host=host,
        username=account,
        # An alias takes its port from the ssh config unless the cluster names one.
        port=cluster.port if cluster.host or "port" in cluster.model_fields_set else None,
        cluster=cluster.name,
        key_files=(key,) if key else (),
        known_hosts=cluster.known_hosts or DEFAULT_KNOWN_HOSTS,
        ssh_config=ssh_config,
        proxy_jump=cluster.proxy_jump,
        keepalive_interval=cluster.keepalive_interval,
        command_timeout=cluster.command_timeout,
        max_sessions=cluster.max_sessions,
        max_backoff=cluster.reconnect_max_backoff,
    )


class TransportPool:
    def __init__(self) -> None:
        self._transports: dict[tuple[str, str], Transport] = {}

    def get(self, cluster: ClusterConfig, account: str, key_file: Path | None) -> Transport:
        key = (cluster.name, account)
        t = self._transports.get(key)
        if t is None:
            if cluster.is_local:
                t = LocalTransport(account, timeout=cluster.command_timeout)
            else:
                from bot.transport.ssh import SSHTransport

                t = SSHTransport(ssh_target(cluster, account, key_file))
            self._transports[key] = t
        return t

    async def close(self) -> None:
        for t in self._transports.values():
            await t.close()
        self._transports.clear()
