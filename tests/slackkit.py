"""The real Bolt app on the lab, pointed at the local Slack stand-in, in HTTP or Socket Mode:
requests signed as Slack signs them. Loaded as a pytest plugin by tests/conftest.py."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp

from bot.core import replies as r
from bot.core.records import JobThread
from bot.render.modals import submit_view
from bot.runtime import Runtime
from bot.slack.app import EVENTS_PATH, start_http, start_socket_mode, web_client
from bot.slack.notifier import SlackNotifier
from bot.slack.settings import SlackSettings
from bot.store.state import open_state
from bot.transport.pool import TransportPool
from labkit import Lab
from scripted import Scripted, ScriptedPool, scripted_accounts
from slack_standin import Call, SlackStandIn, event_body, sign, slash_command_body

SECRET = "test-signing-secret"


@dataclass
class HttpBot:
    standin: SlackStandIn
    rt: Runtime
    app: AsyncApp
    url: str
    session: aiohttp.ClientSession

    async def post(
        self, body: str, content_type: str, headers: dict[str, str] | None = None
    ) -> tuple[int, str, float]:
        """POST a body as Slack would; returns (status, response text, seconds to answer)."""
        hdrs = {
            "Content-Type": content_type,
            **(headers if headers is not None else sign(SECRET, body)),
        }
        t0 = time.perf_counter()
        async with self.session.post(self.url, data=body.encode(), headers=hdrs) as resp:
            text = await resp.text()
            return resp.status, text, time.perf_counter() - t0

    async def command(
        self,
        text: str,
        user: str,
        *,
        channel: str = "C1",
        name: str = "r1",
        trigger: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str, float]:
        form = slash_command_body(
            text,
            user_id=user,
            channel_id=channel,
            response_url=self.standin.response_url(name),
            trigger_id=trigger or f"trigger-{name}",
        )
        body = urllib.parse.urlencode(form)
        if headers is None:
            headers = sign(SECRET, body)
        return await self.post(body, "application/x-www-form-urlencoded", headers)

    async def click(
        self, action_id: str, value: str, user: str, *, channel: str = "C1", message_ts: str
    ) -> tuple[int, str, float]:
        """A button click on a message, as a signed `block_actions` payload."""
        return await self.interact(
            button_click(
                action_id,
                value,
                user,
                channel={"id": channel},
                container={
                    "type": "message",
                    "message_ts": message_ts,
                    "channel_id": channel,
                    "is_ephemeral": False,
                },
                message={"ts": message_ts, "type": "message"},
                response_url=self.standin.response_url(f"click-{action_id}"),
            )
        )

    async def tick_until_done(self, job_id: str, timeout: int = 40) -> JobThread:
        """Poll as the scheduler would, until the job's thread has its final post."""
        monitor = self.rt.monitor
        for _ in range(timeout):
            await monitor.tick("lab")
            thread = await monitor.store.thread("lab", job_id)
            if thread is not None and thread.done:
                return thread
            await asyncio.sleep(1)
        raise AssertionError(f"job {job_id}'s thread never finished")

    async def interact(self, payload: dict[str, Any]) -> tuple[int, str, float]:
        """Any interactivity payload (clicks, shortcuts, view submissions), form-encoded as
        `payload=<json>` and signed, as Slack sends them."""
        body = urllib.parse.urlencode({"payload": json.dumps(payload)})
        return await self.post(body, "application/x-www-form-urlencoded")

    async def event(
        self, event: dict[str, Any], event_id: str, extra_headers: dict[str, str] | None = None
    ) -> tuple[int, str, float]:
        body = json.dumps(event_body(event, event_id=event_id))
        return await self.post(
            body, "application/json", {**sign(SECRET, body), **(extra_headers or {})}
        )


def text_of(call: Call) -> str:
    """A posted message's text and blocks, as one string to look for words in."""
    return str(call.params.get("text", "")) + str(call.params.get("blocks", ""))


def button_click(action_id: str, value: str, user: str, **where: Any) -> dict[str, Any]:
    """A `block_actions` payload for one button; `where` says where it was (a message's
    channel/container/message, or a view's container/view)."""
    return {
        "type": "block_actions",
        "user": {"id": user},
        "team": {"id": "T1"},
        "api_app_id": "A1",
        "trigger_id": f"click-{action_id}",
        **where,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b1",
                "value": value,
                "action_ts": "1",
            }
        ],
    }


