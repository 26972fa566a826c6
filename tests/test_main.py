"""`python -m bot` is the `bot` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_python_m_bot_runs_the_cli(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SRUNX_BOT_CONFIG"}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "console", "-c", "help"],
        cwd=tmp_path,  # no ./srunx-bot.yaml: `help` needs none
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "submit" in done.stdout and "status" in done.stdout
