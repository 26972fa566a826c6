"""The history index: candidates for a hash, newest bucket first; dropping whole buckets."""

from __future__ import annotations

from bot.store.hashindex import HashIndex


def test_finds_every_bucket_of_a_hash_newest_first() -> None:
    index = HashIndex()
    index.extend([(5, 1), (3, 1), (5, 7)])
    index.add(5, 4)
    index.add(-2, 9)
    assert index.find(5) == [7, 4, 1]
    assert index.find(-2) == [9]
    assert index.find(4) == []
    index.drop({7, 9})
    assert index.find(5) == [4, 1]
    assert index.find(-2) == []
    assert len(index) == 3
