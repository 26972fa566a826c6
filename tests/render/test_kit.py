"""Block Kit's building blocks cut to Slack's limits; long lists end in "… and N more"."""

from __future__ import annotations

from bot.render.kit import SECTION_CHARS, code_block, context, fields, fit_lines, section


def test_a_section_is_cut_to_slacks_limit_with_an_ellipsis() -> None:
    assert section("hi") == {"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}
    text = section("x" * 5000)["text"]["text"]
    assert len(text) == SECTION_CHARS and text.endswith("…")


def test_fields_are_at_most_ten_with_their_values_escaped() -> None:
    block = fields([(f"f{i}", "<!channel>") for i in range(12)])
    assert len(block["fields"]) == 10
    assert block["fields"][0]["text"] == "*f0*\n&lt;!channel&gt;"


def test_a_context_line_is_cut_to_the_section_limit() -> None:
    [element] = context("y" * 4000)["elements"]
    assert len(element["text"]) == SECTION_CHARS


def test_lines_that_do_not_fit_are_counted_not_cut_midway() -> None:
    lines = [f"job {i:03}" for i in range(100)]
    kept = fit_lines(lines, 240, "jobs")
    assert kept[-1] == f"… and {100 - (len(kept) - 1)} jobs"
    assert kept[:-1] == lines[: len(kept) - 1]
    assert fit_lines(["a", "b"], 240) == ["a", "b"]


def test_a_code_block_keeps_the_head_or_the_tail_of_long_output() -> None:
    lines = [f"line {i:05}" for i in range(1000)]
    head = code_block("\n".join(lines))["text"]["text"]
    assert head.startswith("```line 00000\n") and "more lines```" in head
    tail = code_block("\n".join(lines), keep="tail")["text"]["text"]
    assert tail.startswith("```… and the first ") and tail.endswith("line 00999```")
    assert code_block("")["text"]["text"] == "```(empty)```"
