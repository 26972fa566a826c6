"""Plain-text tables, padded to their widest cell and stripped at the end of each line."""

from __future__ import annotations

from bot.render.columns import table


def test_table_pads_and_strips() -> None:
    assert table(["A", "BB"], [["xyz", ""], ["1", "2"]]) == "A    BB\nxyz\n1    2"


def test_table_without_rows() -> None:
    assert table(["NAME", "WHERE"], []) == "NAME  WHERE"
