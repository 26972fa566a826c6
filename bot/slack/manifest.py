"""The parts of Slack's app manifest this project uses, as its own small model.

The rules follow Slack's app manifest reference (field lengths and patterns, known bot
scopes and events, the scope each event needs, the `commands` scope for slash commands and
shortcuts, request URLs when Socket Mode is off), plus
rules of this project: a Home tab needs the `app_home_opened` event, or it stays blank;
shortcuts need interactivity enabled, since Slack sends them as interactive requests; and a
shortcut's callback_id names one shortcut only, since the bot's listeners match on it.

Only what manifest.yaml uses is modelled, and unknown keys are errors: a key this model does
not know is either a typo or a Slack feature the bot does not handle yet (add it here first).
`load_manifest` reports every problem as one plain line "manifest.yaml: <path>: <message>".
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    ValidationError,
    model_validator,
)

BOT_SCOPES = frozenset(
    {
        "app_mentions:read",
        "channels:history",
        "channels:join",
        "channels:read",
        "chat:write",
        "chat:write.customize",
        "chat:write.public",
        "commands",
        "files:read",
        "files:write",
        "groups:history",
        "groups:read",
        "im:history",
        "im:read",
        "im:write",
        "mpim:history",
        "mpim:read",
        "mpim:write",
        "reactions:read",
        "reactions:write",
        "team:read",
        "usergroups:read",
        "users:read",
        "users:read.email",
    }
)

# Each bot event and the bot scopes that let an app receive it: any one of them is enough;
# an empty set means the event needs no scope.
EVENT_SCOPES: dict[str, frozenset[str]] = {
    "app_home_opened": frozenset(),
    "app_mention": frozenset({"app_mentions:read"}),
    "member_joined_channel": frozenset({"channels:read", "groups:read"}),
    "message.channels": frozenset({"channels:history"}),
    "message.groups": frozenset({"groups:history"}),
    "message.im": frozenset({"im:history"}),
    "message.mpim": frozenset({"mpim:history"}),
    "reaction_added": frozenset({"reactions:read"}),
    "reaction_removed": frozenset({"reactions:read"}),
    "team_join": frozenset({"users:read"}),
    "user_change": frozenset({"users:read"}),
}

_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_BOT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")


class ManifestRuleError(ValueError):
    """Rules that span several fields, each with the dotted path it is reported at."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{path}: {msg}" for path, msg in problems))


