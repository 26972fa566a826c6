"""Finished records by the hour they finished in: the newest found by key or a unique index,
busy hours split into buckets, whole hours expired and forgotten, all found again on load."""

from __future__ import annotations

from pathlib import Path

from bot.store import history as h
from bot.store.atomic import write_atomic
from bot.store.backend import Spec
from bot.store.history import HOUR, History

SPEC = Spec("threads", key="key", unique=(("channel", "thread_ts"),), history=True)


def _thread(job: int, state: str = "COMPLETED") -> dict[str, object]:
    return {"key": f"lab:{job}", "channel": "C1", "thread_ts": f"{job}.0", "state": state}


def _written(hist: History, buckets: set[int]) -> None:
    for b in buckets:
        write_atomic(hist.path(b), hist.render(b))
        hist.written(b)


def test_the_newest_record_is_found_by_key_or_thread(tmp_path: Path) -> None:
    hist = History(SPEC, tmp_path)
    hist.add(_thread(1, "FAILED"), at=10 * HOUR)
    hist.add(_thread(1), at=11 * HOUR + 5)
    assert hist.find(("key",), ("lab:1",)) == _thread(1)
    assert hist.find(("channel", "thread_ts"), ("C1", "1.0")) == _thread(1)
    assert hist.find(("key",), ("lab:2",)) is None


def test_a_busy_hour_is_split_and_whole_hours_expire(tmp_path: Path) -> None:
    hist = History(SPEC, tmp_path)
    buckets = {hist.add(_thread(i), at=5 * HOUR) for i in range(h.BUCKET_CAP + 1)}
    assert len(buckets) == 2
    assert hist.expired(6 * HOUR) == []  # not written yet: never dropped
    _written(hist, buckets)
    assert hist.expired(5 * HOUR + 10) == []  # its hour has not wholly passed
    assert sorted(hist.expired(6 * HOUR)) == sorted(buckets)
    assert hist.forget(hist.expired(6 * HOUR)) == h.BUCKET_CAP + 1
    assert hist.find(("key",), ("lab:0",)) is None


def test_the_files_are_found_again_on_load(tmp_path: Path) -> None:
    hist = History(SPEC, tmp_path)
    _written(hist, {hist.add(_thread(i), at=i * HOUR) for i in range(3)})
    again = History(SPEC, tmp_path)
    again.load()
    assert sum(again.counts.values()) == 3
    assert again.find(("channel", "thread_ts"), ("C1", "2.0")) == _thread(2)
