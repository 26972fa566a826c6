"""Slack's message text back to the text the command grammar reads."""

from __future__ import annotations

import pytest

from bot.slack.incoming import command_text


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
