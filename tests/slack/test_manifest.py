"""manifest.yaml against the project's own model of Slack's manifest rules, and each rule
broken once on a copy of it: the error must name the file and the dotted path."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from slack_bolt.async_app import AsyncApp
from slack_bolt.listener_matcher import builtins as builtin_matchers
from slack_bolt.listener_matcher.listener_matcher import ListenerMatcher
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot.slack import listeners
from bot.slack.context import SlackContext
from bot.slack.manifest import (
    EVENT_SCOPES,
    Manifest,
    Shortcut,
    load_manifest,
    validate_manifest,
)

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yaml"
PLACEHOLDER = "https://example.invalid/slack/events"


def _data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return data


def _errors(data: Any) -> str:
    with pytest.raises(ValueError) as err:
        validate_manifest(data)
    text = str(err.value)
    for line in text.splitlines():
        assert line.startswith("manifest.yaml: "), line
    assert "pydantic" not in text and "errors.pydantic.dev" not in text
    return text


# --- the shipped manifest -----------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest() -> Manifest:
    return load_manifest(MANIFEST)


def test_the_shipped_manifest_is_valid(manifest: Manifest) -> None:
    assert manifest.display_information.name == "srunx"
    assert manifest.features.bot_user is not None
    assert manifest.features.bot_user.display_name == "srunx"
    assert manifest.metadata is not None and manifest.metadata.major_version == 1


def test_srunx_is_the_one_command_with_a_usage_hint(manifest: Manifest) -> None:
    [cmd] = manifest.features.slash_commands
    assert cmd.command == "/srunx"
    assert cmd.usage_hint and "submit" in cmd.usage_hint and "help" in cmd.usage_hint
    # Slack sends `--channel #hpc` as `<#C123|hpc>`, which the grammar reads.
    assert cmd.should_escape is True
    assert len(cmd.usage_hint) <= 1000
    for new in ("watch gpus", "report", "use CLUSTER"):
        assert new in cmd.usage_hint
    assert cmd.url == PLACEHOLDER


def test_scopes_exactly_cover_the_events_and_commands(manifest: Manifest) -> None:
    assert set(manifest.bot_events) == {"app_mention", "message.im", "app_home_opened"}
    assert EVENT_SCOPES["app_home_opened"] == frozenset()
    # `commands` covers the slash command and the shortcuts; views.open and views.publish
    # (the submit form, the Home tab) need no scope.
    needed = {"commands"} | {s for e in manifest.bot_events for s in EVENT_SCOPES[e]}
    posting = {"chat:write", "im:write"}  # answers, job cards and threads; DMs
    # conversations.replies on a job's thread after a crash, wherever the thread is.
    threads = {"channels:history", "groups:history", "mpim:history", "im:history"}
    assert set(manifest.oauth_config.scopes.bot) == needed | posting | threads
    assert len(manifest.oauth_config.scopes.bot) == len(needed | posting | threads)


def test_reading_job_threads_after_a_crash_needs_no_channel_message_events(
    manifest: Manifest,
) -> None:
    # The history scopes are for conversations.replies only: the bot is not sent every
    # channel message (no message.channels / .groups / .mpim subscription).
    assert {"channels:history", "groups:history", "mpim:history"} <= set(
        manifest.oauth_config.scopes.bot
    )
    assert not {"message.channels", "message.groups", "message.mpim"} & set(manifest.bot_events)


def test_socket_mode_and_interactivity(manifest: Manifest) -> None:
    settings = manifest.settings
    assert settings.socket_mode_enabled is True
    assert settings.interactivity is not None and settings.interactivity.is_enabled
    assert settings.interactivity.request_url == PLACEHOLDER
    assert settings.event_subscriptions is not None
    assert settings.event_subscriptions.request_url == PLACEHOLDER
    assert settings.token_rotation_enabled is False and settings.org_deploy_enabled is False


def test_users_can_dm_the_bot(manifest: Manifest) -> None:
    home = manifest.features.app_home
    assert home.messages_tab_enabled and not home.messages_tab_read_only_enabled
    assert "message.im" in manifest.bot_events


def test_the_home_tab_is_on_and_gets_app_home_opened(manifest: Manifest) -> None:
    assert manifest.features.app_home.home_tab_enabled
    assert "app_home_opened" in manifest.bot_events


def test_the_shortcuts_open_the_submit_form(manifest: Manifest) -> None:
    by_id = {s.callback_id: s for s in manifest.features.shortcuts}
    assert set(by_id) == {"submit_from_message", "submit_job"}
    assert by_id["submit_from_message"].type == "message"
    assert by_id["submit_from_message"].name == "Submit as Slurm job"
    assert by_id["submit_job"].type == "global"
    assert by_id["submit_job"].name == "Submit a Slurm job"
    for s in by_id.values():
        assert len(s.name) <= 24 and 1 <= len(s.description) <= 150
    assert manifest.settings.interactivity is not None
    assert manifest.settings.interactivity.is_enabled


def test_display_information_lengths(manifest: Manifest) -> None:
    info = manifest.display_information
    assert info.description is not None and len(info.description) <= 140
    assert info.long_description is not None and 175 <= len(info.long_description) <= 4000
    for feature in ("watch gpus N", "report every", "App Home", "submit form", "use CLUSTER"):
        assert feature in info.long_description
    assert info.background_color == "#2c2d30"


class _Recorder:
    """Stands in for the Bolt app: records what the listeners register, as (kind, key)."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, object]] = []

    def __getattr__(self, kind: str) -> Callable[..., Callable[[object], object]]:
        def register(key: object, *args: object, **kwargs: object) -> Callable[[object], object]:
            self.seen.append((kind, key))
            return lambda fn: fn

        return register

    def keys(self, *kinds: str) -> list[object]:
        return [key for kind, key in self.seen if kind in kinds]


