"""Transports by (cluster, account), built once; what an SSH login is made of."""

from __future__ import annotations

from pathlib import Path

from bot.config import ClusterConfig
from bot.transport.local import LocalTransport
from bot.transport.pool import TransportPool, ssh_target
from bot.transport.ssh import DEFAULT_KNOWN_HOSTS, SSHTransport


def test_an_ssh_login_is_the_account_on_the_clusters_host() -> None:
    cluster = ClusterConfig(
        name="lab", host="login1", port=2222, known_hosts=Path("/k"), proxy_jump="jump:22"
    )
    t = ssh_target(cluster, "alice", Path("/keys/alice"))
    assert (t.host, t.port, t.username, t.cluster) == ("login1", 2222, "alice", "lab")
    assert t.key_files == (Path("/keys/alice"),) and t.known_hosts == Path("/k")
    assert t.proxy_jump == "jump:22" and t.ssh_config == ()


def test_the_clusters_key_serves_accounts_without_their_own() -> None:
    cluster = ClusterConfig(name="lab", host="login1", key_file=Path("/keys/shared"))
    assert ssh_target(cluster, "bob", None).key_files == (Path("/keys/shared"),)
    bare = ssh_target(ClusterConfig(name="lab", host="login1"), "bob", None)
    assert bare.key_files == () and bare.known_hosts == DEFAULT_KNOWN_HOSTS


def test_an_ssh_config_alias_takes_its_port_from_the_ssh_config_unless_named() -> None:
    alias = ssh_target(ClusterConfig(name="hpc", ssh_config_host="hpc"), "alice", None)
    assert (alias.host, alias.port, alias.ssh_config) == ("hpc", None, (Path("~/.ssh/config"),))
    named = ClusterConfig(name="hpc", ssh_config_host="hpc", port=2200, ssh_config=Path("/c"))
    assert (ssh_target(named, "alice", None).port, ssh_target(named, "alice", None).ssh_config) == (
        2200,
        (Path("/c"),),
    )


async def test_one_transport_per_cluster_and_account_reused_until_closed() -> None:
    pool = TransportPool()
    remote = ClusterConfig(name="lab", host="login1")
    local = ClusterConfig(name="local")
    a = pool.get(remote, "alice", None)
    assert isinstance(a, SSHTransport) and pool.get(remote, "alice", None) is a
    assert pool.get(remote, "bob", None) is not a
    assert isinstance(pool.get(local, "alice", None), LocalTransport)
    await pool.close()  # nothing connected yet: closing is cheap
    assert pool.get(remote, "alice", None) is not a
    await pool.close()
