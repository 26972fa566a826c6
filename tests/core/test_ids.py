"""Watch and report ids: long enough not to collide, and checked unique when stored."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.core import ids
from bot.core.records import Watch
from bot.core.reports.store import ReportStore
from bot.core.schedules import ReportSchedule
from bot.core.watches.store import WatchStore
from bot.store.port import State
from bot.store.state import open_state


def _forced(monkeypatch: pytest.MonkeyPatch, digits: list[str]) -> None:
    """Random hex digits that come out as given: the first two ids collide."""
    it: Iterator[str] = iter(digits)
    monkeypatch.setattr(ids, "token_hex", lambda n: next(it))


def _watch() -> Watch:
    return Watch(kind="mine", user_id="U1", account="alice", cluster="lab", channel="C1")


def _report() -> ReportSchedule:
    return ReportSchedule(cluster="lab", channel="C1", user_id="U1", every="1h", interval=3600)


@pytest.fixture(params=["files", "memory"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> State:
    return open_state(tmp_path / "state" if request.param == "files" else None)


def test_ids_are_twelve_hex_digits() -> None:
    assert re.fullmatch(r"w[0-9a-f]{12}", _watch().id)
    assert re.fullmatch(r"r[0-9a-f]{12}", _report().id)


def test_many_ids_are_distinct() -> None:
    # With 4 hex digits 5000 ids collide almost surely (the birthday bound is ~300).
    assert len({_watch().id for _ in range(5000)}) == 5000
    assert len({_report().id for _ in range(5000)}) == 5000


async def _add_watch(store: State) -> list[str]:
    watches = WatchStore(store)
    added = [(await watches.add_watch(_watch())).id for _ in range(2)]
    return added + sorted(w.id for w in await watches.watches())


async def _add_report(store: State) -> list[str]:
    reports = ReportStore(store)
    added = [(await reports.add(_report())).id for _ in range(2)]
    return added + sorted(r.id for r in await reports.all())


@pytest.mark.parametrize(
    ("add", "prefix"), [(_add_watch, "w"), (_add_report, "r")], ids=["watch", "report"]
)
async def test_a_colliding_id_is_replaced_on_insert(
    store: State,
    monkeypatch: pytest.MonkeyPatch,
    add: Callable[[State], Awaitable[list[str]]],
    prefix: str,
) -> None:
    _forced(monkeypatch, ["a" * 12, "a" * 12, "b" * 12])
    first, second = prefix + "a" * 12, prefix + "b" * 12
    # Both inserts return their final ids, and both are stored under them.
    assert await add(store) == [first, second, first, second]