@pytest.fixture(scope="module")
def registered() -> _Recorder:
    app = _Recorder()
    listeners.register(cast(AsyncApp, app), cast(SlackContext, None))
    return app


# Bolt registrations and what each needs from the manifest.
_SHORTCUT_KINDS = {
    "shortcut": builtin_matchers.shortcut,
    "global_shortcut": builtin_matchers.global_shortcut,
    "message_shortcut": builtin_matchers.message_shortcut,
}
# Slack delivers these through interactivity only; the views (the submit form, the Home tab)
# are opened or published by the bot, so the manifest names none of their callback_ids.
_INTERACTIVE_KINDS = {
    "action",
    "block_action",
    "view",
    "view_submission",
    "view_closed",
    "options",
    "block_suggestion",
    *_SHORTCUT_KINDS,
}
_KNOWN_KINDS = {"command", "event", "message", "use", "middleware", "error", *_INTERACTIVE_KINDS}
# A shortcut's type in the manifest -> the payload type Slack sends for it.
_SHORTCUT_PAYLOAD = {"global": "shortcut", "message": "message_action"}


def _shortcut_matches(kind: str, key: object, shortcut: Shortcut) -> bool:
    """Bolt's own matcher for `app.<kind>(key)`, run on the payload of `shortcut`."""
    matcher = cast(ListenerMatcher, _SHORTCUT_KINDS[kind](cast(Any, key)))
    body = {"type": _SHORTCUT_PAYLOAD[shortcut.type], "callback_id": shortcut.callback_id}
    return matcher.matches(BoltRequest(body=body, mode="socket_mode"), BoltResponse(status=200))


def _event_type(key: object) -> str:
    """The event type an `app.event(...)` registration is for (a name or {"type": ...})."""
    if isinstance(key, dict):
        key = key.get("type")
    assert isinstance(key, str), f"app.event({key!r}): use an event name the manifest can list"
    return key


def _handles_event(app: _Recorder, event: str) -> bool:
    types = {_event_type(k) for k in app.keys("event")}
    if event.startswith("message."):
        return "message" in types or bool(app.keys("message"))
    return event in types


def test_the_listeners_get_what_the_manifest_asks_slack_for(
    manifest: Manifest, registered: _Recorder
) -> None:
    unknown = {kind for kind, _ in registered.seen} - _KNOWN_KINDS
    assert not unknown, f"teach this test what the manifest needs for app.{unknown}"
    commands = {c.command for c in manifest.features.slash_commands}
    assert set(registered.keys("command")) <= commands
    for key in registered.keys("event"):
        event = _event_type(key)
        if event == "message":
            assert any(e.startswith("message.") for e in manifest.bot_events)
        else:
            assert event in manifest.bot_events
    if registered.keys("message"):
        assert any(e.startswith("message.") for e in manifest.bot_events)
    for kind, key in registered.seen:
        if kind in _SHORTCUT_KINDS:
            assert any(_shortcut_matches(kind, key, s) for s in manifest.features.shortcuts), (
                f"app.{kind}({key!r}) matches no shortcut in features.shortcuts"
            )
    if registered.keys(*_INTERACTIVE_KINDS):
        assert manifest.settings.interactivity is not None
        assert manifest.settings.interactivity.is_enabled


