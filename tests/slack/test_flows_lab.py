"""Workflow runs end to end through the real Bolt app and the Slack stand-in, on the lab: the
run's parent message in the channel, updated in place; one post per transition in its
thread, counted at the stand-in; its Refresh and Cancel run buttons; `flow validate` of a
YAML in the caller's home."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.core.flowruns import FlowRun
from bot.core.models import JobState
from bot.render.buttons import FLOW_CANCEL, FLOW_REFRESH
from labkit import ALICE, BOB, Lab, wait_state
from slack_standin import Call, SlackStandIn
from slackkit import HttpBot, text_of

pytestmark = pytest.mark.lab
DATA = Path(__file__).resolve().parents[1] / "data" / "flows"

LONG = """name: long
jobs:
  - name: first
    command: "sleep 60"
    partition: cpu
  - name: second
    command: "sleep 60"
    depends_on: [first]
    partition: cpu
"""
BAD = "name: bad\njobs:\n  - name: a\n    command: 'true'\n    gpus: 2\n"


def diamond_yaml() -> str:
    """tests/data/flows/diamond.yaml, its jobs on cpu and long enough for RUNNING to show."""
    spec = yaml.safe_load((DATA / "diamond.yaml").read_text())
    for job in spec["jobs"]:
        job |= {"command": f"sleep 2; echo {job['name']}", "partition": "cpu"}
    return str(yaml.safe_dump(spec, sort_keys=False))


def is_parent(call: Call) -> bool:
    """A run's parent message: in the channel, marked as the card of `flow:RUN`."""
    payload = (call.params.get("metadata") or {}).get("event_payload") or {}
    return (
        not call.params.get("thread_ts")
        and str(payload.get("job", "")).startswith("flow:")
        and payload.get("kind") == "card"
    )


def thread_texts(standin: SlackStandIn, ts: str) -> list[str]:
    """The texts posted into the thread under `ts`, in order."""
    return [
        str(c.params.get("text"))
        for c in standin.calls_to("chat.postMessage")
        if c.params.get("thread_ts") == ts
    ]


def run_id_of(text: str) -> str:
    found = re.search(r"started run (f\w+) of", text)
    assert found, text
    return found.group(1)


def button_value(blocks: list[dict[str, Any]], action_id: str) -> str | None:
    values = [
        str(e["value"])
        for b in blocks
        if b["type"] == "actions"
        for e in b["elements"]
        if e["action_id"] == action_id
    ]
    assert len(values) <= 1, blocks
    return values[0] if values else None


def table_states(blocks: list[dict[str, Any]]) -> dict[str, str]:
    """Job name -> the STATE column's first word, as the parent message's table shows it."""
    code = "\n".join(
        b["text"]["text"].strip("`")
        for b in blocks
        if b["type"] == "section" and b["text"]["text"].startswith("```")
    )
    head, *rows = code.splitlines()
    at = head.index("STATE")
    return {row.split()[0]: row[at:].split()[0] for row in rows if row.strip() not in ("", "…")}


async def wait_run(
    bot: HttpBot, run_id: str, done: Callable[[FlowRun], bool], timeout: int = 90
) -> FlowRun:
    """Poll the lab as the scheduler would until `done(run)`."""
    run = None
    for _ in range(timeout):
        await bot.rt.flow_monitor.tick("lab")
        run = await bot.rt.runs.get(run_id)
        assert run is not None
        if done(run):
            return run
        await asyncio.sleep(1)
    raise AssertionError(f"run {run_id} never got there: {run!r}")


def parent_of(standin: SlackStandIn) -> Call:
    [parent] = [c for c in standin.calls_to("chat.postMessage") if is_parent(c)]
    return parent


async def _stored(bot: HttpBot, run_id: str) -> FlowRun:
    run = await bot.rt.runs.get(run_id)
    assert run is not None and run.parent_ts, run
    return run


async def test_an_attached_diamond_runs_in_one_live_thread(http_bot: HttpBot) -> None:
    standin = http_bot.standin
    file = standin.add_file("diamond.yaml", diamond_yaml().encode())
    mention = {
        "type": "app_mention",
        "user": ALICE,
        "text": "<@UBOT> flow run",
        "channel": "C1",
        "ts": "1700001000.000100",
        "files": [file],
    }
    await http_bot.event(mention, f"Ev-{secrets.token_hex(4)}")
    [answer] = await standin.wait_for("chat.postEphemeral", timeout=60)
    assert answer.params["thread_ts"] == mention["ts"] and answer.params["user"] == ALICE
    run_id = run_id_of(text_of(answer))
    [download] = standin.calls_to("files.download")
    assert download.token == standin.bot_token
    parent = parent_of(standin)
    assert parent.params["channel"] == "C1"
    assert parent.params["metadata"]["event_payload"]["job"] == f"flow:{run_id}"
    run = await wait_run(http_bot, run_id, lambda x: not x.active)
    assert run.outcome == "completed", run
    ts = run.parent_ts
    assert standin.messages[ts]["metadata"] == parent.params["metadata"]  # that message
    texts = thread_texts(standin, ts)
    assert len(texts) == len(set(texts)), texts  # nothing posted twice
    for name in "abcd":
        own = [t for t in texts if t.startswith(f"`{name}` (job")]
        assert sum("COMPLETED" in t for t in own) == 1, texts
        assert sum("RUNNING" in t for t in own) <= 1, texts
    assert sum("run `diamond` completed" in t for t in texts) == 1, texts
    assert "run `diamond` completed*: all 4 jobs COMPLETED" in texts[-1], texts
    assert [c for c in standin.calls_to("chat.update") if c.params["ts"] == ts]
    last = standin.messages[ts]  # the parent as it now is, after every update
    assert table_states(last["blocks"]) == dict.fromkeys("abcd", "COMPLETED"), last
    assert "completed" in text_of(standin.calls_to("chat.update")[-1])
    assert button_value(last["blocks"], FLOW_CANCEL) is None  # nothing left to cancel
    assert not standin.violations


