"""Benchmark: `status ID` through the core's persistent SSH connection vs plain ssh.

Runs against the test lab only (127.0.0.1), 100 calls per variant, and prints medians:
  core       SlurmClient.job(ID) over the bot's one persistent asyncssh connection
  fresh ssh  `ssh ... squeue ...` as a new process and a new login per call
  mux ssh    `ssh ... squeue ...` over an already open OpenSSH ControlMaster socket
Usage: uv run python bench/ssh_reuse.py [--calls 100]   (start the lab first: tests/lab)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bot.core.models import Job, JobResource, JobState
from bot.core.slurm.formats import SQUEUE_FORMAT
from bot.runtime import Runtime
from labkit import ALICE, Lab, wait_state


async def _timed(calls: int, fn: Callable[[], Awaitable[object]]) -> list[float]:
    await fn()  # warm-up, not counted
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


async def _proc(*argv: str, output: bool = True) -> None:
    # Without output wanted (the backgrounded master), no pipes it could hold open.
    pipe = asyncio.subprocess.PIPE if output else asyncio.subprocess.DEVNULL
    p = await asyncio.create_subprocess_exec(*argv, stdout=pipe, stderr=pipe)
    out, err = await p.communicate()
    if p.returncode != 0 or (output and not out):
        raise RuntimeError(f"{argv[0]} failed: {(err or b'').decode()}")


def _row(name: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=10)
    return (
        f"{name:<10} median {statistics.median(ms):7.1f} ms   p10 {q[0]:7.1f}   "
        f"p90 {q[-1]:7.1f}   n={len(ms)}"
    )


async def main(calls: int) -> int:
    lab = Lab.running()
    if lab is None:
        return 2
    rt = await Runtime.open(lab.config())
    _, client = rt.clusters.client(ALICE, "lab")
    job_id = await client.submit(
        rt.jobs.renderer.render(
            Job(name="bench", command="sleep 600", resources=JobResource(partition="cpu"))
        )
    )
    ssh_cfg = str(lab.dir / "ssh" / "ssh_config")
    base = ["ssh", "-F", ssh_cfg, "-p", str(lab.ssh_port)]
    remote = [
        f"alice@{lab.host}",
        "squeue",
        "-h",
        "--states=all",
        "-j",
        job_id,
        "-O",
        f"'{SQUEUE_FORMAT}'",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        sock = str(Path(tmp) / "mux")
        mux = [*base, "-o", f"ControlPath={sock}"]
        try:
            await wait_state(client, job_id, {JobState.RUNNING})
            core = await _timed(calls, lambda: client.job(job_id))
            fresh = await _timed(calls, lambda: _proc(*base, *remote))
            await _proc(
                *mux,
                "-o",
                "ControlMaster=yes",
                "-o",
                "ControlPersist=120",
                "-f",
                "-N",
                f"alice@{lab.host}",
                output=False,
            )
            muxed = await _timed(calls, lambda: _proc(*mux, *remote))
        finally:
            await client.cancel(job_id)
            await rt.close()
            if Path(sock).exists():
                await _proc(*mux, "-O", "exit", f"alice@{lab.host}", output=False)
    m_core, m_fresh, m_mux = (statistics.median(x) for x in (core, fresh, muxed))
    print(f"status of a RUNNING job on the lab, {calls} calls each:")
    for name, ms in (("core", core), ("fresh ssh", fresh), ("mux ssh", muxed)):
        print(_row(name, ms))
    print(f"core vs mux ssh:   {m_core / m_mux:.2f}x the time   (goal <= 1.2x)")
    print(f"core vs fresh ssh: {m_fresh / m_core:.1f}x faster   (goal >= 5x)")
    print(f"logins made by the core: {getattr(client.transport, 'connects', '?')}")
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100)
    sys.exit(asyncio.run(main(min(max(ap.parse_args().calls, 10), 1000))))
