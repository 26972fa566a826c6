"""manifest.yaml against Slack's own manifest schema and against the bot (its listeners and the
Web API methods it calls; tests/manifestkit.py), and each check broken once on a copy of it:
the problem must name the file and the dotted path."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from manifestkit import (
    EVENT_SCOPES,
    MANIFEST,
    check,
    listener_problems,
    load,
    needed_scopes,
    problems,
    registrations,
    schema_problems,
    shortcut_matches,
    web_api_methods,
)

PLACEHOLDER = "https://example.invalid/slack/events"


def _errors(data: object) -> str:
    found = problems(data)
    assert found, "expected the manifest to be refused"
    for line in found:
        assert line.startswith("manifest.yaml: "), line
    return "\n".join(found)


# --- the shipped manifest -----------------------------------------------------------------


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return load()


def test_the_shipped_manifest_passes_every_check() -> None:
    assert check(MANIFEST) == []


def test_the_shipped_manifest_names_the_app(manifest: dict[str, Any]) -> None:
    assert manifest["display_information"]["name"] == "srunx"
    assert manifest["features"]["bot_user"]["display_name"] == "srunx"
    assert manifest["_metadata"]["major_version"] == 1


def test_srunx_is_the_one_command_with_a_usage_hint(manifest: dict[str, Any]) -> None:
    [cmd] = manifest["features"]["slash_commands"]
    assert cmd["command"] == "/srunx"
    hint = cmd["usage_hint"]
    assert "submit" in hint and "help" in hint
    # Slack sends `--channel #hpc` as `<#C123|hpc>`, which the grammar reads.
    assert cmd["should_escape"] is True
    assert len(hint) <= 1000
    for new in ("watch gpus", "report", "use CLUSTER"):
        assert new in hint
    assert cmd["url"] == PLACEHOLDER


def test_scopes_exactly_cover_the_events_commands_and_calls(manifest: dict[str, Any]) -> None:
    events = manifest["settings"]["event_subscriptions"]["bot_events"]
    assert set(events) == {"app_mention", "message.im", "app_home_opened"}
    assert EVENT_SCOPES["app_home_opened"] == frozenset()
    need, unknown = needed_scopes(manifest, web_api_methods())
    assert unknown == []
    # `commands` covers the slash command and the shortcuts; views.open and views.publish
    # (the submit form, the Home tab) need no scope.
    events_and_commands = {"commands", "app_mentions:read", "im:history"}
    posting = {"chat:write", "im:write"}  # answers, job cards and threads; DMs
    # conversations.replies on a job's thread after a crash, wherever the thread is.
    threads = {"channels:history", "groups:history", "mpim:history", "im:history"}
    files = {"files:read"}  # a script attached to `submit`, downloaded from its url_private
    assert set(need) == events_and_commands | posting | threads | files
    granted = manifest["oauth_config"]["scopes"]["bot"]
    assert sorted(granted) == sorted(need)


def test_the_code_calls_the_methods_the_scopes_are_for() -> None:
    methods = web_api_methods()
    assert {"chat.postMessage", "chat.update", "conversations.replies", "views.open"} <= set(
        methods
    )
    assert re.fullmatch(r"bot/slack/.+\.py:\d+", methods["conversations.replies"])
    # an attached script's download (files:read) is no Web API method, but counts as one
    assert re.fullmatch(r"bot/slack/files\.py:\d+", methods["files.download"])


def test_web_api_methods_finds_both_call_styles(tmp_path: Path) -> None:
    pkg = tmp_path / "bot"
    pkg.mkdir()
    (pkg / "a.py").write_text(
        "async def f(client, slurm):\n"
        "    await client.chat_postMessage(channel='C1', text='hi')\n"
        "    await client.api_call('reactions.add', json={})\n"
        "    await slurm.list_jobs()\n"  # not a Web API method
        "    client.chat_postMessage\n",  # not a call
        encoding="utf-8",
    )
    assert web_api_methods(pkg) == {"chat.postMessage": "bot/a.py:2", "reactions.add": "bot/a.py:3"}


def test_reading_job_threads_after_a_crash_needs_no_channel_message_events(
    manifest: dict[str, Any],
) -> None:
    # The history scopes are for conversations.replies only: the bot is not sent every
    # channel message (no message.channels / .groups / .mpim subscription).
    granted = set(manifest["oauth_config"]["scopes"]["bot"])
    assert {"channels:history", "groups:history", "mpim:history"} <= granted
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])
    assert not {"message.channels", "message.groups", "message.mpim"} & events


def test_socket_mode_and_interactivity(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is True
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["interactivity"]["request_url"] == PLACEHOLDER
    assert settings["event_subscriptions"]["request_url"] == PLACEHOLDER
    assert settings["token_rotation_enabled"] is False
    assert settings["org_deploy_enabled"] is False


def test_users_can_dm_the_bot(manifest: dict[str, Any]) -> None:
    home = manifest["features"]["app_home"]
    assert home["messages_tab_enabled"] and not home["messages_tab_read_only_enabled"]
    assert "message.im" in manifest["settings"]["event_subscriptions"]["bot_events"]


def test_the_home_tab_is_on_and_gets_app_home_opened(manifest: dict[str, Any]) -> None:
    assert manifest["features"]["app_home"]["home_tab_enabled"]
    assert "app_home_opened" in manifest["settings"]["event_subscriptions"]["bot_events"]


def test_the_shortcuts_open_the_submit_form(manifest: dict[str, Any]) -> None:
    by_id = {s["callback_id"]: s for s in manifest["features"]["shortcuts"]}
    assert set(by_id) == {"submit_from_message", "submit_job"}
    assert by_id["submit_from_message"]["type"] == "message"
    assert by_id["submit_from_message"]["name"] == "Submit as Slurm job"
    assert by_id["submit_job"]["type"] == "global"
    assert by_id["submit_job"]["name"] == "Submit a Slurm job"
    assert manifest["settings"]["interactivity"]["is_enabled"]


def test_display_information(manifest: dict[str, Any]) -> None:
    info = manifest["display_information"]
    for feature in ("watch gpus N", "report every", "App Home", "submit form", "use CLUSTER"):
        assert feature in info["long_description"]
    assert info["background_color"] == "#2c2d30"


def test_the_listeners_are_the_ones_the_checks_know() -> None:
    kinds = {kind for kind, _ in registrations()}
    assert {"command", "event", "action", "shortcut", "view"} <= kinds


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
    manifest: dict[str, Any], kind: str, key: object, callback_id: str, matches: bool
) -> None:
    [shortcut] = [s for s in manifest["features"]["shortcuts"] if s["callback_id"] == callback_id]
    assert shortcut_matches(kind, key, shortcut) is matches


# --- each check, broken once --------------------------------------------------------------

_DELETE = object()


def _broken(path: str, value: Any) -> dict[str, Any]:
    data = copy.deepcopy(load())
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


_SCOPES = ["commands", "chat:write", "app_mentions:read", "im:history", "im:write"]
_HISTORY = ["channels:history", "groups:history", "mpim:history"]


def _granted_without(scope: str) -> list[str]:
    return [s for s in _SCOPES + _HISTORY if s != scope]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        # Slack's schema
        pytest.param(
            "display_information.name",
            "x" * 36,
            "manifest.yaml: display_information.name: '" + "x" * 36 + "' is too long",
            id="name-36-chars",
        ),
        pytest.param(
            "display_information.name",
            _DELETE,
            "manifest.yaml: display_information: 'name' is a required property",
            id="missing-name",
        ),
        pytest.param(
            "display_information.description",
            "d" * 141,
            "display_information.description: '" + "d" * 141 + "' is too long",
            id="description-141-chars",
        ),
        pytest.param(
            "display_information.long_description",
            "too short",
            "display_information.long_description: 'too short' is too short",
            id="long-description-too-short",
        ),
        pytest.param(
            "display_information.background_color",
            "blue",
            "display_information.background_color: 'blue' does not match",
            id="color-not-hex",
        ),
        pytest.param(
            "features.slash_commands.0.command",
            "srunx",
            "manifest.yaml: features.slash_commands.0.command: 'srunx' does not match '^\\\\/'",
            id="command-without-slash",
        ),
        pytest.param(
            "features.slash_commands.0.command",
            "/" + "x" * 32,
            "manifest.yaml: features.slash_commands.0.command: '/" + "x" * 32 + "' is too long",
            id="command-33-chars",
        ),
        pytest.param(
            "features.slash_commands.0.description",
            "d" * 2001,
            "features.slash_commands.0.description: '" + "d" * 2001 + "' is too long",
            id="command-description-too-long",
        ),
        pytest.param(
            "features.slash_commands.0.usage_hint",
            "u" * 1001,
            "features.slash_commands.0.usage_hint: '" + "u" * 1001 + "' is too long",
            id="usage-hint-too-long",
        ),
        pytest.param(
            "features.bot_user.display_name",
            "s" * 81,
            "features.bot_user.display_name: '" + "s" * 81 + "' is too long",
            id="bot-display-name-81-chars",
        ),
        pytest.param(
            "features.shortcuts.0.name",
            "S" * 25,
            "manifest.yaml: features.shortcuts.0.name: '" + "S" * 25 + "' is too long",
            id="shortcut-name-25-chars",
        ),
        pytest.param(
            "features.shortcuts.1.name",
            "",
            "features.shortcuts.1.name: '' should be non-empty",
            id="shortcut-name-empty",
        ),
        pytest.param(
            "features.shortcuts.0.description",
            "d" * 151,
            "manifest.yaml: features.shortcuts.0.description: '" + "d" * 151 + "' is too long",
            id="shortcut-description-151-chars",
        ),
        pytest.param(
            "features.shortcuts.1.description",
            _DELETE,
            "manifest.yaml: features.shortcuts.1: 'description' is a required property",
            id="shortcut-without-description",
        ),
        pytest.param(
            "features.shortcuts.0.callback_id",
            "c" * 256,
            "features.shortcuts.0.callback_id: '" + "c" * 256 + "' is too long",
            id="shortcut-callback-id-256-chars",
        ),
        pytest.param(
            "features.shortcuts.1.type",
            "channel",
            "manifest.yaml: features.shortcuts.1.type: 'channel' is not one of ['message', "
            "'global']",
            id="shortcut-unknown-type",
        ),
        pytest.param(
            "features.shortcuts.0.is_global",
            True,
            "manifest.yaml: features.shortcuts.0: Additional properties are not allowed "
            "('is_global' was unexpected)",
            id="shortcut-unknown-key",
        ),
        pytest.param(
            "features.shortcuts",
            [],
            "manifest.yaml: features.shortcuts: [] should be non-empty",
            id="shortcuts-empty",
        ),
        pytest.param(
            "features.shortcuts",
            [
                {"name": f"s{i}", "type": "global", "callback_id": f"s{i}", "description": "d"}
                for i in range(11)
            ],
            "manifest.yaml: features.shortcuts: [{",
            id="shortcuts-11",
        ),
        pytest.param(
            "settings.event_subscriptions.bot_events",
            ["app_mention", "message.im", "app_home_opened", "app_mention"],
            "settings.event_subscriptions.bot_events: ['app_mention', 'message.im', "
            "'app_home_opened', 'app_mention'] has non-unique elements",
            id="event-twice",
        ),
        pytest.param(
            "settings.socket_mode_enabled",
            "yes",
            "settings.socket_mode_enabled: 'yes' is not of type 'boolean'",
            id="socket-mode-not-bool",
        ),
        pytest.param(
            "settings.interactivity.is_enabled",
            _DELETE,
            "settings.interactivity: 'is_enabled' is a required property",
            id="interactivity-without-is-enabled",
        ),
        pytest.param(
            "settings.colour",
            "red",
            "manifest.yaml: settings: Additional properties are not allowed ('colour' was "
            "unexpected)",
            id="unknown-settings-key",
        ),
        pytest.param(
            "outgoing_webhooks",
            True,
            "manifest.yaml: (top level): Additional properties are not allowed "
            "('outgoing_webhooks' was unexpected)",
            id="unknown-top-level-key",
        ),
        # the listeners
        pytest.param(
            "features.slash_commands.0.command",
            "/Srunx",
            "manifest.yaml: features.slash_commands: no /srunx, which the bot listens for\n"
            "manifest.yaml: features.slash_commands.0.command: /Srunx has no listener",
            id="command-not-the-listeners",
        ),
        pytest.param(
            "settings.event_subscriptions.bot_events",
            ["message.im", "app_home_opened"],
            "manifest.yaml: settings.event_subscriptions.bot_events: no app_mention, which the "
            "bot listens for",
            id="missing-event",
        ),
        pytest.param(
            "settings.event_subscriptions.bot_events",
            ["app_mention", "app_home_opened"],
            "settings.event_subscriptions.bot_events: no message, which the bot listens for",
            id="missing-message-event",
        ),
        pytest.param(
            "settings.event_subscriptions.bot_events",
            ["app_mention", "message.im"],
            "manifest.yaml: settings.event_subscriptions.bot_events: no app_home_opened, which "
            "the bot listens for",
            id="home-tab-without-app-home-opened",
        ),
        pytest.param(
            "settings.event_subscriptions.bot_events",
            ["app_mention", "message.im", "app_home_opened", "reaction_added"],
            "manifest.yaml: settings.event_subscriptions.bot_events.3: reaction_added has no "
            "listener",
            id="event-without-listener",
        ),
        pytest.param(
            "settings.event_subscriptions.bot_events",
            ["app_mention", "message.im", "app_home_opened", "message.everything"],
            "manifest.yaml: (manifestkit): which bot scopes does message.everything need?",
            id="unknown-event",
        ),
        pytest.param(
            "features.shortcuts.1",
            _DELETE,
            "manifest.yaml: features.shortcuts: none matches app.shortcut('submit_job')",
            id="missing-shortcut",
        ),
        pytest.param(
            "features.shortcuts.1.callback_id",
            "submit_from_message",
            "manifest.yaml: features.shortcuts: none matches app.shortcut('submit_job')",
            id="shortcut-callback-id-twice",
        ),
        pytest.param(
            "features.shortcuts",
            [
                {
                    "name": "Submit",
                    "type": "global",
                    "callback_id": "submit_job",
                    "description": "d",
                },
                {"name": "Other", "type": "global", "callback_id": "other", "description": "d"},
            ],
            "manifest.yaml: features.shortcuts.1: the global shortcut other has no listener",
            id="shortcut-without-listener",
        ),
        pytest.param(
            "settings.interactivity.is_enabled",
            False,
            "manifest.yaml: settings.interactivity.is_enabled: must be true: the bot handles "
            "['action', 'shortcut', 'view']",
            id="interactivity-off",
        ),
        pytest.param(
            "settings.interactivity",
            _DELETE,
            "manifest.yaml: settings.interactivity.is_enabled: must be true",
            id="no-interactivity-section",
        ),
        # the scopes
        pytest.param(
            "oauth_config.scopes.bot",
            _granted_without("chat:write"),
            "manifest.yaml: oauth_config.scopes.bot: no chat:write, which chat.postMessage in bot/",
            id="missing-scope",
        ),
        pytest.param(
            "oauth_config.scopes.bot",
            _granted_without("app_mentions:read"),
            "manifest.yaml: oauth_config.scopes.bot: no app_mentions:read, which the event "
            "app_mention needs",
            id="event-without-its-scope",
        ),
        pytest.param(
            "oauth_config.scopes.bot",
            _granted_without("commands"),
            "manifest.yaml: oauth_config.scopes.bot: no commands, which slash commands and "
            "shortcuts needs",
            id="commands-without-scope",
        ),
        pytest.param(
            "oauth_config.scopes.bot",
            _SCOPES + _HISTORY[:2],
            "oauth_config.scopes.bot: no mpim:history, which conversations.replies in bot/",
            id="missing-history-scope",
        ),
        pytest.param(
            "oauth_config.scopes.bot",
            _SCOPES + _HISTORY + ["admin"],
            "manifest.yaml: oauth_config.scopes.bot.8: admin is needed by nothing the bot does",
            id="unused-scope",
        ),
        pytest.param(
            "oauth_config.scopes.bot",
            ["commands", "chat:writes", *_SCOPES[2:], *_HISTORY],
            "oauth_config.scopes.bot: no chat:write, which chat.postMessage in bot/",
            id="scope-typo",
        ),
        pytest.param(
            "oauth_config.scopes.bot",
            _SCOPES + _HISTORY + ["chat:write"],
            "oauth_config.scopes.bot.8: chat:write is listed twice",
            id="scope-twice",
        ),
    ],
)
def test_each_check_names_the_path(path: str, value: Any, expected: str) -> None:
    assert expected in _errors(_broken(path, value))


def test_the_home_tab_needs_its_listener_and_nothing_else_interactivity() -> None:
    """Listeners other than these: a Home tab with no app_home_opened listener stays blank;
    with no interactive listener, interactivity may be off; an unknown kind is named."""
    data = _broken("settings.interactivity.is_enabled", False)
    data["settings"]["event_subscriptions"]["bot_events"] = ["app_mention"]
    data["features"].pop("shortcuts")
    seen = [("command", "/srunx"), ("event", {"type": "app_mention"})]
    assert listener_problems(data, seen) == [
        "manifest.yaml: features.app_home.home_tab_enabled: no app_home_opened listener draws it"
    ]
    data["features"]["app_home"]["home_tab_enabled"] = False
    assert listener_problems(data, seen) == []
    assert listener_problems(data, [*seen, ("function", "f")]) == [
        "manifest.yaml: (listeners): app.function(...): teach manifestkit what the manifest "
        "needs for it"
    ]


def test_scope_typo_is_also_unused() -> None:
    data = _broken("oauth_config.scopes.bot", ["commands", "chat:writes", *_SCOPES[2:], *_HISTORY])
    assert "oauth_config.scopes.bot.1: chat:writes is needed by nothing the bot does" in (
        _errors(data)
    )


def test_shortcuts_without_the_commands_scope() -> None:
    data = _broken("features.slash_commands", _DELETE)
    data["oauth_config"]["scopes"]["bot"].remove("commands")
    assert "manifest.yaml: oauth_config.scopes.bot: no commands, which slash commands and " in (
        _errors(data)
    )


def test_the_schema_allows_a_short_hex_color_and_ten_shortcuts() -> None:
    ten = [
        {"name": f"s{i}", "type": "message", "callback_id": f"s{i}", "description": "d"}
        for i in range(10)
    ]
    assert schema_problems(_broken("display_information.background_color", "#abc")) == []
    assert schema_problems(_broken("features.shortcuts", ten)) == []


def test_with_socket_mode_the_request_urls_may_be_left_out() -> None:
    data = load()
    del data["settings"]["event_subscriptions"]["request_url"]
    del data["settings"]["interactivity"]["request_url"]
    del data["features"]["slash_commands"][0]["url"]
    assert problems(data) == []


def test_every_schema_problem_is_reported_one_per_line() -> None:
    data = _broken("display_information.background_color", "blue")
    data["features"]["slash_commands"][0]["command"] = "srunx"
    data["extra"] = 1
    lines = _errors(data).splitlines()
    assert len(lines) == 3
    assert any("display_information.background_color" in line for line in lines)
    assert any("features.slash_commands.0.command" in line for line in lines)
    assert any(line.startswith("manifest.yaml: (top level): Additional") for line in lines)


def test_check_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "other.yaml"
    bad.write_text(yaml.safe_dump(_broken("features.slash_commands.0.command", "srunx")))
    [line] = check(bad)
    assert line.startswith("other.yaml: features.slash_commands.0.command: ")


def test_not_a_mapping() -> None:
    assert _errors(["a", "list"]).startswith(
        "manifest.yaml: (top level): ['a', 'list'] is not of type 'object'"
    )
