"""Benchmark: `bot console` start-up, as whole processes.

Prints the median wall time of N runs (after one warm-up run) of
  help    `bot console -c help` with no config, as in a fresh clone
  status  `bot console -c "status ID"` on the test lab, for a job submitted first
each started as `uv run --frozen python -m bot` and as the venv's `python -m bot`, then, per
command, the modules it loads that it should not need and its ten heaviest imports
(cumulative, `python -X importtime`). Without the lab only help is measured.
Goals on the reference machine (2 cores), through uv: help <= 0.6 s, status <= 1.0 s.
Usage: uv run --frozen python bench/startup.py [--runs 5] [--job ID]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bot.config import parse_config
from bot.runtime import check_clusters
from labkit import ALICE, Lab

ROOT = Path(__file__).resolve().parents[1]
GOALS = {"help": 0.6, "status": 1.0}
# Loaded by the console only if something imports them eagerly (jinja2: only for a script).
NOT_NEEDED = ("slack_bolt", "slack_sdk", "aiohttp", "apscheduler", "jinja2", "tinydb")


def _run(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    took = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr}")
    return took


def _median(argv: list[str], env: dict[str, str], cwd: Path, runs: int) -> float:
    _run(argv, env, cwd)  # warm-up: page cache, .pyc files
    return statistics.median(_run(argv, env, cwd) for _ in range(runs))


def _imports(command: str, env: dict[str, str], cwd: Path) -> list[tuple[int, str, bool]]:
    """(cumulative µs, module, top level) per import of one console run."""
    argv = [sys.executable, "-X", "importtime", "-m", "bot", "console", "-c", command]
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        rows.append((int(cumulative), name.strip(), not name[1:].startswith(" ")))
    return rows


def _report(label: str, command: str, env: dict[str, str], cwd: Path, runs: int) -> None:
    uv = ["uv", "run", "--frozen", "--project", str(ROOT), "python", "-m", "bot"]
    py = [sys.executable, "-m", "bot"]
    via_uv = _median([*uv, "console", "-c", command], env, cwd, runs)
    bare = _median([*py, "console", "-c", command], env, cwd, runs)
    verdict = "ok" if via_uv <= GOALS[label] else "MISSED"
    print(f"{label}: `bot console -c {command!r}`, median of {runs}")
    print(f"  uv run python -m bot  {via_uv:6.2f} s   (goal <= {GOALS[label]} s: {verdict})")
    print(f"  python -m bot         {bare:6.2f} s")
    rows = _imports(command, env, cwd)
    names = {name.split(".")[0] for _, name, _ in rows}
    total = sum(us for us, _, top in rows if top)
    print(f"  imports {total / 1000:.0f} ms; loaded but not needed: ", end="")
    print(", ".join(m for m in NOT_NEEDED if m in names) or "none")
    for us, name, _ in sorted(rows, reverse=True)[:10]:
        print(f"    {us / 1000:7.1f} ms  {name}")


async def _as_alice(lab: Lab, argv: list[str]) -> str:
    """Run one Slurm command on the lab as alice, over the bot's own client."""
    clusters = check_clusters(lab.config())
    try:
        _, client = clusters.client(ALICE, "lab")
        return (await client.transport.run(argv)).stdout.strip()
    finally:
        await clusters.close()


def main(runs: int, job: str | None) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        cwd = Path(tmp)  # no ./srunx-bot.yaml here
        env = {k: v for k, v in os.environ.items() if not k.startswith("SRUNX_BOT_")}
        env["SRUNX_BOT_STATE"] = str(cwd / "state")  # the console's audit log
        _report("help", "help", env, cwd, runs)
        lab = Lab.running()
        if lab is None:
            return 0
        config = cwd / "lab.yaml"
        config.write_text(yaml.safe_dump(lab.config_data()))
        config.chmod(0o600)
        parse_config(lab.config_data())  # fail here, not in every run
        submitted = None
        if job is None:
            sbatch = ["sbatch", "--parsable", "-p", "cpu", "--wrap", "sleep 300"]
            job = submitted = asyncio.run(_as_alice(lab, sbatch))
        try:
            _report("status", f"status {job}", {**env, "SRUNX_BOT_CONFIG": str(config)}, cwd, runs)
        finally:
            if submitted is not None:
                asyncio.run(_as_alice(lab, ["scancel", submitted]))
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--job", help="a job id the lab knows (default: submit one, cancel it after)")
    args = ap.parse_args()
    sys.exit(main(max(args.runs, 1), args.job))
