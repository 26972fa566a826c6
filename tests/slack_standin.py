"""A local stand-in for Slack's Web API, response_url endpoints and Socket Mode.

Slack cannot be reached from the test machine, so tests point slack_sdk / slack-bolt at this
aiohttp server instead (127.0.0.1, random free port)::

    async with SlackStandIn() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        await client.chat_postMessage(channel="C1", text="hi")
        [call] = await slack.wait_for("chat.postMessage")

Every request is recorded as a `Call` in `.calls`. Requests that Slack itself would reject are
answered like Slack does (`{"ok": false, "error": ...}`) and also described in `.violations`,
so a test can assert `slack.violations == []` at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from aiohttp import WSCloseCode, WSMsgType, web
from slack_sdk.signature import SignatureVerifier

__all__ = [
    "KNOWN_BLOCK_TYPES",
    "Call",
    "SlackStandIn",
    "check_blocks",
    "event_body",
    "sign",
    "slash_command_body",
]

APP_ID = "A1"
BOT_ID = "B1"
TEAM_DOMAIN = "srunx"

KNOWN_BLOCK_TYPES = frozenset(
    {"section", "header", "divider", "context", "actions", "image", "rich_text", "input"}
)
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_SECTION_FIELDS = 10
MAX_FIELD_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_BLOCKS_JSON = 13_000
MAX_MESSAGE_TEXT = 40_000

_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")
_MESSAGE_METHODS = ("chat.postMessage", "chat.postEphemeral", "chat.update")
_VIEW_METHODS = ("views.open", "views.publish", "views.update", "views.push")
_BROADCAST = re.compile(r"<!(channel|here|everyone)(\|[^>]*)?>")
_FIRST_TS_MICROS = 1_700_000_000_000_000

Handler = Callable[[dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Call:
    """One request the stand-in received.

    `method` is the Web API method ("chat.postMessage") or "response_url"; `params` are the
    decoded body/query fields (`blocks`, `attachments`, `view` JSON-decoded; response_url
    calls carry `name`; faulted calls carry `_fault` = the HTTP status they got); `token` is
    the bearer token (or the `token` form field); `at` is `time.monotonic()` on arrival.
    """

    method: str
    params: dict[str, Any]
    token: str | None
    at: float


@dataclass(frozen=True)
class _Fault:
    status: int
    retry_after: int
    error: str


def _user_name(user_id: str) -> str:
    return f"user-{user_id.lower()}"


def _channel_name(channel_id: str) -> str:
    return f"chan-{channel_id.lower()}"


def _present(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, list | dict):
        return len(value) > 0
    return True


def _strings(value: Any) -> list[str]:
    """Every string inside a JSON-like value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _text_of(obj: Any) -> str | None:
    if isinstance(obj, dict):
        text = obj.get("text")
        if isinstance(text, str):
            return text
    return None


def _check_text_object(obj: Any, where: str, limit: int) -> list[str]:
    if not isinstance(obj, dict):
        return [f"{where} is not a text object"]
    text = _text_of(obj)
    if text is None:
        return [f"{where} has no text"]
    if text == "":
        return [f"{where} text is empty"]
    if len(text) > limit:
        return [f"{where} text is {len(text)} chars (max {limit})"]
    return []


