"""`bot` run in-process as a newcomer would: a fresh clone (no config), a login node, `check`."""

from __future__ import annotations

import asyncio
import os
import pwd
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from storekit import NOWHERE, pg_place, taken

from bot.cli import main

DATA = Path(__file__).resolve().parent / "data"
ME = pwd.getpwuid(os.geteuid()).pw_name  # the invoking Unix account
NOT_FOUND = (
    "error: config file ./srunx-bot.yaml not found; copy srunx-bot.example.yaml there "
    "or set SRUNX_BOT_CONFIG"
)


@pytest.fixture
def fresh_clone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no config, and a PATH with no Slurm on it."""
    work = tmp_path / "clone"
    work.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.delenv("SRUNX_BOT_CONFIG", raising=False)
    monkeypatch.delenv("SRUNX_BOT_STATE", raising=False)
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    return work


@pytest.fixture
def login_node(fresh_clone: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fake Slurm commands on the PATH that answer with output captured from the lab."""
    bin_dir = Path(os.environ["PATH"])
    scripts = {
        "sinfo": f"exec cat {DATA / 'sinfo_nodes_busy.txt'}",
        "squeue": f"exec cat {DATA / 'squeue_queue.txt'}",
        "sbatch": "exit 1",
    }
    for name, body in scripts.items():
        path = bin_dir / name
        path.write_text(f"#!/bin/sh\n{body}\n")
        path.chmod(0o755)
    # /bin/sh and cat must still be found by the scripts and by the bot.
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    return fresh_clone


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


@pytest.mark.parametrize(
    ("command", "expected"),
    [("help", "commands:"), ("help status", "usage: status ID")],
)
def test_console_help_needs_no_config(
    fresh_clone: Path, capsys: pytest.CaptureFixture[str], command: str, expected: str
) -> None:
    assert main(["console", "-c", command]) == 0
    out, err = capsys.readouterr()
    assert expected in out and err == ""
    assert not (fresh_clone / "state").exists()  # nothing written for help


def test_console_help_for_an_unknown_command_without_config_names_the_commands(
    fresh_clone: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["console", "-c", "help nosuch"]) == 1
    out, _ = capsys.readouterr()
    assert out.startswith("error: no help for `nosuch`; commands: submit,")


