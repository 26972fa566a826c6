"""`bot console` as a newcomer runs it: a subprocess with a config file, against the lab."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from labkit import ALICE, BOB, Lab

pytestmark = pytest.mark.lab


def _console(
    cfg: Path | None, *args: str, stdin: str | None = None, cwd: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """`bot console ARGS` in a subprocess; with `cfg=None`, no config in the environment."""
    base = {k: v for k, v in os.environ.items() if k not in ("SRUNX_BOT_CONFIG", "SRUNX_BOT_STATE")}
    if cfg is not None:
        base |= {"SRUNX_BOT_CONFIG": str(cfg), "SRUNX_BOT_STATE": str(cfg.parent / "state")}
    return subprocess.run(
        [sys.executable, "-m", "bot", "console", *args],
        input=stdin,
        cwd=cwd,
        capture_output=True,
        text=True,
        env=base | env,
        timeout=120,
        check=False,
    )


@pytest.fixture
def cfg(lab: Lab, tmp_path: Path) -> Path:
    path = tmp_path / "srunx-bot.yaml"
    path.write_text(yaml.safe_dump(lab.config_data()))
    return path


def test_one_shot_command(cfg: Path) -> None:
    res = _console(cfg, "-c", "resources -p gpu")
    assert res.returncode == 0, res.stderr
    assert "gpu: " in res.stdout and "node1" in res.stdout and "GPUs free" in res.stdout


def test_bad_input_is_one_line_and_exit_1(cfg: Path) -> None:
    res = _console(cfg, "-c", "submit --mem lots -- true")
    assert res.returncode == 1
    assert res.stdout.strip().startswith("error: invalid memory `lots`")
    assert "Traceback" not in res.stdout + res.stderr


def test_repl_acts_as_the_chosen_user(cfg: Path) -> None:
    res = _console(cfg, "--as", BOB, stdin="list\nhelp status\n")
    assert res.returncode == 0, res.stderr
    assert "cluster account bob" in res.stdout
    assert "usage: status ID" in res.stdout
    audit = (cfg.parent / "state" / "audit.jsonl").read_text().splitlines()
    assert len(audit) == 2 and '"account": "bob"' in audit[0] and '"command": "list"' in audit[0]


def test_bad_config_is_one_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("clusters:\n  - name: lab\n    port: many\n")
    res = _console(bad, "-c", "help")
    assert res.returncode == 2
    assert f"invalid config {bad}" in res.stderr and "clusters.0.port" in res.stderr
    assert "Traceback" not in res.stderr


def test_no_config_on_a_login_node_answers_from_its_slurm(lab: Lab, tmp_path: Path) -> None:
    # Slurm's own commands, found on the PATH, talk to the lab.
    res = _console(None, "-c", "resources", cwd=tmp_path, SLURM_CONF=str(lab.slurm_conf))
    assert res.returncode == 0, res.stderr
    assert res.stderr.startswith("no config file ./srunx-bot.yaml: using this login node's Slurm")
    assert "gpu: " in res.stdout and "node1" in res.stdout and "GPUs free" in res.stdout


def test_watch_job_follows_in_the_terminal_until_the_job_ends(cfg: Path) -> None:
    sub = _console(cfg, "--as", ALICE, "-c", "submit -J follow -p cpu -- sleep 6")
    assert sub.returncode == 0, sub.stdout + sub.stderr
    found = re.search(r"job (\d+)", sub.stdout)
    assert found is not None, sub.stdout
    job = found.group(1)
    res = _console(cfg, "--as", ALICE, "-c", f"watch job {job}")
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert f"job {job} on lab: RUNNING" in out, out
    assert out.index(f"job {job} on lab: RUNNING") < out.index(
        f"job {job} on lab: COMPLETED, exit code 0:0"
    ), out
    assert "Traceback" not in out + res.stderr
