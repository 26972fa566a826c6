"""The single state.json of earlier versions is imported once, then set aside."""

from __future__ import annotations

import json
from pathlib import Path

from bot.core.prefs import Prefs
from bot.core.reports.store import ReportStore
from bot.core.watches.store import WatchStore
from bot.store.state import open_state


def _old_thread(job: str, done: bool) -> dict[str, object]:
    """A job thread as the old WatchStore wrote it (JobThread's fields plus its key)."""
    return {
        "cluster": "lab",
        "job_id": job,
        "account": "alice",
        "user_id": "U1",
        "channel": "C1",
        "card_ts": f"1700000000.{job}",
        "thread_ts": f"1700000000.{job}",
        "name": "train",
        "state": "COMPLETED" if done else "RUNNING",
        "seq": 2 if done else 1,
        "in_flight": None,
        "time_warned": False,
        "broadcast": False,
        "done": done,
        "tasks": {},
        "key": f"lab:{job}",
    }


OLD = {  # TinyDB's JSON: table -> doc id -> document
    "threads": {"1": _old_thread("41", done=False), "2": _old_thread("42", done=True)},
    "watches": {
        "1": {
            "id": "wabcdef012345",
            "kind": "mine",
            "user_id": "U1",
            "account": "alice",
            "cluster": "lab",
            "channel": "C1",
            "created": 1.7e9,
        }
    },
    "reports": {
        "1": {
            "id": "r1234",  # a 4-digit id from before
            "cluster": "lab",
            "channel": "C1",
            "user_id": "U1",
            "every": "1h",
            "interval": 3600,
            "created": 1.7e9,
            "last_slot": 1.7e9 + 3600,
        }
    },
    "prefs": {"1": {"user_id": "U1", "cluster": "lab"}},
}


async def test_an_old_state_json_is_imported_once_then_renamed(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    (state_dir / "state.json").write_text(json.dumps(OLD))
    state = open_state(state_dir)
    assert not (state_dir / "state.json").exists()
    assert json.loads((state_dir / "state.json.imported").read_text()) == OLD
    threads = WatchStore(state)
    assert [t.job_id for t in await threads.open_threads("lab")] == ["41"]  # open: live
    done = await threads.thread_at("C1", "1700000000.42")  # done: history, still found
    assert done is not None and done.done and done.seq == 2
    [watch] = await threads.mine_watches("lab")
    assert watch.id == "wabcdef012345"
    report = await ReportStore(state).get("r1234")
    assert report is not None and report.last_slot == 1.7e9 + 3600
    prefs = Prefs(state.prefs)
    await prefs.load()
    assert prefs.default_cluster("U1") == "lab"
    # Started again: nothing imported twice, nothing lost.
    (state_dir / "state.json.imported").write_text(json.dumps({"threads": {}}))
    again = WatchStore(open_state(state_dir))
    assert [t.job_id for t in await again.open_threads()] == ["41"]
    assert len(await again.watches()) == 1


async def test_no_old_state_no_import(tmp_path: Path) -> None:
    state = open_state(tmp_path / "state")
    assert await WatchStore(state).open_threads() == []
    assert not list((tmp_path / "state").glob("state.json*"))
