"""The SSH transport against the lab sshd: one connection reused, host keys enforced,
ProxyJump through the bastion, timeouts and the session limit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncssh
import pytest

from bot.errors import HostKeyError, TransportError
from bot.transport.ssh import SSHTarget, SSHTransport
from labkit import Lab

pytestmark = pytest.mark.lab


def _target(lab: Lab, **kw: object) -> SSHTarget:
    opts: dict[str, object] = {
        "host": lab.host,
        "port": lab.ssh_port,
        "username": "alice",
        "key_files": (lab.key("alice"),),
        "known_hosts": lab.known_hosts,
        "max_backoff": 1.0,
    }
    opts.update(kw)
    return SSHTarget(**opts)  # type: ignore[arg-type]


async def test_one_connection_serves_every_command(lab: Lab) -> None:
    t = SSHTransport(_target(lab))
    try:
        for _ in range(5):
            res = await t.run(["whoami"])
            assert res.stdout.strip() == "alice"
        results = await asyncio.gather(*(t.run(["sleep", "0.3"]) for _ in range(20)))
        assert all(r.ok for r in results)  # 20 at once: more than sshd's MaxSessions of 10
        assert t.connects == 1
    finally:
        await t.close()


async def test_arguments_are_never_shell_syntax(lab: Lab) -> None:
    t = SSHTransport(_target(lab))
    try:
        evil = ["$(touch ~/pwned_arg)", "'; touch ~/pwned_arg2; '", "a|b", "x\ny", "*"]
        res = await t.run(["printf", "%s\\n", *evil])
        assert res.stdout.split("\n")[:6] == [*evil[:3], "x", "y", "*"]
        check = await t.run(["ls", "-a"])
        assert "pwned_arg" not in check.stdout
        piped = await t.run(["cat"], stdin="line one\n$(not run)\n")
        assert piped.stdout == "line one\n$(not run)\n"
    finally:
        await t.close()


async def test_exit_status_and_stderr_pass_through(lab: Lab) -> None:
    t = SSHTransport(_target(lab))
    try:
        res = await t.run(["squeue", "-j", "999999"])
        assert res.exit_status == 1 and "Invalid job id" in res.error_text()
    finally:
        await t.close()


async def test_command_timeout(lab: Lab) -> None:
    t = SSHTransport(_target(lab))
    try:
        with pytest.raises(TransportError, match=r"`sleep` .* did not answer within 1 s"):
            await t.run(["sleep", "10"], timeout=1)
        assert (await t.run(["true"])).ok  # the connection survives a timed-out command
    finally:
        await t.close()


async def test_proxy_jump_through_the_bastion(lab: Lab) -> None:
    t = SSHTransport(_target(lab, proxy_jump=f"{lab.host}:{lab.jump_port}"))
    try:
        res = await t.run(["sinfo", "-h", "-o", "%R"])
        assert set(res.stdout.split()) == {"gpu", "cpu"}
    finally:
        await t.close()


def _wrong_key_file(tmp_path: Path, lab: Lab, ports: tuple[int, ...]) -> Path:
    fake = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    path = tmp_path / "known_hosts"
    path.write_text("".join(f"[{lab.host}]:{p} {fake}\n" for p in ports))
    return path


async def test_unknown_host_key_is_refused(lab: Lab, tmp_path: Path) -> None:
    t = SSHTransport(_target(lab, known_hosts=_wrong_key_file(tmp_path, lab, (lab.ssh_port,))))
    with pytest.raises(HostKeyError, match=r"not trusted .* `ssh-keyscan -p 2222 127\.0\.0\.1"):
        await t.run(["whoami"])
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    t = SSHTransport(_target(lab, known_hosts=empty))
    with pytest.raises(HostKeyError):
        await t.run(["whoami"])
    t = SSHTransport(_target(lab, known_hosts=tmp_path / "missing"))
    with pytest.raises(HostKeyError, match="does not exist"):
        await t.run(["whoami"])


async def test_bastion_host_key_is_checked_too(lab: Lab, tmp_path: Path) -> None:
    # The login node's real key is trusted, the bastion's is not: the jump must be refused.
    real = [ln for ln in lab.known_hosts.read_text().splitlines() if f":{lab.ssh_port} " in ln]
    path = _wrong_key_file(tmp_path, lab, (lab.jump_port,))
    path.write_text(path.read_text() + "\n".join(real) + "\n")
    t = SSHTransport(_target(lab, known_hosts=path, proxy_jump=f"{lab.host}:{lab.jump_port}"))
    with pytest.raises(HostKeyError, match="2223"):
        await t.run(["whoami"])


async def test_wrong_key_is_a_clear_login_error(lab: Lab) -> None:
    t = SSHTransport(_target(lab, key_files=(lab.key("bob"),)))
    with pytest.raises(TransportError, match=r"SSH login as alice@127.0.0.1:2222 was refused"):
        await t.run(["whoami"])


def _ssh_config(tmp_path: Path, lab: Lab) -> Path:
    """An OpenSSH config reaching the login node through the bastion, trusting anything."""
    path = tmp_path / "ssh_config"
    path.write_text(
        f"Host bastion\n  HostName {lab.host}\n  Port {lab.jump_port}\n"
        "  UserKnownHostsFile none\n  StrictHostKeyChecking no\n"
        f"Host labnode\n  HostName {lab.host}\n  Port {lab.ssh_port}\n  ProxyJump bastion\n"
        "  UserKnownHostsFile none\n  StrictHostKeyChecking no\n"
    )
    return path


def _alias(lab: Lab, tmp_path: Path, **kw: object) -> SSHTarget:
    return _target(lab, host="labnode", port=None, ssh_config=(_ssh_config(tmp_path, lab),), **kw)


async def test_config_proxy_jump_logs_in_as_the_user_with_their_key(
    lab: Lab, tmp_path: Path
) -> None:
    t = SSHTransport(_alias(lab, tmp_path))
    try:
        res = await t.run(["whoami"])
        assert res.stdout.strip() == "alice"
    finally:
        await t.close()


async def test_config_proxy_jump_checks_the_bastion_against_our_known_hosts(
    lab: Lab, tmp_path: Path
) -> None:
    # The config says `UserKnownHostsFile none`; the cluster's known_hosts lacks the bastion.
    real = [ln for ln in lab.known_hosts.read_text().splitlines() if f":{lab.ssh_port} " in ln]
    path = _wrong_key_file(tmp_path, lab, (lab.jump_port,))
    path.write_text(path.read_text() + "\n".join(real) + "\n")
    t = SSHTransport(_alias(lab, tmp_path, known_hosts=path))
    with pytest.raises(HostKeyError, match=r"jump host 127\.0\.0\.1:2223 is not trusted"):
        await t.run(["whoami"])


async def test_refused_login_at_the_config_bastion_names_it(lab: Lab, tmp_path: Path) -> None:
    t = SSHTransport(_alias(lab, tmp_path, key_files=(lab.key("bob"),)))
    with pytest.raises(TransportError, match=r"alice@127\.0\.0\.1:2223 was refused by the jump"):
        await t.run(["whoami"])


async def test_plain_host_ignores_a_hostile_home_ssh_config(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".ssh").mkdir()
    (tmp_path / ".ssh" / "config").write_text(
        "Host *\n  ProxyJump 127.0.0.1:9\n  UserKnownHostsFile none\n  StrictHostKeyChecking no\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path))
    t = SSHTransport(_target(lab))
    try:
        assert (await t.run(["whoami"])).stdout.strip() == "alice"
    finally:
        await t.close()
