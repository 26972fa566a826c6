"""`bot serve` exactly as users start it (a subprocess), against the Slack stand-in and the lab."""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
import sys
import urllib.parse
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
import yaml

from labkit import ALICE, Lab
from slack_standin import Call, SlackStandIn, sign, slash_command_body
from slackkit import SECRET

pytestmark = pytest.mark.lab


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _start(
    tmp_path: Path, lab: Lab, env: dict[str, str], *args: str
) -> asyncio.subprocess.Process:
    cfg = tmp_path / "srunx-bot.yaml"
    cfg.write_text(yaml.safe_dump({**lab.config_data(), "notify": {"poll_interval": 1}}))
    full = {**os.environ, "SRUNX_BOT_CONFIG": str(cfg), "SRUNX_BOT_STATE": str(tmp_path), **env}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "serve",
        *args,
        env=full,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


@pytest.fixture
async def procs() -> AsyncIterator[list[asyncio.subprocess.Process]]:
    started: list[asyncio.subprocess.Process] = []
    yield started
    for p in started:
        if p.returncode is None:
            p.terminate()
            await p.wait()


def _http_env(standin: SlackStandIn) -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": standin.bot_token,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": standin.api_url,
    }


async def test_http_mode(
    tmp_path: Path, lab: Lab, standin: SlackStandIn, procs: list[asyncio.subprocess.Process]
) -> None:
    port = _port()
    env = _http_env(standin)
    procs.append(
        await _start(tmp_path, lab, env, "--http", "--port", str(port), "--host", "127.0.0.1")
    )
    await _signed_command(port, standin, "resources", "h")
    [answer] = await standin.wait_for("response_url", timeout=30)
    assert "GPUs on *lab*" in str(answer.params.get("blocks"))
    assert (tmp_path / "audit.jsonl").read_text().count('"command": "resources"') == 1


async def test_socket_mode(
    tmp_path: Path, lab: Lab, standin: SlackStandIn, procs: list[asyncio.subprocess.Process]
) -> None:
    env = {
        "SLACK_BOT_TOKEN": standin.bot_token,
        "SLACK_APP_TOKEN": standin.app_token,
        "SLACK_API_URL": standin.api_url,
    }
    procs.append(await _start(tmp_path, lab, env))
    await standin.wait_connected(timeout=30)
    payload = slash_command_body(
        "help status", user_id=ALICE, response_url=standin.response_url("s")
    )
    envelope = await standin.send_envelope("slash_commands", dict(payload))
    await standin.wait_ack(envelope, timeout=10)
    [answer] = await standin.wait_for("response_url", timeout=30)
    assert "usage: status ID" in str(answer.params)


async def test_bad_token_is_one_clear_startup_error(
    tmp_path: Path, lab: Lab, standin: SlackStandIn
) -> None:
    env = {
        "SLACK_BOT_TOKEN": "xoxb-wrong",
        "SLACK_APP_TOKEN": standin.app_token,
        "SLACK_API_URL": standin.api_url,
    }
    proc = await _start(tmp_path, lab, env)
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 2
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in out.decode()
    assert "Traceback" not in out.decode() and "xoxb-wrong" not in out.decode()


async def _signed_command(port: int, standin: SlackStandIn, text: str, name: str) -> None:
    body = urllib.parse.urlencode(
        slash_command_body(
            text, user_id=ALICE, response_url=standin.response_url(name), trigger_id=f"trig-{name}"
        )
    )
    hdrs = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
    async with aiohttp.ClientSession() as session:
        for _ in range(100):  # until it listens
            try:
                async with session.post(
                    f"http://127.0.0.1:{port}/slack/events", data=body, headers=hdrs
                ) as resp:
                    assert resp.status == 200
                    return
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.2)
    raise AssertionError("bot serve --http never listened")


def _thread_texts(standin: SlackStandIn, card_ts: str) -> list[str]:
    return [
        str(c.params.get("text"))
        for c in standin.calls_to("chat.postMessage")
        if c.params.get("thread_ts") == card_ts
    ]


