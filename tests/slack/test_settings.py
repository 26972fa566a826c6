"""Slack tokens come from the environment, checked for their kind."""

from __future__ import annotations

import pytest

from bot.errors import ConfigError
from bot.slack.settings import SlackSettings


def test_settings_need_the_right_tokens() -> None:
    ok = SlackSettings.from_env(
        http=False, env={"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}
    )
    assert ok.api_url is None and "xoxb" not in repr(ok)
    http = SlackSettings.from_env(
        http=True,
        env={
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "s",
            "SLACK_API_URL": "http://127.0.0.1:9/api",
        },
    )
    assert http.api_url == "http://127.0.0.1:9/api/"
    bad = [
        ({}, False, "SLACK_BOT_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "xapp-1"}, False, "should start with `xoxb-`"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, False, "SLACK_APP_TOKEN is not set"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, False, "`xapp-`"),
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, True, "SLACK_SIGNING_SECRET is not set"),
        (
            {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s", "SLACK_API_URL": "ftp://x"},
            True,
            "SLACK_API_URL",
        ),
    ]
    for env, http_mode, msg in bad:
        with pytest.raises(ConfigError, match=msg):
            SlackSettings.from_env(http=http_mode, env=env)
