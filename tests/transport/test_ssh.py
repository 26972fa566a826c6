"""The SSH transport without the lab: key files, error wording, which ssh config is read."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import pytest

from bot.config import ClusterConfig
from bot.errors import KeyFileError, UnreachableError
from bot.transport.pool import ssh_target
from bot.transport.ssh import SSHTarget, SSHTransport, describe_os_error


@pytest.fixture
def closed_port() -> int:
    """A local port nobody listens on: bound, then closed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A local port that accepts connections and never says a word."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def _target(tmp_path: Path, port: int | None, **kw: object) -> SSHTarget:
    known = tmp_path / "known_hosts"
    known.touch()
    opts: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "username": "bob",
        "cluster": "lab",
        "known_hosts": known,
        "connect_timeout": 2.0,
    }
    opts.update(kw)
    return SSHTarget(**opts)  # type: ignore[arg-type]


async def _fails(target: SSHTarget) -> Exception:
    t = SSHTransport(target)
    try:
        await t.run(["true"])
    except Exception as e:  # the test inspects whatever came out
        return e
    finally:
        await t.close()
    raise AssertionError("the command ran")


async def test_garbage_key_file_is_a_per_account_key_error(
    tmp_path: Path, closed_port: int
) -> None:
    key = tmp_path / "bob"
    key.write_text("this is not a key\n")
    err = await _fails(_target(tmp_path, closed_port, key_files=(key,)))
    assert isinstance(err, KeyFileError)
    assert str(err).startswith("the key for bob on lab cannot be loaded: ")


async def test_passphrase_protected_key_is_a_key_error(tmp_path: Path, closed_port: int) -> None:
    key = tmp_path / "bob"
    secret = asyncssh.generate_private_key("ssh-ed25519")
    key.write_bytes(secret.export_private_key("pkcs8-pem", passphrase="hunter2"))
    err = await _fails(_target(tmp_path, closed_port, key_files=(key,)))
    assert isinstance(err, KeyFileError)
    assert str(err).startswith("the key for bob on lab cannot be loaded: ")
    assert "passphrase" in str(err)


async def test_missing_key_file_says_so_not_cannot_reach(tmp_path: Path, closed_port: int) -> None:
    key = tmp_path / "nope"
    err = await _fails(_target(tmp_path, closed_port, key_files=(key,)))
    assert isinstance(err, KeyFileError)
    assert str(err).startswith(f"the key file {key} for bob on lab does not exist")


async def test_refused_connection_is_said_in_words(tmp_path: Path, closed_port: int) -> None:
    err = await _fails(_target(tmp_path, closed_port))
    assert isinstance(err, UnreachableError)
    assert str(err) == f"the login node 127.0.0.1:{closed_port} refused the connection"
    assert "Connect call failed" not in str(err) and "Connect call failed" in err.detail
    again = await _fails(_target(tmp_path, closed_port))  # a fresh transport: same words
    assert str(again) == str(err)


async def test_retry_during_backoff_keeps_the_words(tmp_path: Path, closed_port: int) -> None:
    t = SSHTransport(_target(tmp_path, closed_port))
    for _ in range(2):
        with pytest.raises(UnreachableError) as caught:
            await t.run(["true"])
    assert "refused the connection (next try in" in str(caught.value)
    assert "Connect call failed" in caught.value.detail


async def test_silent_login_node_did_not_answer(tmp_path: Path, silent_port: int) -> None:
    err = await _fails(_target(tmp_path, silent_port, connect_timeout=0.5))
    assert isinstance(err, UnreachableError)
    assert str(err) == f"the login node 127.0.0.1:{silent_port} did not answer within 0.5 s"


def test_os_errors_in_words() -> None:
    said = {
        socket.gaierror(-2, "Name or service not known"): "cannot be reached: host name not found",
        OSError(
            errno.ENETUNREACH, "Network is unreachable"
        ): "cannot be reached: network unreachable",
        ConnectionRefusedError(errno.ECONNREFUSED, "x"): "refused the connection",
        TimeoutError(): "did not answer within 10 s",
    }
    for exc, words in said.items():
        assert describe_os_error(exc, 10.0) == words


async def test_refused_jump_host_is_named(tmp_path: Path, closed_port: int) -> None:
    err = await _fails(_target(tmp_path, 22, proxy_jump=f"127.0.0.1:{closed_port}"))
    assert str(err) == f"the jump host 127.0.0.1:{closed_port} refused the connection"


async def test_plain_host_never_reads_the_users_ssh_config(
    tmp_path: Path, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A ~/.ssh/config that would send the login elsewhere (and through a jump) if read.
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "config").write_text(
        "Host *\n  HostName 192.0.2.1\n  Port 1\n  ProxyJump 192.0.2.2:1\n"
    )
    monkeypatch.setenv("HOME", str(home))
    err = await _fails(_target(tmp_path, closed_port))
    assert str(err) == f"the login node 127.0.0.1:{closed_port} refused the connection"


def test_pool_names_the_cluster_and_reads_no_config_for_a_plain_host() -> None:
    plain = ClusterConfig(name="lab", host="127.0.0.1", port=2222)
    target = ssh_target(plain, "bob", None)
    assert target.cluster == "lab" and target.ssh_config == ()
    alias = ClusterConfig(name="hpc", ssh_config_host="hpc")
    assert ssh_target(alias, "bob", None).ssh_config == (Path("~/.ssh/config"),)


async def test_bot_check_shows_the_raw_detail_next_to_the_words(
    tmp_path: Path,
    closed_port: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import _check
    from bot.config import parse_config

    known = tmp_path / "known_hosts"
    known.touch()
    cluster = {"name": "lab", "host": "127.0.0.1", "port": closed_port, "known_hosts": str(known)}
    config = parse_config({"clusters": [cluster], "access": {"users": {"U1": {"account": "bob"}}}})
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    monkeypatch.setenv("SRUNX_BOT_STATE", str(tmp_path / "state"))
    config_file = tmp_path / "srunx-bot.yaml"
    config_file.touch(mode=0o600)
    assert await _check(config, str(config_file)) == 1
    fail = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("FAIL  lab")]
    assert fail and f"127.0.0.1:{closed_port} refused the connection (" in fail[0]
    assert "Connect call failed" in fail[0]


async def test_a_config_proxy_command_is_refused_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    config = tmp_path / "ssh_config"
    config.write_text(f"Host hpc\n  ProxyCommand touch {marker}\n")
    err = await _fails(_target(tmp_path, None, host="hpc", ssh_config=(config,)))
    assert "sets a ProxyCommand for hpc, which the bot does not run" in str(err)
    assert not marker.exists()


async def test_a_proxy_jump_loop_in_the_config_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host a\n  ProxyJump b\nHost b\n  ProxyJump a\n")
    err = await _fails(_target(tmp_path, None, host="a", ssh_config=(config,)))
    assert str(err) == "the ProxyJump chain for a loops; fix the config"
