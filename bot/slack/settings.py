"""Slack credentials, from the environment only. SecretStr keeps them out of reprs and logs."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, SecretStr

from bot.errors import ConfigError

_WHERE = {
    "SLACK_BOT_TOKEN": "the Bot User OAuth Token (xoxb-...) from your app's "
    "OAuth & Permissions page",
    "SLACK_APP_TOKEN": "an App-Level Token (xapp-...) with connections:write from Basic "
    "Information > App-Level Tokens",
    "SLACK_SIGNING_SECRET": "the Signing Secret from Basic Information > App Credentials",
}


class SlackSettings(BaseModel):
    bot_token: SecretStr
    app_token: SecretStr | None = None
    signing_secret: SecretStr | None = None
    api_url: str | None = None

    @classmethod
    def from_env(cls, *, http: bool, env: Mapping[str, str] | None = None) -> SlackSettings:
        env = os.environ if env is None else env

        def need(name: str, prefix: str | None = None) -> SecretStr:
            value = env.get(name, "").strip()
            if not value:
                raise ConfigError(f"{name} is not set; copy {_WHERE[name]}")
            if prefix and not value.startswith(prefix):
                raise ConfigError(f"{name} should start with `{prefix}`; it must be {_WHERE[name]}")
            return SecretStr(value)

        bot = need("SLACK_BOT_TOKEN", "xoxb-")
        app = None if http else need("SLACK_APP_TOKEN", "xapp-")
        secret = need("SLACK_SIGNING_SECRET") if http else None
        api_url = env.get("SLACK_API_URL", "").strip() or None
        if api_url is not None:
            if not api_url.startswith(("http://", "https://")):
                raise ConfigError(f"SLACK_API_URL must be an http(s) URL, not `{api_url}`")
            api_url = api_url if api_url.endswith("/") else api_url + "/"
        return cls(bot_token=bot, app_token=app, signing_secret=secret, api_url=api_url)
