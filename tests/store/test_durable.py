"""Files rendered from memory: concurrent saves of one file cost one write, a batch writes
each file once at its end (lower orders first), and a write `now` does not wait for it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.store import durable
from bot.store.durable import DurableFile, batch, commit


@pytest.fixture
def written(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """Every file write, in order: (name, text)."""
    log: list[tuple[str, str]] = []

    def write(path: Path, text: str) -> None:
        log.append((path.name, text))
        path.write_text(text)

    monkeypatch.setattr(durable, "write_atomic", write)
    return log


def _file(tmp_path: Path, name: str, content: list[str], order: int = 0) -> DurableFile:
    return DurableFile(tmp_path / name, lambda: ",".join(content), order)


async def test_concurrent_saves_of_one_file_write_the_newest_once_or_twice(
    tmp_path: Path, written: list[tuple[str, str]]
) -> None:
    content: list[str] = []
    f = _file(tmp_path, "live.json", content)
    for i in range(5):
        content.append(str(i))
        f.changed()
    await asyncio.gather(*(commit([f]) for _ in range(5)))
    assert written == [("live.json", "0,1,2,3,4")]
    await commit([f])  # nothing changed since: nothing written
    assert len(written) == 1 and (tmp_path / "live.json").read_text() == "0,1,2,3,4"


async def test_a_batch_writes_each_file_once_at_its_end_history_first(
    tmp_path: Path, written: list[tuple[str, str]]
) -> None:
    live, history = _file(tmp_path, "live", ["a"], 1), _file(tmp_path, "hist", ["b"], 0)
    async with batch():
        for f in (live, history, live):
            f.changed()
            await commit([f])
        async with batch():  # nested: the outer batch writes
            live.changed()
            await commit([live])
        assert written == []
    assert written == [("hist", "b"), ("live", "a")]


async def test_a_write_now_inside_a_batch_is_durable_at_once_after_what_it_depends_on(
    tmp_path: Path, written: list[tuple[str, str]]
) -> None:
    history, live, other = (_file(tmp_path, n, [n], o) for n, o in (("h", 0), ("l", 1), ("o", 1)))
    async with batch():
        for f in (history, other):
            f.changed()
            await commit([f])
        live.changed()
        await commit([live], now=True)  # an intent before its post
        assert [name for name, _ in written] == ["h", "l"]  # history first; `o` waits
    assert [name for name, _ in written] == ["h", "l", "o"]


async def test_on_written_runs_once_the_newest_content_is_on_disk(
    tmp_path: Path, written: list[tuple[str, str]]
) -> None:
    calls: list[int] = []
    f = DurableFile(tmp_path / "x", lambda: "x", on_written=lambda: calls.append(1))
    f.changed()
    await f.write()
    assert calls == [1] and len(written) == 1
