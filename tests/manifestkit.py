"""Checks of manifest.yaml: Slack's own JSON schema of app manifests (vendored under
tests/vendor/), then what no schema can know about this bot: the manifest declares every slash
command, event, shortcut and interactive callback the listeners handle, each of those has a
listener, and the bot scopes are exactly those the events, commands and the Web API methods
the code calls need. Every problem is one line "manifest.yaml: <dotted path>: <message>".
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any, cast

import yaml
from jsonschema import Draft7Validator
from slack_bolt.listener_matcher import builtins as builtin_matchers
from slack_bolt.listener_matcher.listener_matcher import ListenerMatcher
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import listeners

ROOT = Path(__file__).resolve().parents[1]
MANIFEST = ROOT / "manifest.yaml"
SCHEMA = Path(__file__).parent / "vendor" / "slack-manifest-schema" / "manifest.schema.1.0.0.json"

Data = dict[str, Any]

# Each bot event the bot subscribes to and the bot scopes it needs (all of them).
EVENT_SCOPES: dict[str, frozenset[str]] = {
    "app_home_opened": frozenset(),
    "app_mention": frozenset({"app_mentions:read"}),
    "message.im": frozenset({"im:history"}),
}
# Each Web API method the code calls and the bot scopes it needs (all of them).
_POST = frozenset({"chat:write"})
METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth.test": frozenset(),
    # im:write: the DM fallback posts to a user's id, which opens the DM.
    "chat.postMessage": _POST | {"im:write"},
    "chat.postEphemeral": _POST,
    "chat.update": _POST,
    # A job's thread may be in a public or private channel, a DM or a group DM.
    "conversations.replies": frozenset(
        {"channels:history", "groups:history", "im:history", "mpim:history"}
    ),
    # A report's channel (or DM), read back for a slot a replica died posting.
    "conversations.history": frozenset(
        {"channels:history", "groups:history", "im:history", "mpim:history"}
    ),
    "views.open": frozenset(),
    "views.publish": frozenset(),
    # Not a Web API method: a file's url_private fetched with the bot token.
    "files.download": frozenset({"files:read"}),
}
# Calls that use a scope without a Web API method: the function -> its METHOD_SCOPES key.
_NON_API_CALLS = {"download_private_file": "files.download"}


def load(path: Path = MANIFEST) -> Data:
    data: Data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def check(path: Path = MANIFEST) -> list[str]:
    """Every problem of a manifest file, each naming the file."""
    return problems(load(path), path.name)


def problems(data: object, name: str = "manifest.yaml") -> list[str]:
    """Slack's schema first: the other checks read the structure it guarantees."""
    found = schema_problems(data, name)
    if found:
        return found
    manifest = cast(Data, data)
    return listener_problems(manifest, registrations(), name) + scope_problems(
        manifest, web_api_methods(), name
    )


# --- Slack's schema -------------------------------------------------------------------------


def _pattern(obj: dict[str, Any]) -> dict[str, Any]:
    return {("pattern" if key == "regex" else key): value for key, value in obj.items()}


@cache
def _validator() -> Draft7Validator:
    # Slack's schema spells one pattern (display_information.background_color) "regex", which
    # JSON Schema does not know, so validators would skip it; it means "pattern".
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"), object_hook=_pattern)
    return Draft7Validator(schema)


def schema_problems(data: object, name: str = "manifest.yaml") -> list[str]:
    errors = _validator().iter_errors(data)
    lines = []
    for err in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]):
        where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
        lines.append(f"{name}: {where}: {err.message}")
    return lines


# --- the listeners --------------------------------------------------------------------------


