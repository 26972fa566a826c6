"""The parts of Slack's app manifest this project uses, as its own small model, with the rules
of Slack's manifest reference (and one of the project's: a Home tab needs app_home_opened)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

BOT_SCOPES = frozenset(
    [
        "app_mentions:read",
        "channels:history",
        "channels:read",
        "chat:write",
        "chat:write.public",
        "commands",
        "groups:history",
        "groups:read",
        "im:history",
        "im:read",
        "im:write",
        "mpim:history",
        "mpim:read",
        "reactions:read",
        "reactions:write",
        "users:read",
        "users:read.email",
        "files:read",
        "files:write",
        "team:read",
        "usergroups:read",
    ]
)
# Each bot event and the scope Slack requires for it (None: no scope needed).
EVENT_SCOPES: dict[str, str | None] = {
    "app_home_opened": None,
    "app_mention": "app_mentions:read",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
    "message.im": "im:history",
    "message.mpim": "mpim:history",
    "reaction_added": "reactions:read",
    "reaction_removed": "reactions:read",
    "member_joined_channel": "channels:read",
    "team_join": "users:read",
    "user_change": "users:read",
}
_COLOR = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_BOT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
_COMMAND = re.compile(r"/[a-z0-9_-]+")


def _https(url: str) -> str:
    if not url.startswith("https://"):
        raise ValueError("must be an https:// URL")
    return url


HttpsUrl = Annotated[str, AfterValidator(_https)]


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DisplayInformation(_Part):
    name: str = Field(min_length=1, max_length=35)
    description: str | None = Field(default=None, max_length=140)
    long_description: str | None = Field(default=None, min_length=175, max_length=4000)
    background_color: str | None = None

    @field_validator("background_color")
    @classmethod
    def _color(cls, v: str | None) -> str | None:
        if v is not None and not _COLOR.fullmatch(v):
            raise ValueError("must be a hex color like #2c2d30")
        return v


class BotUser(_Part):
    display_name: str = Field(min_length=1, max_length=80)
    always_online: bool = False

    @field_validator("display_name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _BOT_NAME.fullmatch(v):
            raise ValueError("use lowercase letters, digits, '.', '_' and '-'")
        return v


class SlashCommand(_Part):
    command: str = Field(max_length=32)
    description: str = Field(min_length=1, max_length=2000)
    usage_hint: str | None = Field(default=None, max_length=1000)
    url: HttpsUrl | None = None
    should_escape: bool = False

    @field_validator("command")
    @classmethod
    def _command(cls, v: str) -> str:
        if not _COMMAND.fullmatch(v):
            raise ValueError("must start with / and be lowercase without spaces")
        return v


class AppHome(_Part):
    home_tab_enabled: bool = False
    messages_tab_enabled: bool = False
    messages_tab_read_only_enabled: bool = False


class Features(_Part):
    app_home: AppHome = Field(default_factory=AppHome)
    bot_user: BotUser | None = None
    slash_commands: list[SlashCommand] = Field(default_factory=list)
    shortcuts: list[dict[str, Any]] = Field(default_factory=list)


class Scopes(_Part):
    bot: list[str] = Field(default_factory=list)
    user: list[str] = Field(default_factory=list)

    @field_validator("bot")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - BOT_SCOPES)
        if unknown:
            raise ValueError(f"unknown bot scope(s): {', '.join(unknown)}")
        return v


class OAuthConfig(_Part):
    scopes: Scopes = Field(default_factory=Scopes)
    redirect_urls: list[str] = Field(default_factory=list)


class EventSubscriptions(_Part):
    request_url: HttpsUrl | None = None
    bot_events: list[str] = Field(default_factory=list)

    @field_validator("bot_events")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        unknown = sorted(set(v) - set(EVENT_SCOPES))
        if unknown:
            raise ValueError(f"unknown bot event(s): {', '.join(unknown)}")
        return v


class Interactivity(_Part):
    is_enabled: bool = False
    request_url: HttpsUrl | None = None


class Settings(_Part):
    event_subscriptions: EventSubscriptions | None = None
    interactivity: Interactivity | None = None
    org_deploy_enabled: bool = False
    socket_mode_enabled: bool = False
    token_rotation_enabled: bool = False


class Manifest(_Part):
    metadata: dict[str, int] | None = Field(default=None, alias="_metadata")
    display_information: DisplayInformation
    features: Features = Field(default_factory=Features)
    oauth_config: OAuthConfig = Field(default_factory=OAuthConfig)
    settings: Settings = Field(default_factory=Settings)

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        scopes = set(self.oauth_config.scopes.bot)
        events = self.settings.event_subscriptions
        bot_events = events.bot_events if events else []
        for event in bot_events:
            need = EVENT_SCOPES[event]
            if need and need not in scopes:
                raise ValueError(f"event {event} needs the bot scope {need}")
        if self.features.slash_commands and "commands" not in scopes:
            raise ValueError("slash commands need the bot scope commands")
        if (self.features.slash_commands or bot_events) and self.features.bot_user is None:
            raise ValueError("features.bot_user is required for a bot with commands or events")
        if self.features.app_home.home_tab_enabled and "app_home_opened" not in bot_events:
            raise ValueError("a Home tab needs the app_home_opened event to be drawn")
        if not self.settings.socket_mode_enabled:
            if events and bot_events and not events.request_url:
                raise ValueError("without Socket Mode, event_subscriptions needs a request_url")
            inter = self.settings.interactivity
            if inter and inter.is_enabled and not inter.request_url:
                raise ValueError("without Socket Mode, interactivity needs a request_url")
            if any(c.url is None for c in self.features.slash_commands):
                raise ValueError("without Socket Mode, every slash command needs a url")
        return self


def _where(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def validate_manifest(data: Any, name: str = "manifest.yaml") -> Manifest:
    if not isinstance(data, dict):
        raise ValueError(f"{name}: (top level): expected a mapping")
    try:
        return Manifest.model_validate(data)
    except ValidationError as e:
        lines = []
        for err in e.errors():
            msg = str(err["msg"]).removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key"
            lines.append(f"{name}: {_where(err['loc'])}: {msg}")
        raise ValueError("\n".join(lines)) from None


def load_manifest(path: Path) -> Manifest:
    return validate_manifest(yaml.safe_load(path.read_text(encoding="utf-8")), path.name)
