"""Finished records, out of memory: one file per hour they finished in (split when an hour
holds many), found through hash indexes, a few recently used buckets cached. Pruning deletes
whole hours; nothing ever rewrites an old bucket."""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from pathlib import Path
from typing import Any

from bot.store.atomic import clear_stale, read_json
from bot.store.backend import Doc, Fields, Spec
from bot.store.hashindex import HashIndex
from bot.store.live import dumps, table_text, values

HOUR = 3600
BUCKET_CAP = 200  # records in one file: bounds the rewrite of the open bucket
PARTS = 1000  # bucket number = hour * PARTS + part
CACHED = 8
_NAME = re.compile(r"(\d+)\.(\d+)\.json")


class History:
    def __init__(self, spec: Spec, folder: Path) -> None:
        self.spec = spec
        self.folder = folder
        self.counts: dict[int, int] = {}  # bucket -> records
        self._index = {f: HashIndex() for f in ((spec.key,), *spec.unique)}
        self._cache: OrderedDict[int, list[Doc]] = OrderedDict()
        self._pinned: set[int] = set()  # holding records not written yet: never evicted

    def path(self, bucket: int) -> Path:
        return self.folder / f"{bucket // PARTS}.{bucket % PARTS}.json"

    def load(self) -> None:
        clear_stale(self.folder)
        for path in self.folder.glob("*.json"):
            m = _NAME.fullmatch(path.name)
            if m is None:
                continue
            bucket = int(m[1]) * PARTS + int(m[2])
            docs = self._read(bucket)
            self.counts[bucket] = len(docs)
            for fields, index in self._index.items():
                index.extend(((hash(values(d, fields)), bucket) for d in docs), sort=False)
        for index in self._index.values():
            index.extend((), sort=True)

    def add(self, doc: Doc, at: float) -> int:
        """File `doc` under the hour `at` falls in; returns the bucket to write."""
        bucket = int(at // HOUR) * PARTS
        while self.counts.get(bucket, 0) >= BUCKET_CAP:
            bucket += 1
        self.rows(bucket).append(doc)
        self.counts[bucket] = self.counts.get(bucket, 0) + 1
        self._pinned.add(bucket)
        for fields, index in self._index.items():
            index.add(hash(values(doc, fields)), bucket)
        return bucket

    def written(self, bucket: int) -> None:
        self._pinned.discard(bucket)

    def find(self, fields: Fields, match: tuple[Any, ...]) -> Doc | None:
        """The newest record with these values."""
        for bucket in self._index[fields].find(hash(match)):
            for doc in reversed(self.rows(bucket)):
                if values(doc, fields) == match:
                    found: Doc = json.loads(dumps(doc))  # a copy: the caller may change it
                    return found
        return None

    def rows(self, bucket: int) -> list[Doc]:
        rows = self._cache.get(bucket)
        if rows is None:
            rows = self._read(bucket)
            self._cache[bucket] = rows
            for old in [b for b in self._cache if b not in self._pinned][: -CACHED or None]:
                del self._cache[old]
        self._cache.move_to_end(bucket)
        return rows

    def render(self, bucket: int) -> str:
        return table_text(self.spec.name, [dumps(doc) for doc in self.rows(bucket)])

    def expired(self, before: float) -> list[int]:
        """Buckets whose whole hour lies before `before`."""
        cut = int(before // HOUR)
        return [b for b in self.counts if b // PARTS < cut and b not in self._pinned]

    def forget(self, buckets: list[int]) -> int:
        """Drop the buckets from memory (their files are deleted by the caller)."""
        gone = set(buckets)
        for index in self._index.values():
            index.drop(gone)
        for b in gone:
            self._cache.pop(b, None)
        return sum(self.counts.pop(b, 0) for b in gone)

    def _read(self, bucket: int) -> list[Doc]:
        data = read_json(self.path(bucket)) or {}
        return list(data.get(self.spec.name, {}).values())