def test_what_the_manifest_asks_slack_for_has_a_listener(
    manifest: Manifest, registered: _Recorder
) -> None:
    """Anything Slack sends without a listener would get no answer (Bolt acks nothing)."""
    commands = set(registered.keys("command"))
    for cmd in manifest.features.slash_commands:
        assert cmd.command in commands, f"no app.command({cmd.command!r})"
    for event in manifest.bot_events:
        assert _handles_event(registered, event), f"no listener for the event {event}"
    for s in manifest.features.shortcuts:
        assert any(
            _shortcut_matches(kind, key, s)
            for kind, key in registered.seen
            if kind in _SHORTCUT_KINDS
        ), f"no shortcut listener matches the {s.type} shortcut {s.callback_id}"


@pytest.mark.parametrize(
    ("kind", "key", "callback_id", "matches"),
    [
        ("shortcut", "submit_job", "submit_job", True),
        ("shortcut", "submit_job", "submit_from_message", False),
        ("global_shortcut", "submit_job", "submit_job", True),
        ("message_shortcut", "submit_job", "submit_job", False),  # submit_job is global
        ("message_shortcut", "submit_from_message", "submit_from_message", True),
        ("shortcut", re.compile(r"^submit_"), "submit_from_message", True),
        ("shortcut", {"type": "shortcut", "callback_id": "submit_job"}, "submit_job", True),
        (
            "shortcut",
            {"type": "message_action", "callback_id": "submit_job"},
            "submit_job",
            False,
        ),
    ],
)
def test_shortcut_listeners_are_matched_as_bolt_does(
    manifest: Manifest, kind: str, key: object, callback_id: str, matches: bool
) -> None:
    [shortcut] = [s for s in manifest.features.shortcuts if s.callback_id == callback_id]
    assert _shortcut_matches(kind, key, shortcut) is matches


# --- each rule, broken once ---------------------------------------------------------------

_DELETE = object()


