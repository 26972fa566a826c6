"""A summary read in parts: a part Slurm did not answer is named, never shown as empty."""

from __future__ import annotations

import pytest

from bot.core.partial import read_part, skipped
from bot.errors import SlurmError


async def _answer() -> list[str]:
    return ["gpu"]


async def _refuse() -> list[str]:
    raise SlurmError("slurmctld is down")


async def _crash() -> list[str]:
    raise RuntimeError("a bug")


async def test_a_part_that_answers_is_returned_and_notes_nothing() -> None:
    problems: list[str] = []
    assert await read_part("partitions", _answer(), problems) == ["gpu"]
    assert problems == []


async def test_a_part_slurm_refused_is_none_with_its_reason_named() -> None:
    problems: list[str] = []
    assert await read_part("queue", _refuse(), problems) is None
    assert problems == ["queue: slurmctld is down"]


async def test_a_bug_is_not_hidden_as_a_missing_part() -> None:
    with pytest.raises(RuntimeError):
        await read_part("queue", _crash(), [])


async def test_a_part_not_asked_for_is_none_and_no_problem() -> None:
    problems: list[str] = []
    await read_part("queue", skipped(), problems)  # reads nothing
    assert problems == []