def _suggest(value: str, known: frozenset[str] | set[str]) -> str:
    close = difflib.get_close_matches(value, sorted(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _https(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "https" or not parts.hostname or any(c.isspace() for c in url):
        raise ValueError("must be an https:// URL")
    return url


def _bot_scope(scope: str) -> str:
    if scope not in BOT_SCOPES:
        raise ValueError(f"unknown bot scope {scope!r}{_suggest(scope, BOT_SCOPES)}")
    return scope


def _bot_event(event: str) -> str:
    if event not in EVENT_SCOPES:
        raise ValueError(f"unknown bot event {event!r}{_suggest(event, set(EVENT_SCOPES))}")
    return event


def _color(value: str) -> str:
    if not _COLOR.fullmatch(value):
        raise ValueError("must be a hex color like #2c2d30")
    return value


def _bot_name(value: str) -> str:
    if not _BOT_NAME.fullmatch(value):
        raise ValueError(
            "must start with a lowercase letter or digit and use only a-z, 0-9, '.', '_', '-'"
        )
    return value


def _command(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must start with /")
    if len(value) == 1:
        raise ValueError("needs a name after /")
    if any(c.isspace() for c in value):
        raise ValueError("must not contain spaces")
    if value != value.lower():
        raise ValueError("must be lowercase")
    return value


def _unique(values: list[str]) -> list[str]:
    twice = sorted({v for v in values if values.count(v) > 1})
    if twice:
        raise ValueError(f"listed more than once: {', '.join(twice)}")
    return values


HttpsUrl = Annotated[str, AfterValidator(_https)]
BotScope = Annotated[str, AfterValidator(_bot_scope)]
BotEvent = Annotated[str, AfterValidator(_bot_event)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Metadata(_Part):
    major_version: StrictInt = Field(ge=1)
    minor_version: StrictInt = Field(default=0, ge=0)


class DisplayInformation(_Part):
    name: str = Field(min_length=1, max_length=35)
    description: str | None = Field(default=None, max_length=140)
    long_description: str | None = Field(default=None, min_length=175, max_length=4000)
    background_color: Annotated[str, AfterValidator(_color)] | None = None


class BotUser(_Part):
    display_name: Annotated[str, AfterValidator(_bot_name)] = Field(min_length=1, max_length=80)
    always_online: StrictBool = False


class SlashCommand(_Part):
    command: Annotated[str, AfterValidator(_command)] = Field(max_length=32)
    description: str = Field(min_length=1, max_length=2000)
    usage_hint: str | None = Field(default=None, max_length=1000)
    url: HttpsUrl | None = None
    should_escape: StrictBool = False


class Shortcut(_Part):
    """A global shortcut (the shortcuts menu) or a message shortcut (a message's `...` menu)."""

    name: str = Field(min_length=1, max_length=24)
    type: Literal["message", "global"]
    callback_id: str = Field(min_length=1, max_length=255)
    description: str = Field(min_length=1, max_length=150)


class AppHome(_Part):
    home_tab_enabled: StrictBool = False
    messages_tab_enabled: StrictBool = False
    messages_tab_read_only_enabled: StrictBool = False


class Features(_Part):
    app_home: AppHome = Field(default_factory=AppHome)
    bot_user: BotUser | None = None
    # Slack: 1 to 10 when the key is given; leaving it out means no shortcuts.
    shortcuts: list[Shortcut] = Field(default_factory=list, min_length=1, max_length=10)
    slash_commands: list[SlashCommand] = Field(default_factory=list)


class Scopes(_Part):
    bot: Annotated[list[BotScope], AfterValidator(_unique)] = Field(default_factory=list)


class OAuthConfig(_Part):
    scopes: Scopes = Field(default_factory=Scopes)


class EventSubscriptions(_Part):
    request_url: HttpsUrl | None = None
    bot_events: Annotated[list[BotEvent], AfterValidator(_unique)] = Field(default_factory=list)


class Interactivity(_Part):
    is_enabled: StrictBool
    request_url: HttpsUrl | None = None


class Settings(_Part):
    event_subscriptions: EventSubscriptions | None = None
    interactivity: Interactivity | None = None
    org_deploy_enabled: StrictBool = False
    socket_mode_enabled: StrictBool = False
    token_rotation_enabled: StrictBool = False


class Manifest(_Part):
    metadata: Metadata | None = Field(default=None, alias="_metadata")
    display_information: DisplayInformation
    features: Features = Field(default_factory=Features)
    oauth_config: OAuthConfig = Field(default_factory=OAuthConfig)
    settings: Settings = Field(default_factory=Settings)

    @property
    def bot_events(self) -> list[str]:
        events = self.settings.event_subscriptions
        return list(events.bot_events) if events else []

    @model_validator(mode="after")
    def _rules(self) -> Manifest:
        problems = _cross_field_problems(self)
        if problems:
            raise ManifestRuleError(problems)
        return self


def _cross_field_problems(m: Manifest) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    scopes = set(m.oauth_config.scopes.bot)
    commands = m.features.slash_commands
    bot_events = m.bot_events

    for i, event in enumerate(bot_events):
        need = EVENT_SCOPES[event]
        if need and not need & scopes:
            problems.append(
                (
                    f"settings.event_subscriptions.bot_events.{i}",
                    f"{event} needs the bot scope {' or '.join(sorted(need))} "
                    "in oauth_config.scopes.bot",
                )
            )

    shortcuts = m.features.shortcuts
    if (commands or shortcuts) and "commands" not in scopes:
        what = " and ".join(
            w for w, used in (("slash commands", commands), ("shortcuts", shortcuts)) if used
        )
        problems.append(("oauth_config.scopes.bot", f"{what} need the bot scope commands"))
    seen: set[str] = set()
    for i, cmd in enumerate(commands):
        if cmd.command in seen:
            problems.append(
                (f"features.slash_commands.{i}.command", f"{cmd.command} is defined twice")
            )
        seen.add(cmd.command)

    callback_ids: set[str] = set()
    for i, shortcut in enumerate(shortcuts):
        if shortcut.callback_id in callback_ids:
            problems.append(
                (
                    f"features.shortcuts.{i}.callback_id",
                    f"{shortcut.callback_id} is used by another shortcut (this project's rule)",
                )
            )
        callback_ids.add(shortcut.callback_id)
    inter = m.settings.interactivity
    if shortcuts and (inter is None or not inter.is_enabled):
        problems.append(
            (
                "features.shortcuts",
                "shortcuts need settings.interactivity.is_enabled: true (this project's rule)",
            )
        )

    if scopes and m.features.bot_user is None:
        problems.append(("features.bot_user", "required when the app asks for bot scopes"))

    if m.features.app_home.home_tab_enabled and "app_home_opened" not in bot_events:
        problems.append(
            (
                "features.app_home.home_tab_enabled",
                "a Home tab needs the app_home_opened event in "
                "settings.event_subscriptions.bot_events (this project's rule)",
            )
        )

    if not m.settings.socket_mode_enabled:
        events = m.settings.event_subscriptions
        if events is not None and events.bot_events and events.request_url is None:
            problems.append(
                (
                    "settings.event_subscriptions.request_url",
                    "required when socket_mode_enabled is false",
                )
            )
        if inter is not None and inter.is_enabled and inter.request_url is None:
            problems.append(
                ("settings.interactivity.request_url", "required when socket_mode_enabled is false")
            )
        for i, cmd in enumerate(commands):
            if cmd.url is None:
                problems.append(
                    (
                        f"features.slash_commands.{i}.url",
                        "required when socket_mode_enabled is false",
                    )
                )
    return problems


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def validate_manifest(data: Any, name: str = "manifest.yaml") -> Manifest:
    """The manifest from parsed YAML; a ValueError lists every problem, one per line."""
    if not isinstance(data, dict):
        raise ValueError(f"{name}: (top level): expected a mapping of manifest keys")
    try:
        return Manifest.model_validate(data)
    except ValidationError as e:
        lines: list[str] = []
        for err in e.errors(include_url=False):
            cause = err.get("ctx", {}).get("error")
            if isinstance(cause, ManifestRuleError):
                lines.extend(f"{name}: {path}: {msg}" for path, msg in cause.problems)
                continue
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key (not part of this project's manifest model)"
            elif err["type"] == "missing":
                msg = "required"
            lines.append(f"{name}: {_where(err['loc'])}: {msg}")
        raise ValueError("\n".join(lines)) from None


def load_manifest(path: str | Path) -> Manifest:
    """Read and check a manifest file; errors name the file and the dotted path."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        detail = " ".join(str(e).split())
        raise ValueError(f"{path.name}: (top level): not valid YAML: {detail}") from None
    return validate_manifest(data, path.name)
