"""Benchmark: how fast the bot acks signed `/srunx status ID` requests in HTTP mode.

The real Bolt app and core run against the test lab (127.0.0.1) and the local Slack stand-in;
requests are sent one after another and timed to their HTTP 200. Two rounds: lab healthy, and
lab with slurmctld stopped (every status then waits ~9 s for Slurm's own retries). Acks must not
wait for Slurm either way. Needs root for the fault toggle.
Usage: uv run python bench/ack_latency.py [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from bot.core.models import Job, JobResource, JobState
from bot.slack.app import EVENTS_PATH, start_http
from labkit import ALICE, Lab, wait_state
from slack_standin import SlackStandIn
from slackkit import HttpBot, slack_bot


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _round(bot: HttpBot, label: str, job_id: str, n: int) -> list[float]:
    bot.standin.clear()
    acks = []
    for i in range(n):
        status, _, seconds = await bot.command(f"status {job_id}", ALICE, name=f"{label}{i}")
        if status != 200:
            raise RuntimeError(f"request {i} got HTTP {status}")
        acks.append(seconds * 1000)
    # The answers still arrive, later: count how many within a bounded wait.
    t0 = time.monotonic()
    while len(bot.standin.calls_to("response_url")) < n and time.monotonic() - t0 < 60:
        await asyncio.sleep(0.5)
    answered = len(bot.standin.calls_to("response_url"))
    q = statistics.quantiles(acks, n=100)
    print(
        f"{label:<22} ack p50 {statistics.median(acks):6.1f} ms   p99 {q[98]:6.1f} ms   "
        f"max {max(acks):6.1f} ms   n={n}   answers delivered {answered}/{n} "
        f"within {time.monotonic() - t0:.0f} s after the last ack"
    )
    return acks


async def main(n: int) -> int:
    lab = Lab.running()
    if lab is None:
        return 2
    async with SlackStandIn() as standin:
        rt, app = await slack_bot(lab, standin, Path(tempfile.mkdtemp()), http=True)
        port = _free_port()
        runner = await start_http(app, "127.0.0.1", port)
        session = aiohttp.ClientSession()
        bot = HttpBot(standin, rt, app, f"http://127.0.0.1:{port}{EVENTS_PATH}", session)
        _, client = rt.clusters.client(ALICE, "lab")
        job = Job(name="bench", command="sleep 900", resources=JobResource(partition="cpu"))
        job_id = await client.submit(rt.jobs.renderer.render(job))
        try:
            await wait_state(client, job_id, {JobState.RUNNING})
            print(f"{n} signed /srunx status requests, HTTP mode, one at a time:")
            await _round(bot, "lab healthy", job_id, n)
            await lab.fault("ctld-down")
            try:
                await _round(bot, "slurmctld stopped", job_id, n)
            finally:
                await lab.fault("ctld-up")
        finally:
            await rt.dispatch.handle(ALICE, f"cancel {job_id}")
            await session.close()
            await runner.cleanup()
            await rt.close()
    return 0


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=200)
    sys.exit(asyncio.run(main(min(max(ap.parse_args().requests, 20), 1000))))
