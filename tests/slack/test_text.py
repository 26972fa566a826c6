from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bot.errors import ConfigError
from bot.slack.dedup import RecentIds
from bot.slack.settings import SlackSettings
from bot.slack.text import code, command_text, escape


@pytest.mark.parametrize(
    ("raw", "mention", "expected"),
    [
        ("<@UBOT> status 4121", True, "status 4121"),
        ("<@UBOT|srunx>: list", True, "list"),
        (
            "submit -- python a.py &gt; out.txt &amp;&amp; echo &lt;ok&gt;",
            False,
            "submit -- python a.py > out.txt && echo <ok>",
        ),
        (
            "submit -- curl <https://example.org/x?a=1|example.org/x>",
            False,
            "submit -- curl https://example.org/x?a=1",
        ),
        ("submit -- mail <mailto:a@b.org|a@b.org>", False, "submit -- mail a@b.org"),
        ("status 1 <@U999>", True, "status 1 <@U999>"),
    ],
)
def test_command_text(raw: str, mention: bool, expected: str) -> None:
    assert command_text(raw, strip_mention=mention) == expected


def test_escape_and_code() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert code("a```b") == "```a`\u200b``b```"


def test_recent_ids_once_within_ttl() -> None:
    seen = RecentIds(ttl=60, max_size=3)
    assert seen.first_time("a") and not seen.first_time("a")
    for k in "bcd":
        assert seen.first_time(k)
    assert seen.first_time("a")  # evicted by size


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


def test_channel_links_stay_links_but_nothing_else_does() -> None:
    assert escape("into <#C0HPC> now") == "into <#C0HPC> now"
    assert escape("<#C0HPC|hpc> <@U1> <!here>") == "&lt;#C0HPC|hpc&gt; &lt;@U1&gt; &lt;!here&gt;"


_LOGS = """
import logging
from slack_bolt.async_app import AsyncApp
from slack_bolt.logger import get_bolt_logger
from bot.cli import _setup_logging

_setup_logging("INFO")
# Bolt sets its own logger to the root level when an app is built (DEBUG here).
bolt = get_bolt_logger(AsyncApp)
bolt.debug("on_message invoked: (message: {'payload': '--env TOKEN=sekrit1'})")
logging.getLogger("slack_sdk.socket_mode.aiohttp").debug("Sending a message: TOKEN=sekrit2")
logging.getLogger("slack_sdk.web.async_client").info("Going to retry the same request")
logging.getLogger("bot.core.monitor").debug("the bot's own debug line")
"""


def test_debug_logging_never_logs_slack_payloads() -> None:
    env = {**os.environ, "SRUNX_BOT_LOG_LEVEL": "debug"}
    res = subprocess.run(
        [sys.executable, "-c", _LOGS], env=env, capture_output=True, text=True, check=True
    )
    assert "sekrit" not in res.stderr
    assert "Going to retry the same request" in res.stderr  # INFO from the libraries stays
    assert "the bot's own debug line" in res.stderr
