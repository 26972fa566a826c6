"""manifest.yaml against the project's model of Slack's manifest rules."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.slack.manifest import load_manifest, validate_manifest

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yaml"


def _data() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text())
    return data


def test_the_shipped_manifest_is_valid() -> None:
    m = load_manifest(MANIFEST)
    [cmd] = m.features.slash_commands
    assert cmd.command == "/srunx" and cmd.usage_hint and "submit" in cmd.usage_hint
    scopes = set(m.oauth_config.scopes.bot)
    assert scopes == {"commands", "chat:write", "app_mentions:read", "im:history", "im:write"}
    assert m.settings.event_subscriptions is not None
    assert set(m.settings.event_subscriptions.bot_events) == {"app_mention", "message.im"}
    assert m.settings.socket_mode_enabled is True
    assert m.settings.interactivity is not None and m.settings.interactivity.is_enabled
    assert m.features.app_home.messages_tab_enabled  # people can DM the bot


def _broken(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(_data())
    *parents, last = path.split(".")
    node: Any = data
    for p in parents:
        node = node[int(p)] if p.isdigit() else node[p]
    if value is _DELETE:
        del node[last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return data


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "features.slash_commands.0.command",
            "srunx",
            "features.slash_commands.0.command: must start with /",
        ),
        (
            "features.slash_commands.0.command",
            "/" + "x" * 32,
            "features.slash_commands.0.command: String should have at most 32",
        ),
        ("features.slash_commands.0.command", "/Srunx Bot", "must start with / and be lowercase"),
        (
            "oauth_config.scopes.bot",
            ["commands", "chat:write", "admin"],
            "oauth_config.scopes.bot: unknown bot scope(s): admin",
        ),
        (
            "settings.event_subscriptions.bot_events",
            ["app_mention", "message.everything"],
            "unknown bot event(s): message.everything",
        ),
        (
            "oauth_config.scopes.bot",
            ["commands", "chat:write", "im:history", "im:write"],
            "event app_mention needs the bot scope app_mentions:read",
        ),
        (
            "oauth_config.scopes.bot",
            ["chat:write", "app_mentions:read", "im:history"],
            "slash commands need the bot scope commands",
        ),
        ("display_information.name", _DELETE, "display_information.name: Field required"),
        (
            "display_information.name",
            "x" * 36,
            "display_information.name: String should have at most 35",
        ),
        ("features.app_home.home_tab_enabled", True, "a Home tab needs the app_home_opened event"),
        (
            "display_information.background_color",
            "blue",
            "display_information.background_color: must be a hex color",
        ),
        (
            "features.slash_commands.0.url",
            "http://example.org/x",
            "features.slash_commands.0.url: must be an https:// URL",
        ),
        (
            "features.bot_user.display_name",
            "Srunx Bot",
            "features.bot_user.display_name: use lowercase",
        ),
        ("settings.colour", "red", "settings.colour: unknown key"),
    ],
)
def test_each_rule_names_the_path(path: str, value: Any, expected: str) -> None:
    with pytest.raises(ValueError) as err:
        validate_manifest(_broken(path, value))
    assert expected in str(err.value) and str(err.value).startswith("manifest.yaml: ")
    assert "pydantic.dev" not in str(err.value)


def test_without_socket_mode_request_urls_are_required() -> None:
    data = _broken("settings.socket_mode_enabled", False)
    validate_manifest(data)  # the shipped URLs satisfy it
    del data["settings"]["event_subscriptions"]["request_url"]
    with pytest.raises(ValueError, match="event_subscriptions needs a request_url"):
        validate_manifest(data)
    data = _broken("settings.socket_mode_enabled", False)
    del data["settings"]["interactivity"]["request_url"]
    with pytest.raises(ValueError, match="interactivity needs a request_url"):
        validate_manifest(data)