def form_state(**values: str) -> dict[str, Any]:
    state: dict[str, Any] = {}
    for field, value in values.items():
        # As Slack sends it: block_id -> action_id -> element state (both the field's name).
        if field in ("partition", "template"):
            element = {"type": "static_select", "selected_option": {"value": value}}
        else:
            element = {"type": "plain_text_input", "value": value}
        state[field] = {field: element}
    return {"values": state}


def form_submission(user: str, channel: str | None, **values: str) -> dict[str, Any]:
    """A signed-to-be `view_submission` of the submit form opened from `channel`."""
    form = r.SubmitFormReply(cluster="lab", partitions=["cpu", "gpu"], default_partition="gpu")
    view = {
        **submit_view(form, channel),
        "id": f"V{secrets.token_hex(4)}",
        "state": form_state(**values),
    }
    return {
        "type": "view_submission",
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "trigger_id": f"form-{secrets.token_hex(3)}",
        "view": view,
    }


def global_shortcut(user: str, trigger: str) -> dict[str, Any]:
    """The "Submit a Slurm job" shortcut, pressed by `user`."""
    return {
        "type": "shortcut",
        "callback_id": "submit_job",
        "team": {"id": "T1"},
        "user": {"id": user},
        "trigger_id": trigger,
    }


def opened_view(call: Call) -> dict[str, Any]:
    """The view a views.open call opened."""
    view: dict[str, Any] = call.params["view"]
    if isinstance(view, str):
        view = json.loads(view)
    return view


def settings_for(standin: SlackStandIn, *, http: bool) -> SlackSettings:
    return SlackSettings(
        bot_token=SecretStr(standin.bot_token),
        app_token=None if http else SecretStr(standin.app_token),
        signing_secret=SecretStr(SECRET) if http else None,
        api_url=standin.api_url,
    )


@pytest.fixture
async def standin() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as s:
        yield s


async def slack_bot(
    lab: Lab, standin: SlackStandIn, state: Path, *, http: bool, pool: TransportPool | None = None
) -> tuple[Runtime, AsyncApp]:
    """The bot's parts on the lab (state in the directory `state`; with `pool`, the lab's
    config on those transports) and its app, both on one client into the stand-in."""
    settings = settings_for(standin, http=http)
    client = web_client(settings)
    rt = await Runtime.open(lab.config(), open_state(state), SlackNotifier(client), pool=pool)
    return rt, rt.slack_app(client, settings, http=http)


@asynccontextmanager
async def serving_http(
    lab: Lab, standin: SlackStandIn, state: Path, port: int, pool: TransportPool | None = None
) -> AsyncIterator[HttpBot]:
    rt, app = await slack_bot(lab, standin, state, http=True, pool=pool)
    runner: web.AppRunner = await start_http(app, "127.0.0.1", port)
    session = aiohttp.ClientSession()
    try:
        yield HttpBot(standin, rt, app, f"http://127.0.0.1:{port}{EVENTS_PATH}", session)
    finally:
        await session.close()
        await runner.cleanup()
        await rt.close()


@pytest.fixture
async def http_bot(
    lab: Lab, standin: SlackStandIn, unused_tcp_port: int, tmp_path: Path
) -> AsyncIterator[HttpBot]:
    async with serving_http(lab, standin, tmp_path, unused_tcp_port) as bot:
        yield bot


@pytest.fixture
async def scripted_bot(
    standin: SlackStandIn, unused_tcp_port: int, tmp_path: Path
) -> AsyncIterator[ScriptedBot]:
    """The real Bolt app in HTTP mode on the stand-in, without the lab: each cluster
    account's Slurm is scripted (tests/scripted.py)."""
    slurm = scripted_accounts()
    pool = ScriptedPool(slurm)
    async with serving_http(Lab.from_env(), standin, tmp_path, unused_tcp_port, pool) as bot:
        yield ScriptedBot(bot, slurm)


@dataclass
class ScriptedBot:
    http: HttpBot
    slurm: dict[str, Scripted]  # per cluster account


@pytest.fixture
async def socket_bot(lab: Lab, standin: SlackStandIn, tmp_path: Path) -> AsyncIterator[Runtime]:
    rt, app = await slack_bot(lab, standin, tmp_path, http=False)
    handler = await start_socket_mode(app, settings_for(standin, http=False))
    try:
        yield rt
    finally:
        await handler.close_async()  # type: ignore[no-untyped-call]
        await app.client.session.close() if app.client.session else None
        await rt.close()
