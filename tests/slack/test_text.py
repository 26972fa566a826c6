from __future__ import annotations

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