class Recorder:
    """Stands in for the Bolt app: records what the listeners register, as (kind, key)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    def __getattr__(self, kind: str) -> Callable[..., Callable[[object], object]]:
        def register(key: object, *args: object, **kwargs: object) -> Callable[[object], object]:
            self.seen.append((kind, key))
            return lambda fn: fn

        return register


@cache
def registrations() -> tuple[tuple[str, object], ...]:
    app = Recorder()
    listeners.register(cast(Any, app), cast(Any, None))  # the context is never used here
    return tuple(app.seen)


SHORTCUT_KINDS = {
    "shortcut": builtin_matchers.shortcut,
    "global_shortcut": builtin_matchers.global_shortcut,
    "message_shortcut": builtin_matchers.message_shortcut,
}
# Slack delivers these through interactivity only; the views (the submit form, the Home tab)
# are opened or published by the bot, so the manifest names none of their callback_ids.
INTERACTIVE_KINDS = {
    "action",
    "block_action",
    "view",
    "view_submission",
    "view_closed",
    "options",
    "block_suggestion",
    *SHORTCUT_KINDS,
}
KNOWN_KINDS = {"command", "event", "message", "use", "middleware", "error", *INTERACTIVE_KINDS}
# A shortcut's type in the manifest -> the payload type Slack sends for it.
_SHORTCUT_PAYLOAD = {"global": "shortcut", "message": "message_action"}


def shortcut_matches(kind: str, key: object, shortcut: Data) -> bool:
    """Bolt's own matcher for `app.<kind>(key)`, run on the payload of `shortcut`."""
    matcher = cast(ListenerMatcher, SHORTCUT_KINDS[kind](cast(Any, key)))
    body = {"type": _SHORTCUT_PAYLOAD[shortcut["type"]], "callback_id": shortcut["callback_id"]}
    return matcher.matches(BoltRequest(body=body, mode="socket_mode"), BoltResponse(status=200))


def _event_type(key: object) -> str:
    """The event type an `app.event(...)` registration is for (a name or {"type": ...})."""
    if isinstance(key, dict):
        key = key.get("type")
    return key if isinstance(key, str) else f"<not a name: {key!r}>"


def _events(data: Data) -> list[str]:
    events: list[str] = (
        data.get("settings", {}).get("event_subscriptions", {}).get("bot_events", [])
    )
    return events


def _listened_as(event: str) -> str:
    """app.event("message") and app.message(...) get the message.* events the manifest lists."""
    return "message" if event.startswith("message.") else event


def listener_problems(
    data: Data, seen: Sequence[tuple[str, object]], name: str = "manifest.yaml"
) -> list[str]:
    """Both ways: what a listener handles is declared, and what is declared has a listener
    (Slack would get no answer: Bolt acks nothing)."""
    features = data.get("features", {})
    commands = [c["command"] for c in features.get("slash_commands", [])]
    shortcuts: list[Data] = features.get("shortcuts", [])
    events = _events(data)
    keys = {kind: [key for k, key in seen if k == kind] for kind in KNOWN_KINDS}
    handled = {_event_type(key) for key in keys["event"]}
    if keys["message"]:
        handled.add("message")
    bad: list[tuple[str, str]] = [
        ("(listeners)", f"app.{kind}(...): teach manifestkit what the manifest needs for it")
        for kind in sorted({kind for kind, _ in seen} - KNOWN_KINDS)
    ]
    bad += [
        ("features.slash_commands", f"no {cmd}, which the bot listens for")
        for cmd in keys["command"]
        if cmd not in commands
    ]
    bad += [
        (f"features.slash_commands.{i}.command", f"{cmd} has no listener")
        for i, cmd in enumerate(commands)
        if cmd not in keys["command"]
    ]
    declared = {_listened_as(e) for e in events}
    bad += [
        ("settings.event_subscriptions.bot_events", f"no {event}, which the bot listens for")
        for event in sorted(handled - declared)
    ]
    bad += [
        (f"settings.event_subscriptions.bot_events.{i}", f"{event} has no listener")
        for i, event in enumerate(events)
        if _listened_as(event) not in handled
    ]
    shortcut_keys = [(kind, key) for kind, key in seen if kind in SHORTCUT_KINDS]
    bad += [
        ("features.shortcuts", f"none matches app.{kind}({key!r})")
        for kind, key in shortcut_keys
        if not any(shortcut_matches(kind, key, s) for s in shortcuts)
    ]
    bad += [
        (f"features.shortcuts.{i}", f"the {s['type']} shortcut {s['callback_id']} has no listener")
        for i, s in enumerate(shortcuts)
        if not any(shortcut_matches(kind, key, s) for kind, key in shortcut_keys)
    ]
    interactive = sorted({kind for kind, _ in seen if kind in INTERACTIVE_KINDS})
    if interactive and not data.get("settings", {}).get("interactivity", {}).get("is_enabled"):
        bad.append(
            ("settings.interactivity.is_enabled", f"must be true: the bot handles {interactive}")
        )
    if features.get("app_home", {}).get("home_tab_enabled") and "app_home_opened" not in handled:
        bad.append(("features.app_home.home_tab_enabled", "no app_home_opened listener draws it"))
    return [f"{name}: {where}: {msg}" for where, msg in bad]