def _broken(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_data())
    *parents, last = path.split(".")
    node: Any = data
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    key: Any = int(last) if last.isdigit() else last
    if value is _DELETE:
        del node[key]
    else:
        node[key] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        pytest.param(
            "features.slash_commands.0.command",
            "srunx",
            "manifest.yaml: features.slash_commands.0.command: must start with /",
            id="command-without-slash",
        ),
        pytest.param(
            "features.slash_commands.0.command",
            "/" + "x" * 32,
            "manifest.yaml: features.slash_commands.0.command: String should have at most 32",
            id="command-33-chars",
        ),
        pytest.param(
            "features.slash_commands.0.command",
            "/Srunx",
            "features.slash_commands.0.command: must be lowercase",
            id="command-uppercase",
        ),
        pytest.param(
            "features.slash_commands.0.command",
            "/srunx bot",
            "features.slash_commands.0.command: must not contain spaces",
            id="command-with-space",
        ),
        pytest.param(
            "features.slash_commands.0.description",
            "d" * 2001,
            "features.slash_commands.0.description: String should have at most 2000",
            id="command-description-too-long",
        ),
        pytest.param(
            "features.slash_commands.0.usage_hint",
            "u" * 1001,
            "features.slash_commands.0.usage_hint: String should have at most 1000",
            id="usage-hint-too-long",
        ),
        pytest.param(
            "features.slash_commands.0.url",
            "http://example.org/slack/events",
            "features.slash_commands.0.url: must be an https:// URL",
            id="command-url-not-https",
        ),
        pytest.param(
            "oauth_config.scopes.bot",
            ["commands", "chat:write", "app_mentions:read", "im:history", "admin"],
            "manifest.yaml: oauth_config.scopes.bot.4: unknown bot scope 'admin'",
            id="unknown-scope",
        ),
        pytest.param(
            "oauth_config.scopes.bot",
            ["commands", "chat:writes", "app_mentions:read", "im:history"],
            "oauth_config.scopes.bot.1: unknown bot scope 'chat:writes' (did you mean chat:write?)",
            id="scope-typo",
        ),
        pytest.param(
            "oauth_config.scopes.bot",
            ["commands", "chat:write", "app_mentions:read", "im:history", "chat:write"],
            "oauth_config.scopes.bot: listed more than once: chat:write",
            id="scope-twice",
        ),
        pytest.param(
            "settings.event_subscriptions.bot_events",
            ["app_mention", "message.everything"],
            "manifest.yaml: settings.event_subscriptions.bot_events.1: unknown bot event "
            "'message.everything'",
            id="unknown-event",
        ),
        pytest.param(
            "oauth_config.scopes.bot",
            ["commands", "chat:write", "im:history", "im:write"],
            "manifest.yaml: settings.event_subscriptions.bot_events.0: app_mention needs the bot "
            "scope app_mentions:read",
            id="event-without-its-scope",
        ),
        pytest.param(
            "settings.event_subscriptions.bot_events",
            ["app_mention", "message.im", "reaction_added"],
            "settings.event_subscriptions.bot_events.2: reaction_added needs the bot scope "
            "reactions:read",
            id="reaction-event-without-scope",
        ),
        pytest.param(
            "oauth_config.scopes.bot",
            ["chat:write", "app_mentions:read", "im:history", "im:write"],
            "manifest.yaml: oauth_config.scopes.bot: slash commands and shortcuts need the bot "
            "scope commands",
            id="commands-without-scope",
        ),
        pytest.param(
            "display_information.name",
            _DELETE,
            "manifest.yaml: display_information.name: required",
            id="missing-name",
        ),
        pytest.param(
            "display_information.name",
            "x" * 36,
            "display_information.name: String should have at most 35",
            id="name-36-chars",
        ),
        pytest.param(
            "display_information.description",
            "d" * 141,
            "display_information.description: String should have at most 140",
            id="description-141-chars",
        ),
        pytest.param(
            "display_information.long_description",
            "too short",
            "display_information.long_description: String should have at least 175",
            id="long-description-too-short",
        ),
        pytest.param(
            "display_information.background_color",
            "blue",
            "display_information.background_color: must be a hex color",
            id="color-not-hex",
        ),
        pytest.param(
            "features.bot_user.display_name",
            "Srunx Bot",
            "features.bot_user.display_name: must start with a lowercase letter or digit",
            id="bot-display-name",
        ),
        pytest.param(
            "features.bot_user.display_name",
            "s" * 81,
            "features.bot_user.display_name: String should have at most 80",
            id="bot-display-name-81-chars",
        ),
        pytest.param(
            "features.bot_user",
            _DELETE,
            "features.bot_user: required when the app asks for bot scopes",
            id="no-bot-user",
        ),
        pytest.param(
            "settings.event_subscriptions.bot_events",
            ["app_mention", "message.im"],
            "manifest.yaml: features.app_home.home_tab_enabled: a Home tab needs the "
            "app_home_opened event",
            id="home-tab-without-app-home-opened",
        ),
        pytest.param(
            "features.shortcuts.1.callback_id",
            "submit_from_message",
            "manifest.yaml: features.shortcuts.1.callback_id: submit_from_message is used by "
            "another shortcut",
            id="shortcut-callback-id-twice",
        ),
        pytest.param(
            "settings.interactivity.is_enabled",
            False,
            "manifest.yaml: features.shortcuts: shortcuts need "
            "settings.interactivity.is_enabled: true",
            id="shortcuts-without-interactivity",
        ),
        pytest.param(
            "settings.interactivity",
            _DELETE,
            "manifest.yaml: features.shortcuts: shortcuts need "
            "settings.interactivity.is_enabled: true",
            id="shortcuts-without-interactivity-section",
        ),
        pytest.param(
            "features.shortcuts.0.name",
            "S" * 25,
            "manifest.yaml: features.shortcuts.0.name: String should have at most 24",
            id="shortcut-name-25-chars",
        ),
        pytest.param(
            "features.shortcuts.1.name",
            "",
            "features.shortcuts.1.name: String should have at least 1",
            id="shortcut-name-empty",
        ),
        pytest.param(
            "features.shortcuts.0.description",
            "d" * 151,
            "manifest.yaml: features.shortcuts.0.description: String should have at most 150",
            id="shortcut-description-151-chars",
        ),
        pytest.param(
            "features.shortcuts.1.description",
            _DELETE,
            "manifest.yaml: features.shortcuts.1.description: required",
            id="shortcut-without-description",
        ),
        pytest.param(
            "features.shortcuts.0.callback_id",
            "c" * 256,
            "features.shortcuts.0.callback_id: String should have at most 255",
            id="shortcut-callback-id-256-chars",
        ),
        pytest.param(
            "features.shortcuts.1.type",
            "channel",
            "manifest.yaml: features.shortcuts.1.type: Input should be 'message' or 'global'",
            id="shortcut-unknown-type",
        ),
        pytest.param(
            "features.shortcuts.0.is_global",
            True,
            "manifest.yaml: features.shortcuts.0.is_global: unknown key",
            id="shortcut-unknown-key",
        ),
        pytest.param(
            "features.shortcuts",
            [],
            "manifest.yaml: features.shortcuts: List should have at least 1 item",
            id="shortcuts-empty",
        ),
        pytest.param(
            "features.shortcuts",
            [
                {"name": f"s{i}", "type": "global", "callback_id": f"s{i}", "description": "d"}
                for i in range(11)
            ],
            "manifest.yaml: features.shortcuts: List should have at most 10 items",
            id="shortcuts-11",
        ),
        pytest.param(
            "settings.socket_mode_enabled",
            "yes",
            "settings.socket_mode_enabled: Input should be a valid boolean",
            id="socket-mode-not-bool",
        ),
        pytest.param(
            "settings.interactivity.is_enabled",
            _DELETE,
            "settings.interactivity.is_enabled: required",
            id="interactivity-without-is-enabled",
        ),
        pytest.param(
            "settings.colour",
            "red",
            "manifest.yaml: settings.colour: unknown key",
            id="unknown-settings-key",
        ),
        pytest.param(
            "outgoing_webhooks",
            True,
            "manifest.yaml: outgoing_webhooks: unknown key",
            id="unknown-top-level-key",
        ),
    ],
)
def test_each_rule_names_the_path(path: str, value: Any, expected: str) -> None:
    assert expected in _errors(_broken(path, value))