def test_console_without_config_or_slurm_says_what_to_do(
    fresh_clone: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["console", "-c", "resources"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.startswith("error: no config file ./srunx-bot.yaml")
    assert "copy srunx-bot.example.yaml to ./srunx-bot.yaml" in err
    assert "SRUNX_BOT_CONFIG" in err and "login node" in err


def test_console_on_a_login_node_uses_its_slurm_as_the_invoking_account(
    login_node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["console", "-c", "resources"]) == 0
    out, err = capsys.readouterr()
    assert err == (
        f"no config file ./srunx-bot.yaml: using this login node's Slurm as {ME} "
        "(local cluster `local`)\n"
    )
    assert "node1" in out and "GPUs free" in out
    audit = (login_node / "state" / "audit.jsonl").read_text()
    assert f'"account": "{ME}"' in audit


def test_console_on_a_login_node_makes_the_user_admin_of_their_own_console(
    login_node: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["console", "-c", "config show"]) == 0
    out, _ = capsys.readouterr()
    assert "name: local" in out and f"account: {ME}" in out


@pytest.mark.parametrize("how", ["flag", "env"])
def test_an_explicit_config_that_is_missing_is_an_error_even_on_a_login_node(
    login_node: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    argv = ["console", "-c", "resources"]
    if how == "flag":
        argv = ["--config", "nope.yaml", *argv]
    else:
        monkeypatch.setenv("SRUNX_BOT_CONFIG", "nope.yaml")
    assert main(argv) == 2
    _, err = capsys.readouterr()
    assert err.startswith("error: config file nope.yaml not found")


@pytest.mark.parametrize("cmd", ["serve", "check"])
def test_serve_and_check_without_a_config_keep_refusing(
    login_node: Path, capsys: pytest.CaptureFixture[str], cmd: str
) -> None:
    assert main([cmd]) == 2
    _, err = capsys.readouterr()
    assert err == NOT_FOUND + "\n"


def _local_config(path: Path, **extra: Any) -> None:
    path.write_text(yaml.safe_dump({"clusters": [{"name": "local"}], **extra}))


def test_check_warns_about_config_and_state_readable_by_others(
    fresh_clone: Path, capsys: pytest.CaptureFixture[str], umask_022: None
) -> None:
    _local_config(fresh_clone / "srunx-bot.yaml")  # 0644 under umask 022
    state = fresh_clone / "state"
    state.mkdir()  # 0755, as older versions made it
    (state / "audit.jsonl").write_text("{}\n")
    assert main(["check"]) == 0
    out, _ = capsys.readouterr()
    assert "warning: ./srunx-bot.yaml is readable by other users; chmod 600 ./srunx-bot.yaml" in out
    assert "warning: state is readable by other users; chmod 700 state" in out
    assert (
        "warning: state/audit.jsonl is readable by other users; chmod 600 state/audit.jsonl" in out
    )


def test_check_is_quiet_about_private_config_and_state(
    fresh_clone: Path, capsys: pytest.CaptureFixture[str], umask_022: None
) -> None:
    config = fresh_clone / "srunx-bot.yaml"
    _local_config(config)
    config.chmod(0o600)
    state = fresh_clone / "state"
    state.mkdir(mode=0o700)
    (state / "state.json").write_text("{}")
    (state / "state.json").chmod(stat.S_IRUSR | stat.S_IWUSR)
    assert main(["check"]) == 0
    out, _ = capsys.readouterr()
    assert "readable by other users" not in out


def _private_config(path: Path, **extra: Any) -> None:
    _local_config(path, **extra)
    path.chmod(0o600)


def test_check_says_where_the_state_is(
    fresh_clone: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _private_config(fresh_clone / "srunx-bot.yaml")
    assert main(["check"]) == 0
    out, _ = capsys.readouterr()
    assert f"ok    store: TinyDB files in {fresh_clone / 'state'} (one process)\n" in out


def test_check_fails_on_a_store_it_cannot_reach_and_the_environment_wins(
    fresh_clone: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    configured = "postgresql://cfg:Other-Pw@127.0.0.1:2/cfgdb"
    _private_config(fresh_clone / "srunx-bot.yaml", store=configured)
    monkeypatch.setenv("SRUNX_BOT_STORE", NOWHERE)
    assert main(["check"]) == 1
    out, err = capsys.readouterr()
    assert "FAIL  store: PostgreSQL srunx@127.0.0.1:1/srunx: Connection refused\n" in out
    assert "lease" not in out and "cfgdb" not in out
    assert "Sekrit" not in out + err


def test_config_show_masks_the_stores_password(
    fresh_clone: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    access = {"users": {ME: {"account": ME}}, "admins": [ME]}
    _private_config(fresh_clone / "srunx-bot.yaml", access=access, store=NOWHERE)
    assert main(["console", "-c", "config show"]) == 0
    out, _ = capsys.readouterr()
    assert "store: postgresql://srunx:***@127.0.0.1:1/srunx" in out and "Sekrit" not in out


_CHECK = "import sys; from bot.cli import main; sys.exit(main(['check']))"


@pytest.mark.lab
async def test_check_names_the_schema_and_which_clusters_this_replica_would_poll(
    fresh_clone: Path, tmp_path: Path
) -> None:
    clusters = [{"name": "local"}, {"name": "other"}]
    (fresh_clone / "srunx-bot.yaml").write_text(yaml.safe_dump({"clusters": clusters}))
    async with pg_place(tmp_path) as pg:
        running = pg.backend()  # a replica already serving, polling `other`
        assert await running.leases.hold("poll:other")
        env = {**os.environ, "SRUNX_BOT_STORE": pg.url}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _CHECK, env=env, stdout=subprocess.PIPE
        )
        out = (await proc.communicate())[0].decode()
        assert proc.returncode == 0, out
        assert await taken(pg.backend().leases, "poll:local")  # freed when `check` exited
    assert "ok    store: PostgreSQL srunx@127.0.0.1:" in out and "/srunx, no schema yet" in out
    assert "ok    lease poll:local: free, this replica would poll local\n" in out
    assert "ok    lease poll:other: held by another replica, which polls other\n" in out
    assert "srunxlab" not in out


_LOGS = """
import logging
from slack_bolt.async_app import AsyncApp
from slack_bolt.logger import get_bolt_logger
from bot.cli import _setup_logging

_setup_logging("INFO")
# Bolt sets its own logger to the root level when an app is built (DEBUG here).
bolt = get_bolt_logger(AsyncApp)
bolt.debug("on_message invoked: (message: {'payload': '--env TOKEN=sekrit1'})")
logging.getLogger("slack_sdk.socket_mode.aiohttp").debug("Sending a message: TOKEN=sekrit2")
logging.getLogger("slack_sdk.web.async_client").info("Going to retry the same request")
logging.getLogger("bot.core.monitor").debug("the bot's own debug line")
"""


def test_debug_logging_never_logs_slack_payloads() -> None:
    env = {**os.environ, "SRUNX_BOT_LOG_LEVEL": "debug"}
    res = subprocess.run(
        [sys.executable, "-c", _LOGS], env=env, capture_output=True, text=True, check=True
    )
    assert "sekrit" not in res.stderr
    assert "Going to retry the same request" in res.stderr  # INFO from the libraries stays
    assert "the bot's own debug line" in res.stderr


# Run in a fresh interpreter: which modules one console command leaves in sys.modules.
_LOADED = """
import sys
from bot.cli import main

code = main(["console", "-c", sys.argv[1]])
print(" ".join(m for m in sys.argv[2:] if m in sys.modules))
sys.exit(code)
"""
_NOT_FOR_THE_CONSOLE = ("slack_bolt", "slack_sdk", "aiohttp", "apscheduler")


def _loaded(command: str, modules: tuple[str, ...]) -> list[str]:
    res = subprocess.run(
        [sys.executable, "-c", _LOADED, command, *modules],
        capture_output=True,
        text=True,
        check=True,
    )
    return res.stdout.splitlines()[-1].split()


def test_console_help_imports_no_slack_http_client_scheduler_or_templates(
    fresh_clone: Path,
) -> None:
    modules = (*_NOT_FOR_THE_CONSOLE, "jinja2", "asyncio", "bot.runtime")
    assert _loaded("help", modules) == []


def test_console_command_on_a_cluster_imports_no_slack_http_client_or_scheduler(
    login_node: Path,
) -> None:
    # jinja2 too: only `submit` renders a script
    assert _loaded("resources", (*_NOT_FOR_THE_CONSOLE, "jinja2")) == []


def test_console_help_with_an_ssh_config_loads_no_ssh_or_store_library(
    fresh_clone: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A real deployment has a config with SSH clusters: `help` must not pay for asyncssh.
    example = Path(__file__).resolve().parents[1] / "srunx-bot.example.yaml"
    monkeypatch.setenv("SRUNX_BOT_CONFIG", str(example))
    modules = (*_NOT_FOR_THE_CONSOLE, "asyncssh", "tinydb", "jinja2")
    assert _loaded("help", modules) == []
