"""Live records in memory: spread over shards by key, indexes kept up to date on every change,
each shard rendered as a file TinyDB can open."""

from __future__ import annotations

import json

from bot.store.backend import Spec
from bot.store.live import Live, values

SPEC = Spec("watches", indexes=(("kind", "cluster"),), shards=4)


def _watch(i: int, kind: str = "mine", cluster: str = "lab") -> dict[str, object]:
    return {"id": f"w{i}", "kind": kind, "cluster": cluster}


def test_a_record_lives_in_one_shard_found_by_its_index() -> None:
    live = Live(SPEC)
    shards = {live.put(_watch(i)) for i in range(20)}
    assert len(shards) > 1 and shards <= set(range(4))
    assert live.shard_of("w3") == live.put(_watch(3))  # the same key, the same shard
    assert live.keys(("kind", "cluster"), ("mine", "lab")) == sorted(f"w{i}" for i in range(20))


def test_a_change_or_removal_moves_the_record_in_its_index() -> None:
    live = Live(SPEC)
    live.put(_watch(1))
    live.put(_watch(1, kind="gpus"))
    assert live.keys(("kind", "cluster"), ("mine", "lab")) == []
    assert live.keys(("kind", "cluster"), ("gpus", "lab")) == ["w1"]
    assert live.pop("w1") == live.shard_of("w1") and live.pop("w1") is None
    assert live.keys(("kind", "cluster"), ("gpus", "lab")) == [] and live.get("w1") is None


def test_a_shard_renders_as_a_tinydb_table() -> None:
    live = Live(Spec("watches", shards=1))
    live.put(_watch(1))
    live.put(_watch(2))
    table = json.loads(live.render(0))["watches"]
    assert table == {"1": _watch(1), "2": _watch(2)}


def test_values_reads_the_fields_in_order() -> None:
    assert values({"a": 1, "b": 2}, ("b", "a", "c")) == (2, 1, None)
