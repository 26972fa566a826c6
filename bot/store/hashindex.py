"""Where history records are, without keeping them in memory: value hash -> bucket number.

One sorted array of 64-bit integers, each a 40-bit hash above a 23-bit bucket ordinal: 8
bytes a record (0.8 MB for 100k), and no Python object per record, even while loading. A hash
names candidate buckets only; the caller checks the records it finds there (a false match in
40 bits is one in a trillion per record)."""

from __future__ import annotations

from array import array
from bisect import bisect_left, insort
from collections.abc import Iterable

_ORD_BITS = 23
_HASH_MASK = (1 << 40) - 1


class HashIndex:
    def __init__(self) -> None:
        self._entries = array("q")
        self._ordinal: dict[int, int] = {}  # bucket -> ordinal
        self._bucket: list[int] = []  # ordinal -> bucket

    def __len__(self) -> int:
        return len(self._entries)

    def _entry(self, value_hash: int, bucket: int) -> int:
        ordinal = self._ordinal.get(bucket)
        if ordinal is None:
            ordinal = self._ordinal[bucket] = len(self._bucket)
            self._bucket.append(bucket)
        return ((value_hash & _HASH_MASK) << _ORD_BITS) | ordinal

    def add(self, value_hash: int, bucket: int) -> None:
        insort(self._entries, self._entry(value_hash, bucket))

    def extend(self, pairs: Iterable[tuple[int, int]], sort: bool = True) -> None:
        """Many at once (loading): one sort, after the last batch, instead of an insertion
        each; find() needs the index sorted."""
        self._entries.extend(self._entry(h, b) for h, b in pairs)
        if sort:
            self._entries = array("q", sorted(self._entries))

    def find(self, value_hash: int) -> list[int]:
        """The buckets that may hold the value, newest first."""
        lo = (value_hash & _HASH_MASK) << _ORD_BITS
        i, j = bisect_left(self._entries, lo), bisect_left(self._entries, lo + (1 << _ORD_BITS))
        mask = (1 << _ORD_BITS) - 1
        return sorted({self._bucket[e & mask] for e in self._entries[i:j]}, reverse=True)

    def drop(self, buckets: set[int]) -> None:
        gone = {self._ordinal[b] for b in buckets if b in self._ordinal}
        mask = (1 << _ORD_BITS) - 1
        self._entries = array("q", (e for e in self._entries if e & mask not in gone))