def check_blocks(blocks: Any, *, limit: int) -> list[tuple[str, str]]:
    """Problems Slack would reject a `blocks` list for, as (error code, description)."""
    if not isinstance(blocks, list):
        return [("invalid_blocks", f"blocks is {type(blocks).__name__}, not a list")]
    problems: list[tuple[str, str]] = []
    if len(blocks) > limit:
        problems.append(("invalid_blocks", f"{len(blocks)} blocks (max {limit})"))
    for i, block in enumerate(blocks):
        where = f"block {i}"
        if not isinstance(block, dict):
            problems.append(("invalid_blocks", f"{where} is {type(block).__name__}, not a dict"))
            continue
        kind = block.get("type")
        if kind not in KNOWN_BLOCK_TYPES:
            problems.append(("invalid_blocks", f"{where} has unknown type {kind!r}"))
            continue
        found: list[str] = []
        if kind == "section":
            text = block.get("text")
            fields = block.get("fields")
            if text is None and fields is None:
                found.append(f"{where} (section) has neither text nor fields")
            if text is not None:
                found += _check_text_object(text, f"{where} (section)", MAX_SECTION_TEXT)
            if fields is not None:
                if not isinstance(fields, list) or not fields:
                    found.append(f"{where} (section) fields is not a non-empty list")
                else:
                    if len(fields) > MAX_SECTION_FIELDS:
                        found.append(
                            f"{where} (section) has {len(fields)} fields (max {MAX_SECTION_FIELDS})"
                        )
                    for j, f in enumerate(fields):
                        found += _check_text_object(f, f"{where} field {j}", MAX_FIELD_TEXT)
        elif kind == "header":
            text = block.get("text")
            found += _check_text_object(text, f"{where} (header)", MAX_HEADER_TEXT)
            if isinstance(text, dict) and text.get("type") != "plain_text":
                found.append(f"{where} (header) text must be plain_text")
        elif kind in ("actions", "context"):
            limit_el = MAX_ACTIONS_ELEMENTS if kind == "actions" else MAX_CONTEXT_ELEMENTS
            elements = block.get("elements")
            if not isinstance(elements, list) or not elements:
                found.append(f"{where} ({kind}) elements is not a non-empty list")
            elif len(elements) > limit_el:
                found.append(f"{where} ({kind}) has {len(elements)} elements (max {limit_el})")
        problems += [("invalid_blocks", p) for p in found]
    return problems