def test_no_home_tab_needs_no_app_home_opened() -> None:
    data = _broken("features.app_home.home_tab_enabled", False)
    data["settings"]["event_subscriptions"]["bot_events"].remove("app_home_opened")
    assert not validate_manifest(data).features.app_home.home_tab_enabled


def test_shortcuts_without_the_commands_scope() -> None:
    data = _broken("features.slash_commands", _DELETE)
    data["oauth_config"]["scopes"]["bot"].remove("commands")
    assert "manifest.yaml: oauth_config.scopes.bot: shortcuts need the bot scope commands" in (
        _errors(data)
    )


def test_no_shortcuts_need_no_interactivity() -> None:
    data = _broken("features.shortcuts", _DELETE)
    data["settings"]["interactivity"]["is_enabled"] = False
    assert validate_manifest(data).features.shortcuts == []


def test_ten_shortcuts_are_fine() -> None:
    ten = [
        {"name": f"s{i}", "type": "message", "callback_id": f"s{i}", "description": "d"}
        for i in range(10)
    ]
    assert len(validate_manifest(_broken("features.shortcuts", ten)).features.shortcuts) == 10


def test_short_hex_color_is_fine() -> None:
    assert validate_manifest(_broken("display_information.background_color", "#abc"))


def test_without_socket_mode_the_request_urls_are_required() -> None:
    data = _broken("settings.socket_mode_enabled", False)
    validate_manifest(data)  # the placeholder URLs satisfy it
    del data["settings"]["event_subscriptions"]["request_url"]
    del data["settings"]["interactivity"]["request_url"]
    del data["features"]["slash_commands"][0]["url"]
    text = _errors(data)
    assert (
        "manifest.yaml: settings.event_subscriptions.request_url: required when "
        "socket_mode_enabled is false"
    ) in text
    assert (
        "manifest.yaml: settings.interactivity.request_url: required when "
        "socket_mode_enabled is false"
    ) in text
    assert "manifest.yaml: features.slash_commands.0.url: required when" in text


def test_with_socket_mode_the_request_urls_may_be_left_out() -> None:
    data = _data()
    del data["settings"]["event_subscriptions"]["request_url"]
    del data["settings"]["interactivity"]["request_url"]
    del data["features"]["slash_commands"][0]["url"]
    assert validate_manifest(data).settings.socket_mode_enabled


def test_every_problem_is_reported_one_per_line() -> None:
    data = _broken("display_information.background_color", "blue")
    data["features"]["slash_commands"][0]["command"] = "srunx"
    data["extra"] = 1
    lines = _errors(data).splitlines()
    assert len(lines) == 3
    assert any("display_information.background_color" in line for line in lines)
    assert any("features.slash_commands.0.command" in line for line in lines)
    assert any(line.startswith("manifest.yaml: extra: unknown key") for line in lines)


def test_load_manifest_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "other.yaml"
    data = _broken("features.slash_commands.0.command", "srunx")
    bad.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(ValueError, match=r"^other\.yaml: features\.slash_commands\.0\.command"):
        load_manifest(bad)


def test_not_a_mapping_or_not_yaml(tmp_path: Path) -> None:
    assert _errors(["a", "list"]).startswith("manifest.yaml: (top level): expected a mapping")
    broken = tmp_path / "manifest.yaml"
    broken.write_text("display_information: [unclosed\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"^manifest\.yaml: \(top level\): not valid YAML"):
        load_manifest(broken)