# --- the scopes -----------------------------------------------------------------------------


def _is_api_method(name: str) -> bool:
    return (
        "_" in name and not name.startswith("_") and callable(getattr(AsyncWebClient, name, None))
    )


@cache
def web_api_methods(package: Path = ROOT / "bot") -> Mapping[str, str]:
    """Each Web API method the code calls (`client.chat_postMessage(...)` or
    `client.api_call("chat.postMessage")`) -> where it is first called."""
    found: dict[str, str] = {}
    for py in sorted(package.rglob("*.py")):
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id in _NON_API_CALLS:
                method = _NON_API_CALLS[node.func.id]
                found.setdefault(method, f"{py.relative_to(package.parent)}:{node.lineno}")
                continue
            if not isinstance(node.func, ast.Attribute):
                continue
            attr, args = node.func.attr, node.args
            if attr == "api_call" and args and isinstance(args[0], ast.Constant):
                method = str(args[0].value)
            elif attr != "api_call" and _is_api_method(attr):
                method = attr.replace("_", ".")
            else:
                continue
            found.setdefault(method, f"{py.relative_to(package.parent)}:{node.lineno}")
    return found


def needed_scopes(data: Data, methods: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """(each bot scope needed -> why, what has no entry in EVENT_SCOPES / METHOD_SCOPES)."""
    features = data.get("features", {})
    need: dict[str, str] = {}
    if features.get("slash_commands") or features.get("shortcuts"):
        need["commands"] = "slash commands and shortcuts"
    unknown = []
    uses = [(EVENT_SCOPES, e, f"the event {e}") for e in _events(data)]
    uses += [(METHOD_SCOPES, m, f"{m} in {where}") for m, where in methods.items()]
    for table, key, why in uses:
        if key not in table:
            unknown.append(key)
        for scope in sorted(table.get(key, ())):
            need.setdefault(scope, why)
    return need, unknown


def scope_problems(
    data: Data, methods: Mapping[str, str], name: str = "manifest.yaml"
) -> list[str]:
    """The bot scopes are exactly those needed: none missing, none unused, none twice."""
    granted: list[str] = data.get("oauth_config", {}).get("scopes", {}).get("bot", [])
    need, unknown = needed_scopes(data, methods)
    bad = [
        ("(manifestkit)", f"which bot scopes does {key} need? add it to manifestkit")
        for key in unknown
    ]
    bad += [
        ("oauth_config.scopes.bot", f"no {scope}, which {why} needs")
        for scope, why in sorted(need.items())
        if scope not in granted
    ]
    for i, scope in enumerate(granted):
        if scope in granted[:i]:
            bad.append((f"oauth_config.scopes.bot.{i}", f"{scope} is listed twice"))
        elif scope not in need:
            bad.append(
                (f"oauth_config.scopes.bot.{i}", f"{scope} is needed by nothing the bot does")
            )
    return [f"{name}: {where}: {msg}" for where, msg in bad]
