"""manifest.yaml against the project's own model of Slack's manifest rules, and each rule
broken once on a copy of it: the error must name the file and the dotted path."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import pytest
import yaml
from slack_bolt.async_app import AsyncApp

from bot.slack import listeners
from bot.slack.context import SlackContext
from bot.slack.manifest import EVENT_SCOPES, Manifest, load_manifest, validate_manifest

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
    assert cmd.should_escape is False
    assert cmd.url == PLACEHOLDER


def test_scopes_exactly_cover_the_events_and_commands(manifest: Manifest) -> None:
    assert set(manifest.bot_events) == {"app_mention", "message.im"}
    needed = {"commands"} | {s for e in manifest.bot_events for s in EVENT_SCOPES[e]}
    posting = {"chat:write", "im:write"}  # answers, job cards and threads; DMs
    assert set(manifest.oauth_config.scopes.bot) == needed | posting
    assert len(manifest.oauth_config.scopes.bot) == len(needed | posting)


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
    assert not home.home_tab_enabled
    assert "message.im" in manifest.bot_events


def test_display_information_lengths(manifest: Manifest) -> None:
    info = manifest.display_information
    assert info.description is not None and len(info.description) <= 140
    assert info.long_description is not None and 175 <= len(info.long_description) <= 4000
    assert info.background_color == "#2c2d30"


class _Recorder:
    """Stands in for the Bolt app: records what the listeners register."""

    def __init__(self) -> None:
        self.seen: dict[str, list[object]] = {}

    def __getattr__(self, kind: str) -> Callable[..., Callable[[object], object]]:
        def register(key: object, *args: object, **kwargs: object) -> Callable[[object], object]:
            self.seen.setdefault(kind, []).append(key)
            return lambda fn: fn

        return register


def test_the_listeners_get_what_the_manifest_asks_slack_for(manifest: Manifest) -> None:
    app = _Recorder()
    listeners.register(cast(AsyncApp, app), cast(SlackContext, None))
    commands = {c.command for c in manifest.features.slash_commands}
    assert set(app.seen.get("command", [])) <= commands
    for event in app.seen.get("event", []):
        if event == "message":
            assert any(e.startswith("message.") for e in manifest.bot_events)
        else:
            assert event in manifest.bot_events
    if app.seen.get("action") or app.seen.get("view") or app.seen.get("shortcut"):
        assert manifest.settings.interactivity is not None
        assert manifest.settings.interactivity.is_enabled


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
            "manifest.yaml: oauth_config.scopes.bot: slash commands need the bot scope commands",
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
            "features.app_home.home_tab_enabled",
            True,
            "manifest.yaml: features.app_home.home_tab_enabled: a Home tab needs the "
            "app_home_opened event",
            id="home-tab-without-app-home-opened",
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


def test_home_tab_with_app_home_opened_is_fine() -> None:
    data = _broken("features.app_home.home_tab_enabled", True)
    data["settings"]["event_subscriptions"]["bot_events"].append("app_home_opened")
    assert validate_manifest(data).features.app_home.home_tab_enabled


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
