"""The Slack stand-in behaves like Slack for the real slack_sdk clients."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from slack_standin import SlackStandIn, event_body, sign, slash_command_body


@pytest.fixture
async def slack() -> AsyncIterator[SlackStandIn]:
    async with SlackStandIn() as standin:
        yield standin


def web(slack: SlackStandIn, token: str = "xoxb-test") -> AsyncWebClient:
    # No session given: slack_sdk opens and closes an aiohttp session per request.
    return AsyncWebClient(token=token, base_url=slack.api_url)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


async def slack_error(coro: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        await coro
    error = info.value.response["error"]
    assert isinstance(error, str)
    return error


async def test_urls_and_lifecycle() -> None:
    standin = SlackStandIn()
    with pytest.raises(RuntimeError):
        _ = standin.api_url
    await standin.start()
    try:
        assert standin.api_url == f"http://127.0.0.1:{standin.port}/api/"
        assert standin.ws_url == f"ws://127.0.0.1:{standin.port}/ws"
        assert standin.response_url("r1") == f"http://127.0.0.1:{standin.port}/response/r1"
    finally:
        await standin.stop()
    await standin.stop()  # idempotent


async def test_auth_post_and_update_with_real_client(slack: SlackStandIn) -> None:
    client = web(slack)
    auth = await client.auth_test()
    assert auth["user_id"] == "UBOT"
    assert auth["team_id"] == "T1"
    assert auth["bot_id"] == "B1"

    blocks = [section("*hello*"), {"type": "divider"}]
    posted = await client.chat_postMessage(channel="C1", text="hello", blocks=blocks)
    assert posted["channel"] == "C1"
    assert posted["message"]["blocks"] == blocks
    second = await client.chat_postMessage(channel="C1", text="again", thread_ts=posted["ts"])
    assert float(second["ts"]) > float(posted["ts"])
    assert second["message"]["thread_ts"] == posted["ts"]

    updated = await client.chat_update(channel="C1", ts=posted["ts"], text="bye", blocks=[])
    assert (updated["channel"], updated["ts"], updated["text"]) == ("C1", posted["ts"], "bye")
    assert slack.messages[posted["ts"]]["text"] == "bye"

    [call] = slack.calls_to("chat.postMessage")[:1]
    assert call.token == "xoxb-test"
    assert call.params["blocks"] == blocks  # JSON body, decoded
    assert [c.method for c in slack.calls] == [
        "auth.test",
        "chat.postMessage",
        "chat.postMessage",
        "chat.update",
    ]
    assert slack.violations == []


async def test_form_body_fields_are_decoded(slack: SlackStandIn) -> None:
    blocks = [section("form")]
    async with aiohttp.ClientSession() as session:
        data = {"channel": "C2", "text": "t", "blocks": json.dumps(blocks), "token": "xoxb-test"}
        async with session.post(slack.api_url + "chat.postMessage", data=data) as resp:
            body = await resp.json()
    assert body["ok"] is True
    [call] = slack.calls_to("chat.postMessage")
    assert call.params["blocks"] == blocks
    assert call.token == "xoxb-test"


async def test_read_methods_and_views(slack: SlackStandIn) -> None:
    client = web(slack)
    slack.user_names["U7"] = "alice"
    user = await client.users_info(user="U7")  # GET with query string
    assert user["user"]["id"] == "U7"
    assert user["user"]["name"] == "alice"
    channel = await client.conversations_info(channel="C9")
    assert channel["channel"]["id"] == "C9"
    eph = await client.chat_postEphemeral(channel="C1", user="U7", text="psst")
    assert "message_ts" in eph
    view = {"type": "modal", "title": {"type": "plain_text", "text": "t"}, "blocks": []}
    opened = await client.views_open(trigger_id="T-1", view=view)
    assert opened["view"]["id"] == "V1"
    assert opened["view"]["type"] == "modal"
    published = await client.views_publish(user_id="U7", view={"type": "home", "blocks": []})
    assert published["view"]["type"] == "home"
    assert await slack_error(client.api_call("reactions.add")) == "unknown_method"


async def test_threads_keep_message_metadata_for_conversations_replies(slack: SlackStandIn) -> None:
    client = web(slack)
    meta = {"event_type": "srunx_job_update", "event_payload": {"job": "5", "seq": 1}}
    card = await client.chat_postMessage(channel="C1", text="card")
    for i in range(3):
        await client.chat_postMessage(
            channel="C1", thread_ts=card["ts"], text=f"r{i}", metadata={**meta, "x": i}
        )
    await client.chat_postMessage(channel="C2", thread_ts=card["ts"], text="elsewhere")
    plain = await client.conversations_replies(channel="C1", ts=card["ts"])
    assert [m["text"] for m in plain["messages"]] == ["card", "r0", "r1", "r2"]
    assert not any("metadata" in m for m in plain["messages"])
    first = await client.conversations_replies(
        channel="C1", ts=card["ts"], include_all_metadata=True, limit=2
    )
    assert first["has_more"] and first["messages"][1]["metadata"]["event_payload"]["seq"] == 1
    cursor = first["response_metadata"]["next_cursor"]
    rest = await client.conversations_replies(
        channel="C1", ts=card["ts"], include_all_metadata=True, cursor=cursor
    )
    assert [m["text"] for m in rest["messages"]] == ["r1", "r2"] and not rest["has_more"]
    assert (
        await slack_error(
            client.chat_postMessage(channel="C1", text="x", metadata={"event_type": "t"})
        )
        == "invalid_metadata_format"
    )
    slack.history_granted = False
    assert (
        await slack_error(client.conversations_replies(channel="C1", ts=card["ts"]))
        == "missing_scope"
    )
    slack.violations.clear()


async def test_a_5xx_has_a_plain_text_body(slack: SlackStandIn) -> None:
    slack.fail_next("chat.postMessage", status=502)
    with pytest.raises(SlackApiError) as info:
        await web(slack).chat_postMessage(channel="C1", text="x")
    assert info.value.response.status_code == 502
    assert info.value.response.data == "Internal Server Error"  # not JSON, as a proxy answers


async def test_wrong_tokens_get_invalid_auth(slack: SlackStandIn) -> None:
    assert await slack_error(web(slack, "xoxb-wrong").auth_test()) == "invalid_auth"
    # The bot token does not open Socket Mode connections, and the app token is no bot token.
    assert await slack_error(web(slack).apps_connections_open(app_token="xoxb-test")) == (
        "invalid_auth"
    )
    opened = await web(slack).apps_connections_open(app_token="xapp-test")
    assert opened["url"] == slack.ws_url
    assert await slack_error(web(slack, "xapp-test").auth_test()) == "invalid_auth"
    async with (
        aiohttp.ClientSession() as session,
        session.post(slack.api_url + "auth.test") as resp,
    ):
        assert (await resp.json())["error"] == "invalid_auth"
    assert [c.token for c in slack.calls] == [
        "xoxb-wrong",
        "xoxb-test",
        "xapp-test",
        "xapp-test",
        None,
    ]


async def test_rate_limit_is_retried_by_the_sdk(slack: SlackStandIn) -> None:
    client = web(slack)
    client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=2))
    slack.fail_next("chat.postMessage", retry_after=0)
    posted = await client.chat_postMessage(channel="C1", text="after 429")
    assert posted["ok"]
    calls = await slack.wait_for("chat.postMessage", count=2)
    assert [c.params.get("_fault") for c in calls] == [429, None]
    assert calls[1].params["text"] == "after 429"


async def test_faults_without_retry(slack: SlackStandIn) -> None:
    client = web(slack)
    slack.fail_next("chat.postMessage", retry_after=7)
    with pytest.raises(SlackApiError) as info:
        await client.chat_postMessage(channel="C1", text="x")
    assert info.value.response.status_code == 429
    assert info.value.response.headers["Retry-After"] == "7"
    assert info.value.response["error"] == "ratelimited"

    slack.fail_next("auth.test", status=500, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as info:
            await client.auth_test()
        assert info.value.response.status_code == 500
    assert (await client.auth_test())["ok"]

    slack.fail_next("chat.postMessage", status=200, error="not_in_channel")
    assert await slack_error(client.chat_postMessage(channel="C1", text="x")) == "not_in_channel"
    assert [c.params.get("_fault") for c in slack.calls] == [429, 500, 500, None, 200]


@pytest.mark.parametrize(
    ("blocks", "error"),
    [
        ([section("x")] * 51, "invalid_blocks"),
        ([section("x" * 3001)], "invalid_blocks"),
        ([{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}], "invalid_blocks"),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
            "invalid_blocks",
        ),
        ([{"type": "actions", "elements": [{"type": "button"}] * 26}], "invalid_blocks"),
        ([{"type": "bogus"}], "invalid_blocks"),
        (["not a dict"], "invalid_blocks"),
        ([section("")], "invalid_blocks"),
        ([section("y" * 2900)] * 5, "msg_blocks_too_long"),
    ],
    ids=[
        "51-blocks",
        "3001-char-section",
        "long-header",
        "11-fields",
        "26-actions",
        "unknown-type",
        "not-a-dict",
        "empty-text",
        "over-13000-json",
    ],
)
async def test_invalid_blocks_are_rejected(
    slack: SlackStandIn, blocks: list[Any], error: str
) -> None:
    got = await slack_error(web(slack).chat_postMessage(channel="C1", text="t", blocks=blocks))
    assert got == error
    assert slack.violations
    assert all(v.startswith("chat.postMessage: ") for v in slack.violations)


async def test_views_allow_100_blocks_but_not_101(slack: SlackStandIn) -> None:
    client = web(slack)
    view: dict[str, Any] = {"type": "home", "blocks": [{"type": "divider"}] * 100}
    assert (await client.views_publish(user_id="U1", view=view))["ok"]
    view["blocks"] = [{"type": "divider"}] * 101
    assert await slack_error(client.views_publish(user_id="U1", view=view)) == "invalid_blocks"
    assert slack.violations == ["views.publish: 101 blocks (max 100)"]


async def test_missing_fields_are_rejected(slack: SlackStandIn) -> None:
    client = web(slack)
    # api_call directly: chat_postMessage() itself warns about the missing text.
    no_text = client.api_call("chat.postMessage", json={"channel": "C1"})
    assert await slack_error(no_text) == "no_text"
    assert await slack_error(client.chat_postMessage(channel="", text="t")) == "channel_not_found"
    assert await slack_error(client.chat_update(channel="C1", ts="", text="t")) == (
        "message_not_found"
    )
    assert await slack_error(client.chat_postEphemeral(channel="C1", user="", text="t")) == (
        "user_not_found"
    )
    assert len(slack.violations) == 4


async def test_broadcast_mentions_are_flagged_but_delivered(slack: SlackStandIn) -> None:
    client = web(slack)
    await client.chat_postMessage(channel="C1", text="ping <!here>")
    await client.chat_postMessage(channel="C1", text="t", blocks=[section("hi <!channel>")])
    await client.chat_postMessage(channel="C1", text="safe &lt;!everyone&gt;")
    assert slack.violations == [
        "chat.postMessage: text contains unescaped <!here>",
        "chat.postMessage: blocks contains unescaped <!channel>",
    ]


async def test_response_url_posts_are_recorded(slack: SlackStandIn) -> None:
    hook = AsyncWebhookClient(slack.response_url("cmd1"))
    resp = await hook.send(text="done", response_type="ephemeral", blocks=[section("done")])
    assert (resp.status_code, resp.body) == (200, "ok")
    [call] = await slack.wait_for("response_url", where=lambda c: c.params["name"] == "cmd1")
    assert call.params["text"] == "done"
    assert call.params["blocks"] == [section("done")]
    assert call.token is None

    bad = await hook.send(text="t", blocks=[{"type": "bogus"}])
    assert (bad.status_code, bad.body) == (400, "invalid_blocks")


async def test_wait_for_times_out_with_what_was_recorded(slack: SlackStandIn) -> None:
    await web(slack).auth_test()
    started = time.monotonic()
    with pytest.raises(AssertionError, match=r"(?s)chat\.postMessage.*auth\.test"):
        await slack.wait_for("chat.postMessage", timeout=0.1)
    assert time.monotonic() - started < 1


async def test_socket_mode_with_real_client(slack: SlackStandIn) -> None:
    web_client = AsyncWebClient(base_url=slack.api_url)
    client = SocketModeClient(app_token="xapp-test", web_client=web_client)
    received: list[SocketModeRequest] = []

    async def listener(c: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        received.append(req)
        await c.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))

    client.socket_mode_request_listeners.append(listener)
    try:
        await client.connect()  # type: ignore[no-untyped-call]  # untyped in slack_sdk
        await slack.wait_connected(timeout=2)
        assert slack.connected
        [opened] = slack.calls_to("apps.connections.open")
        assert opened.token == "xapp-test"

        payload = slash_command_body(
            "status 42", user_id="U1", response_url=slack.response_url("c1")
        )
        envelope_id = await slack.send_envelope("slash_commands", payload)
        ack = await slack.wait_ack(envelope_id, timeout=2)
        assert ack["envelope_id"] == envelope_id
        assert received[0].type == "slash_commands"
        assert received[0].payload["text"] == "status 42"
        assert slack.envelopes[0]["accepts_response_payload"] is True
    finally:
        await client.close()  # type: ignore[no-untyped-call]  # untyped in slack_sdk
    assert {c.method for c in slack.calls} == {"apps.connections.open"}
    assert slack.violations == []


async def test_socket_hello_ack_and_stop_with_raw_websocket() -> None:
    standin = SlackStandIn()
    await standin.start()
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(standin.ws_url)
        hello = await ws.receive_json(timeout=2)
        assert hello["type"] == "hello"
        assert hello["connection_info"] == {"app_id": "A1"}
        await standin.wait_connected(timeout=2)

        envelope_id = await standin.send_envelope(
            "events_api", event_body({"type": "app_mention", "text": "hi"}, event_id="Ev1")
        )
        envelope = await ws.receive_json(timeout=2)
        assert envelope["envelope_id"] == envelope_id
        assert envelope["accepts_response_payload"] is False
        assert envelope["payload"]["event_id"] == "Ev1"
        assert envelope["payload"]["authorizations"][0]["user_id"] == "UBOT"
        await ws.send_json({"envelope_id": envelope_id})
        assert await standin.wait_ack(envelope_id, timeout=2) == {"envelope_id": envelope_id}

        started = time.monotonic()
        await standin.stop()  # closes the socket instead of waiting for the client
        assert time.monotonic() - started < 2
        assert not standin.connected
        await ws.close()


async def test_send_envelope_without_client_fails(slack: SlackStandIn) -> None:
    with pytest.raises(AssertionError, match="no Socket Mode client"):
        await slack.wait_connected(timeout=0.1)
    with pytest.raises(AssertionError, match="no ack"):
        await slack.wait_ack("nope", timeout=0.1)


def test_request_builders_and_signature() -> None:
    body = slash_command_body("submit x", user_id="U1", response_url="http://r/1")
    assert body["command"] == "/srunx"
    assert body["channel_id"] == "C1"
    assert body["trigger_id"] == "T-1"
    assert set(body) >= {
        "token",
        "team_id",
        "team_domain",
        "channel_id",
        "channel_name",
        "user_id",
        "user_name",
        "command",
        "text",
        "api_app_id",
        "response_url",
        "trigger_id",
    }
    event = event_body({"type": "message"}, event_id="Ev9", team_id="T2")
    assert event["type"] == "event_callback"
    assert event["authorizations"] == [
        {
            "enterprise_id": None,
            "team_id": "T2",
            "user_id": "UBOT",
            "is_bot": True,
            "is_enterprise_install": False,
        }
    ]

    raw = "token=x&text=hi"
    headers = sign("s3cret", raw)
    assert SignatureVerifier("s3cret").is_valid(
        body=raw,
        timestamp=headers["X-Slack-Request-Timestamp"],
        signature=headers["X-Slack-Signature"],
    )
    assert sign("s3cret", raw, timestamp=1)["X-Slack-Request-Timestamp"] == "1"