async def test_run_buttons_refresh_for_the_owner_and_cancel_the_run(http_bot: HttpBot) -> None:
    standin = http_bot.standin
    await http_bot.command(f"flow run\n```yaml\n{LONG}```", ALICE, name="long")
    [answer] = await standin.wait_for("response_url", timeout=60)
    run = await _stored(http_bot, run_id_of(text_of(answer)))
    ts, blocks = run.parent_ts, parent_of(standin).params["blocks"]
    assert table_states(blocks) == {"first": "not", "second": "not"}  # posted, then submitted
    submitted = standin.messages[ts]["blocks"]
    assert table_states(submitted) == {"first": "submitted", "second": "submitted"}, submitted
    refresh, cancel = button_value(blocks, FLOW_REFRESH), button_value(blocks, FLOW_CANCEL)
    assert refresh and cancel
    ids = {s.name: s.job_id or "" for _, s in run.steps()}
    _, client = http_bot.rt.clusters.client(ALICE, "lab")
    await wait_state(client, ids["first"], {JobState.RUNNING})  # not yet polled by the bot

    updates = len(standin.calls_to("chat.update"))
    await http_bot.click(FLOW_REFRESH, refresh, BOB, message_ts=ts)
    [other] = await standin.wait_for("chat.postEphemeral", timeout=30)
    assert other.params["user"] == BOB and "someone else's" in text_of(other), other
    assert len(standin.calls_to("chat.update")) == updates  # the owner's message stays
    await http_bot.click(FLOW_REFRESH, refresh, ALICE, message_ts=ts)
    [*_, refreshed] = await standin.wait_for("chat.update", count=updates + 1, timeout=30)
    assert refreshed.params["ts"] == ts and refreshed.params["channel"] == "C1"
    assert table_states(refreshed.params["blocks"])["first"] == "RUNNING", refreshed

    await http_bot.click(FLOW_CANCEL, cancel, BOB, message_ts=ts)
    refused = await standin.wait_for("chat.postEphemeral", count=2, timeout=30)
    assert refused[-1].params["user"] == BOB and "someone else's" in text_of(refused[-1])
    assert (await client.job(ids["first"])).state is JobState.RUNNING
    await http_bot.click(FLOW_CANCEL, cancel, ALICE, message_ts=ts)
    done = await standin.wait_for("chat.postEphemeral", count=3, timeout=30)
    assert done[-1].params["user"] == ALICE and "2 job(s) stopped" in text_of(done[-1])
    queued = await client.transport.run(
        ["squeue", "-h", "-j", ",".join(ids.values()), "-t", "PD,R", "-o", "%i"]
    )
    assert queued.stdout.strip() == "", queued.stdout
    await wait_run(http_bot, run.id, lambda x: True)  # a poll after the end adds nothing
    texts = thread_texts(standin, ts)
    assert sum("cancelled by" in t for t in texts) == 1, texts
    assert f"cancelled by <@{ALICE}>" in texts[-1] and "run `long` cancelled" in texts[-1]
    last = standin.messages[ts]
    assert "cancelled" in text_of(standin.calls_to("chat.update")[-1])
    assert button_value(last["blocks"], FLOW_CANCEL) is None
    assert not standin.violations


@pytest.fixture
def home_yaml(lab: Lab) -> Iterator[Callable[[str], str]]:
    """Writes a YAML that alice owns into her home; its name relative to her home."""
    home = lab.home("alice")
    made: list[Path] = []

    def write(text: str) -> str:
        path = home / f"flow-{secrets.token_hex(4)}.yaml"
        path.write_text(text)
        st = home.stat()
        os.chown(path, st.st_uid, st.st_gid)
        made.append(path)
        return path.name

    yield write
    for path in made:
        path.unlink(missing_ok=True)


async def test_flow_validate_of_a_path_answers_the_plan_or_one_line(
    http_bot: HttpBot, home_yaml: Callable[[str], str]
) -> None:
    standin = http_bot.standin
    good, bad = home_yaml(diamond_yaml()), home_yaml(BAD)
    await http_bot.command(f"flow validate ~/{good}", ALICE, name="v1")
    [plan] = await standin.wait_for("response_url", timeout=60)
    assert plan.params["response_type"] == "ephemeral"
    shown = text_of(plan)
    assert "workflow diamond on lab is valid: 4 jobs" in shown, shown
    levels = re.findall(r"^ *(\d)\. (.+)$", str(plan.params["text"]), re.MULTILINE)
    assert [(n, set(names.split(", "))) for n, names in levels] == [
        ("1", {"a"}), ("2", {"b", "c"}), ("3", {"d"}),
    ], shown  # fmt: skip
    for i, text in enumerate([f"flow validate ~/{bad}", f"flow run ~/{bad}"], start=2):
        await http_bot.command(text, ALICE, name=f"v{i}")
        answers = await standin.wait_for("response_url", count=i, timeout=60)
        error = str(answers[-1].params["text"])
        assert "unknown key `gpus`" in error and "\n" not in error, error
    assert standin.calls_to("chat.postMessage") == []  # no parent message, nothing run
    assert await http_bot.rt.runs.of_user(ALICE) == []
    assert not standin.violations