def _page(messages: list[dict[str, Any]], params: dict[str, Any], limit: int) -> dict[str, Any]:
    """One page of a conversations.* answer (`limit`/`cursor`); message metadata only with
    `include_all_metadata`, as Slack does."""
    if str(params.get("include_all_metadata", "")).lower() not in ("1", "true"):
        messages = [{k: v for k, v in m.items() if k != "metadata"} for m in messages]
    start = int(params.get("cursor") or 0)
    limit = int(params.get("limit") or limit)
    page, more = messages[start : start + limit], start + limit < len(messages)
    return {
        "ok": True,
        "messages": page,
        "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }


class SlackStandIn:
    """Fake Slack: Web API under `api_url`, response_urls, and a Socket Mode WebSocket."""

    def __init__(
        self,
        bot_token: str = "xoxb-test",
        app_token: str = "xapp-test",
        bot_user_id: str = "UBOT",
        team_id: str = "T1",
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token
        self.bot_user_id = bot_user_id
        self.team_id = team_id
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.envelopes: list[dict[str, Any]] = []
        # Messages posted/updated through chat.postMessage / chat.update, keyed by ts.
        self.messages: dict[str, dict[str, Any]] = {}
        # users.info display names; unknown ids get "user-<id>".
        self.user_names: dict[str, str] = {}
        # False: conversations.replies answers missing_scope (an app without the history scopes).
        self.history_granted = True
        # Uploaded files by their private path: served only with the bot token (add_file).
        self.files: dict[str, bytes] = {}
        self._faults: dict[str, deque[_Fault]] = {}
        self._handlers: dict[str, Handler] = {}
        self._sockets: set[web.WebSocketResponse] = set()
        self._changed: asyncio.Event | None = None
        self._ts_counter = 0
        self._runner: web.AppRunner | None = None
        self._sock: socket.socket | None = None
        self._port: int | None = None

    # ---------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("SlackStandIn already started")
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{name}", self._response_url)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/files-pri/{path:.+}", self._file)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind(("127.0.0.1", 0))
            await web.SockSite(runner, sock).start()
        except BaseException:
            sock.close()
            await runner.cleanup()
            raise
        self._runner = runner
        self._sock = sock
        self._port = int(sock.getsockname()[1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is None:
            return
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"stand-in stopping")
        await runner.cleanup()
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._notify()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # ------------------------------------------------------------------- URLs

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("SlackStandIn not started")
        return self._port

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def response_url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/response/{name}"

    # -------------------------------------------------------------- recording

    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def clear(self) -> None:
        """Forget recorded calls, violations, acks, envelopes and messages."""
        self.calls.clear()
        self.violations.clear()
        self.acks.clear()
        self.envelopes.clear()
        self.messages.clear()

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        times: int = 1,
        error: str = "ratelimited",
    ) -> None:
        """Make the next `times` calls of `method` fail with HTTP `status`.

        429 -> `Retry-After` header and `{"ok": false, "error": error}`; 5xx -> plain-text
        body; any other status -> `{"ok": false, "error": error}` with that status (so
        `status=200, error="not_in_channel"` injects a Slack API error). `method` may be
        "response_url".
        """
        queue = self._faults.setdefault(method, deque())
        queue.extend(_Fault(status, retry_after, error) for _ in range(times))

    def on(self, method: str, handler: Handler) -> None:
        """Answer `method` with `handler(params)` (after the token check) instead of the default."""
        self._handlers[method] = handler

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
        self._changed = asyncio.Event()

    async def _wait_until(self, ready: Callable[[], bool], timeout: float) -> bool:
        deadline = asyncio.get_running_loop().time() + timeout
        while not ready():
            if self._changed is None:
                self._changed = asyncio.Event()
            event = self._changed
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            try:
                await asyncio.wait_for(event.wait(), remaining)
            except TimeoutError:
                return ready()
        return True

    def _record(self, method: str, params: dict[str, Any], token: str | None) -> Call:
        call = Call(method=method, params=params, token=token, at=time.monotonic())
        self.calls.append(call)
        self._notify()
        return call

    def _violate(self, method: str, problem: str) -> None:
        self.violations.append(f"{method}: {problem}")

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 10.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Matching calls once at least `count` exist; AssertionError after `timeout` s."""

        def matching() -> list[Call]:
            return [c for c in self.calls_to(method) if where is None or where(c)]

        if await self._wait_until(lambda: len(matching()) >= count, timeout):
            return matching()
        recorded = "\n".join(f"  {c.method} {c.params!r}" for c in self.calls) or "  (none)"
        raise AssertionError(
            f"expected {count} call(s) to {method}"
            f"{' matching the condition' if where else ''} within {timeout}s, "
            f"got {len(matching())}; recorded calls:\n{recorded}"
        )

    # ---------------------------------------------------------------- parsing

    async def _read_params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            ctype = request.content_type
            if ctype in ("application/x-www-form-urlencoded", "multipart/form-data"):
                form = await request.post()
                for key in set(form.keys()):
                    values = [
                        v.file.read() if isinstance(v, web.FileField) else v
                        for v in form.getall(key)
                    ]
                    params[key] = values[0] if len(values) == 1 else values
            else:
                raw = await request.text()
                if raw.strip():
                    try:
                        body = json.loads(raw)
                    except json.JSONDecodeError:
                        params["_raw"] = raw
                        params["_invalid_json"] = True
                    else:
                        if isinstance(body, dict):
                            params.update(body)
                        else:
                            params["_body"] = body
        for key in _JSON_FIELDS:
            value = params.get(key)
            if isinstance(value, str):
                # An undecodable value stays a string; block validation reports it.
                with contextlib.suppress(json.JSONDecodeError):
                    params[key] = json.loads(value)
        return params

    @staticmethod
    def _token(request: web.Request, params: dict[str, Any]) -> str | None:
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            return auth.removeprefix("Bearer ").strip()
        token = params.get("token")
        return token if isinstance(token, str) else None

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        return queue.popleft()

    @staticmethod
    def _fault_response(fault: _Fault) -> web.Response:
        if fault.status == 429:
            return web.json_response(
                {"ok": False, "error": fault.error},
                status=429,
                headers={"Retry-After": str(fault.retry_after)},
            )
        if fault.status >= 500:
            return web.Response(status=fault.status, text="Internal Server Error")
        return web.json_response({"ok": False, "error": fault.error}, status=fault.status)

    # ---------------------------------------------------------------- files

    def add_file(
        self, name: str, content: bytes, *, mimetype: str = "text/plain"
    ) -> dict[str, Any]:
        """Upload a file; the answer is its file object as a message event's `files[]` holds
        it (url_private / url_private_download here, needing the bot token: 401 otherwise)."""
        file_id = f"F{len(self.files) + 1:08d}"
        path = f"{self.team_id}-{file_id}/{name}"
        self.files[path] = content
        base = f"http://127.0.0.1:{self.port}/files-pri/{path}"
        return {
            "id": file_id,
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rpartition(".")[2],
            "size": len(content),
            "mode": "hosted",
            "url_private": base,
            "url_private_download": f"{base}?download=1",
        }

    async def _file(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        token = self._token(request, {})
        self._record("files.download", {"path": path}, token)
        if token != self.bot_token:
            return web.Response(status=401, text="Unauthorized")
        content = self.files.get(path)
        if content is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=content, content_type="application/octet-stream")

    # ---------------------------------------------------------------- Web API

    async def _api(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params = await self._read_params(request)
        invalid_json = params.pop("_invalid_json", False)
        token = self._token(request, params)
        fault = self._take_fault(method)
        if fault is not None:
            self._record(method, {**params, "_fault": fault.status}, token)
            return self._fault_response(fault)
        self._record(method, params, token)
        if invalid_json:
            self._violate(method, "request body is not valid JSON")
            return web.json_response({"ok": False, "error": "invalid_json"})
        wanted = self.app_token if method == "apps.connections.open" else self.bot_token
        if token != wanted:
            return web.json_response({"ok": False, "error": "invalid_auth"})
        custom = self._handlers.get(method)
        body = custom(params) if custom is not None else self._answer(method, params)
        return web.json_response(body)

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method in _MESSAGE_METHODS:
            error = self._validate_message(method, params)
            if error is not None:
                return {"ok": False, "error": error}
        if method in _VIEW_METHODS:
            error = self._validate_view(method, params)
            if error is not None:
                return {"ok": False, "error": error}
        answer = self._answers().get(method)
        if answer is None:
            self._violate(method, "unknown method (the stand-in does not implement it)")
            return {"ok": False, "error": "unknown_method"}
        return answer(params)

    def _answers(self) -> dict[str, Handler]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "chat.postEphemeral": self._post_ephemeral,
            "views.open": self._view,
            "views.publish": self._view,
            "views.update": self._view,
            "views.push": self._view,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
            "conversations.replies": self._conversations_replies,
            "conversations.history": self._conversations_history,
            "apps.connections.open": self._connections_open,
        }

    def _next_ts(self) -> str:
        self._ts_counter += 1
        micros = _FIRST_TS_MICROS + self._ts_counter * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _check_broadcast(self, method: str, params: dict[str, Any]) -> None:
        for key in ("text", "blocks", "attachments"):
            for s in _strings(params.get(key)):
                m = _BROADCAST.search(s)
                if m:
                    self._violate(method, f"{key} contains unescaped {m.group(0)}")
                    break

    def _check_blocks(self, method: str, blocks: Any, *, limit: int) -> str | None:
        first: str | None = None
        for code, problem in check_blocks(blocks, limit=limit):
            self._violate(method, problem)
            first = first or code
        return first

    def _validate_message(self, method: str, params: dict[str, Any]) -> str | None:
        """Slack's checks for chat.*; records every problem, returns the first error code."""
        errors: list[str] = []

        def bad(code: str, problem: str) -> None:
            self._violate(method, problem)
            errors.append(code)

        if not _present(params.get("channel")):
            bad("channel_not_found", "missing channel")
        if method == "chat.update" and not _present(params.get("ts")):
            bad("message_not_found", "missing ts")
        if method == "chat.postEphemeral" and not _present(params.get("user")):
            bad("user_not_found", "missing user")
        blocks = params.get("blocks")
        if not any(_present(params.get(k)) for k in ("text", "blocks", "attachments")):
            bad("no_text", "neither text nor blocks")
        text = params.get("text")
        if isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT:
            bad("msg_too_long", f"text is {len(text)} chars (max {MAX_MESSAGE_TEXT})")
        if blocks is not None:
            error = self._check_blocks(method, blocks, limit=MAX_MESSAGE_BLOCKS)
            if error is not None:
                errors.append(error)
            size = len(json.dumps(blocks))
            if size > MAX_BLOCKS_JSON:
                bad("msg_blocks_too_long", f"blocks JSON is {size} chars (max {MAX_BLOCKS_JSON})")
        self._check_broadcast(method, params)
        return errors[0] if errors else None

    def _validate_view(self, method: str, params: dict[str, Any]) -> str | None:
        view = params.get("view")
        if not isinstance(view, dict):
            self._violate(method, "view is missing or not a JSON object")
            return "invalid_arguments"
        error = self._check_blocks(method, view.get("blocks", []), limit=MAX_VIEW_BLOCKS)
        self._check_broadcast(method, {"blocks": view.get("blocks")})
        return error

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "srunx",
            "user": "srunx",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _message(self, params: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": self.team_id,
            "text": params.get("text", ""),
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if key in params:
                message[key] = params[key]
        return message

    def _check_metadata(self, method: str, params: dict[str, Any]) -> str | None:
        meta = params.get("metadata")
        if meta is None:
            return None
        if (
            not isinstance(meta, dict)
            or not isinstance(meta.get("event_type"), str)
            or not isinstance(meta.get("event_payload"), dict)
        ):
            self._violate(method, f"metadata needs event_type and event_payload: {meta!r}")
            return "invalid_metadata_format"
        return None

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        error = self._check_metadata("chat.postMessage", params)
        if error is not None:
            return {"ok": False, "error": error}
        ts = self._next_ts()
        message = self._message(params, ts)
        channel = str(params["channel"])
        if channel.startswith("U"):  # a user id: Slack posts in the app's DM with them
            channel = "D" + channel[1:]
        self.messages[ts] = {**message, "channel": channel}
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        ts = str(params["ts"])
        message = self._message(params, ts)
        self.messages[ts] = {**self.messages.get(ts, {}), **message, "channel": params["channel"]}
        return {
            "ok": True,
            "channel": params["channel"],
            "ts": ts,
            "text": params.get("text", ""),
            "message": message,
        }

    def _post_ephemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _view(self, params: dict[str, Any]) -> dict[str, Any]:
        view: dict[str, Any] = params["view"]
        view_id = params.get("view_id")
        return {
            "ok": True,
            "view": {
                **view,
                "id": view_id if isinstance(view_id, str) and view_id else "V1",
                "team_id": self.team_id,
                "app_id": APP_ID,
                "bot_id": BOT_ID,
                "hash": "1700000000.abcdef",
                "state": {"values": {}},
            },
        }

    def _users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        user = params.get("user")
        if not isinstance(user, str) or not user:
            self._violate("users.info", "missing user")
            return {"ok": False, "error": "user_not_found"}
        name = self.user_names.get(user, _user_name(user))
        return {
            "ok": True,
            "user": {
                "id": user,
                "team_id": self.team_id,
                "name": name,
                "real_name": name,
                "deleted": False,
                "is_bot": user == self.bot_user_id,
                "tz": "UTC",
                "profile": {"display_name": name, "real_name": name},
            },
        }

    def _conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        channel = params.get("channel")
        if not isinstance(channel, str) or not channel:
            self._violate("conversations.info", "missing channel")
            return {"ok": False, "error": "channel_not_found"}
        return {
            "ok": True,
            "channel": {
                "id": channel,
                "name": _channel_name(channel),
                "is_channel": channel.startswith("C"),
                "is_group": channel.startswith("G"),
                "is_im": channel.startswith("D"),
                "is_private": not channel.startswith("C"),
                "is_member": True,
                "is_archived": False,
            },
        }

    def _conversations_replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """A thread (parent first, then replies by ts), paged by `limit`/`cursor`; message
        metadata only with `include_all_metadata`, as Slack does."""
        if not self.history_granted:
            return {
                "ok": False,
                "error": "missing_scope",
                "needed": "channels:history,groups:history,mpim:history,im:history",
                "provided": "commands,chat:write,app_mentions:read,im:write",
            }
        channel, ts = params.get("channel"), params.get("ts")
        if not _present(channel) or not _present(ts):
            self._violate("conversations.replies", "missing channel or ts")
            return {"ok": False, "error": "invalid_arguments"}
        thread = sorted(
            (
                m
                for m in self.messages.values()
                if m["channel"] == channel and ts in (m["ts"], m.get("thread_ts"))
            ),
            key=lambda m: m["ts"],
        )
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        return _page(thread, params, 1000)

    def _conversations_history(self, params: dict[str, Any]) -> dict[str, Any]:
        """A channel's top-level messages, newest first, paged by `limit`/`cursor`; metadata
        only with `include_all_metadata`, as Slack does."""
        if not self.history_granted:
            return {"ok": False, "error": "missing_scope", "needed": "channels:history"}
        channel = params.get("channel")
        if not _present(channel):
            self._violate("conversations.history", "missing channel")
            return {"ok": False, "error": "invalid_arguments"}
        top = sorted(
            (
                m
                for m in self.messages.values()
                if m["channel"] == channel and m.get("thread_ts") in (None, m["ts"])
            ),
            key=lambda m: m["ts"],
            reverse=True,
        )
        return _page(top, params, 100)

    def _connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": self.ws_url}

    # ----------------------------------------------------------- response_url

    async def _response_url(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        params = await self._read_params(request)
        invalid_json = params.pop("_invalid_json", False)
        params["name"] = name
        token = self._token(request, params)
        fault = self._take_fault("response_url")
        if fault is not None:
            self._record("response_url", {**params, "_fault": fault.status}, token)
            return self._fault_response(fault)
        self._record("response_url", params, token)
        if invalid_json:
            self._violate("response_url", "request body is not valid JSON")
            return web.Response(status=400, text="invalid_json")
        if "blocks" in params:
            error = self._check_blocks("response_url", params["blocks"], limit=MAX_MESSAGE_BLOCKS)
            if error is not None:
                return web.Response(status=400, text=error)
        self._check_broadcast("response_url", params)
        return web.Response(text="ok")

    # ------------------------------------------------------------ Socket Mode

    @property
    def connected(self) -> bool:
        """Whether a Socket Mode client is connected (and has been sent `hello`)."""
        return bool(self._sockets)

    async def wait_connected(self, timeout: float = 10.0) -> None:
        if not await self._wait_until(lambda: self.connected, timeout):
            raise AssertionError(f"no Socket Mode client connected within {timeout}s")

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(timeout=1.0)  # autoping answers the SDK's pings
        await ws.prepare(request)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {
                    "host": "applink-standin",
                    "build_number": 1,
                    "approximate_connection_time": 18060,
                },
                "connection_info": {"app_id": APP_ID},
            }
        )
        self._sockets.add(ws)
        self._notify()
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    data = json.loads(msg.data)
                except json.JSONDecodeError:
                    self._violate("socket_mode", f"non-JSON frame {msg.data!r}")
                    continue
                if isinstance(data, dict) and isinstance(data.get("envelope_id"), str):
                    self.acks[data["envelope_id"]] = data
                    self._notify()
                else:
                    self._violate("socket_mode", f"unexpected frame {msg.data!r}")
        finally:
            self._sockets.discard(ws)
            self._notify()
        return ws

    async def send_envelope(
        self,
        type: str,
        payload: dict[str, Any],
        *,
        envelope_id: str | None = None,
        retry_attempt: int = 0,
    ) -> str:
        """Send a Socket Mode envelope to the connected client(s); returns its envelope_id."""
        await self.wait_connected(10.0)
        envelope_id = envelope_id or str(uuid.uuid4())
        envelope: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": type,
            "payload": payload,
            "accepts_response_payload": type in ("slash_commands", "interactive"),
            "retry_attempt": retry_attempt,
            "retry_reason": "",
        }
        await self.send_raw(envelope)
        self.envelopes.append(envelope)
        return envelope_id

    async def send_raw(self, message: dict[str, Any]) -> None:
        """Send any JSON frame (e.g. `{"type": "disconnect", ...}`) to the connected client(s)."""
        await self.wait_connected(10.0)
        frame = json.dumps(message)
        await asyncio.gather(*(ws.send_str(frame) for ws in list(self._sockets)))

    async def wait_ack(self, envelope_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The client's ack for `envelope_id` (`{"envelope_id", "payload"?}`)."""
        if await self._wait_until(lambda: envelope_id in self.acks, timeout):
            return self.acks[envelope_id]
        raise AssertionError(
            f"no ack for envelope {envelope_id} within {timeout}s; acks: {sorted(self.acks)}"
        )


# -------------------------------------------------------------- request builders


def slash_command_body(
    text: str,
    *,
    user_id: str,
    channel_id: str = "C1",
    command: str = "/srunx",
    response_url: str,
    trigger_id: str = "T-1",
    team_id: str = "T1",
) -> dict[str, str]:
    """Form fields of a slash command as Slack sends them (also the Socket Mode payload)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel_id,
        "channel_name": _channel_name(channel_id),
        "user_id": user_id,
        "user_name": _user_name(user_id),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def event_body(
    event: dict[str, Any],
    *,
    event_id: str,
    team_id: str = "T1",
    bot_user_id: str = "UBOT",
) -> dict[str, Any]:
    """An Events API `event_callback` body (also the Socket Mode `events_api` payload)."""
    return {
        "token": "legacy-verification-token",
        "team_id": team_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }


def sign(secret: str, body: str, timestamp: int | None = None) -> dict[str, str]:
    """`X-Slack-Request-Timestamp` / `X-Slack-Signature` headers for an HTTP-mode request."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None
    return {"X-Slack-Request-Timestamp": ts, "X-Slack-Signature": signature}
