"""Slack mrkdwn: nothing in user or Slurm text pings or breaks formatting."""

from __future__ import annotations

from bot.render.mrkdwn import code, escape


def test_escape_and_code() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert code("a```b") == "```a`\u200b``b```"


def test_channel_links_stay_links_but_nothing_else_does() -> None:
    assert escape("into <#C0HPC> now") == "into <#C0HPC> now"
    assert escape("<#C0HPC|hpc> <@U1> <!here>") == "&lt;#C0HPC|hpc&gt; &lt;@U1&gt; &lt;!here&gt;"