async def test_killed_bot_resumes_and_posts_each_change_once(
    tmp_path: Path, lab: Lab, standin: SlackStandIn, procs: list[asyncio.subprocess.Process]
) -> None:
    port = _port()
    env = _http_env(standin)
    args = ("--http", "--port", str(port), "--host", "127.0.0.1")
    procs.append(await _start(tmp_path, lab, env, *args))
    await _signed_command(port, standin, "submit -J killtest -p cpu -- sleep 12", "k1")
    [card] = await standin.wait_for("chat.postMessage", timeout=30)
    running = await standin.wait_for(
        "chat.postMessage", timeout=40, where=lambda c: "RUNNING" in str(c.params.get("text"))
    )
    card_ts = str(running[0].params["thread_ts"])
    procs[0].kill()  # kill -9: no cleanup, no goodbye
    await procs[0].wait()
    procs.append(await _start(tmp_path, lab, env, *args))
    await standin.wait_for(
        "chat.postMessage", timeout=60, where=lambda c: "COMPLETED" in str(c.params.get("text"))
    )
    await asyncio.sleep(3)  # a few more ticks: nothing more may arrive
    texts = _thread_texts(standin, card_ts)
    assert sum("RUNNING" in t for t in texts) == 1, texts
    assert sum("COMPLETED" in t for t in texts) == 1, texts
    assert card.params["channel"] == "C1"


CHAIN = """name: chain
jobs:
  - name: first
    command: "sleep 6"
    partition: cpu
  - name: second
    command: "echo second"
    depends_on: [first]
    partition: cpu
  - name: third
    command: "echo third"
    depends_on: [second]
    partition: cpu
"""


@pytest.fixture
def chain_yaml(lab: Lab) -> Iterator[str]:
    """CHAIN in a YAML alice owns in her home; its name relative to her home."""
    home = lab.home("alice")
    path = home / f"chain-{secrets.token_hex(4)}.yaml"
    path.write_text(CHAIN)
    os.chown(path, home.stat().st_uid, home.stat().st_gid)
    yield path.name
    path.unlink(missing_ok=True)


async def test_killed_bot_resumes_a_workflow_run_and_posts_each_transition_once(
    tmp_path: Path,
    lab: Lab,
    standin: SlackStandIn,
    procs: list[asyncio.subprocess.Process],
    chain_yaml: str,
) -> None:
    port = _port()
    env = _http_env(standin)
    args = ("--http", "--port", str(port), "--host", "127.0.0.1")
    procs.append(await _start(tmp_path, lab, env, *args))
    await _signed_command(port, standin, f"flow run ~/{chain_yaml}", "f1")
    [answer] = await standin.wait_for("response_url", timeout=60)
    assert "started run" in str(answer.params.get("text")), answer.params
    [ts] = [
        ts
        for ts, m in standin.messages.items()
        if str(m.get("metadata", {}).get("event_payload", {}).get("job", "")).startswith("flow:")
    ]

    def in_run(c: Call, *words: str) -> bool:
        text = str(c.params.get("text"))
        return c.params.get("thread_ts") == ts and all(w in text for w in words)

    await standin.wait_for(
        "chat.postMessage", timeout=40, where=lambda c: in_run(c, "`first` (job", "RUNNING")
    )
    procs[0].kill()  # kill -9 mid-run: `first` still sleeping, the rest waiting in Slurm
    await procs[0].wait()
    procs.append(await _start(tmp_path, lab, env, *args))
    await standin.wait_for(
        "chat.postMessage", timeout=90, where=lambda c: in_run(c, "run `chain` completed")
    )
    await asyncio.sleep(3)  # a few more ticks: nothing more may arrive
    texts = _thread_texts(standin, ts)
    assert len(texts) == len(set(texts)), texts  # no transition posted twice
    assert sum(t.startswith("`first` (job") and "RUNNING" in t for t in texts) == 1, texts
    for name in ("first", "second", "third"):
        assert sum(t.startswith(f"`{name}` (job") and "COMPLETED" in t for t in texts) == 1, texts
    assert sum("run `chain` completed" in t for t in texts) == 1, texts
    assert "all 3 jobs COMPLETED" in texts[-1], texts
    parent = str(standin.messages[ts]["blocks"])  # as the last update left it
    assert "*completed*" in parent and "3 jobs: 3 COMPLETED" in parent, parent
    assert not standin.violations
