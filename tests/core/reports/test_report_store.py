"""Scheduled reports on the storage port: added under an id of their own, kept over a restart."""

from __future__ import annotations

from pathlib import Path

from bot.core.reports.store import ReportStore
from bot.core.schedules import ReportSchedule
from bot.store.state import open_state


def _report(user: str, **kw: object) -> ReportSchedule:
    return ReportSchedule.model_validate(
        {"cluster": "lab", "channel": "C1", "user_id": user, "every": "1h", "interval": 3600, **kw}
    )


async def test_reports_are_added_saved_listed_by_user_and_removed(tmp_path: Path) -> None:
    state = open_state(tmp_path)
    store = ReportStore(state)
    mine = await store.add(_report("U1", id="r1"))
    taken = await store.add(_report("U2", id="r1"))  # its id is taken: it gets a new one
    assert mine.id == "r1" and taken.id != "r1" and taken.id.startswith("r")
    await store.save(mine.model_copy(update={"last_slot": 1800.0}))
    await state.close()

    state = open_state(tmp_path)
    store = ReportStore(state)
    got = await store.get("r1")
    assert got is not None and got.last_slot == 1800.0 and got.user_id == "U1"
    assert [s.id for s in await store.all("U2")] == [taken.id]
    assert sorted(s.id for s in await store.all()) == sorted(["r1", taken.id])
    await store.remove("r1")
    assert await store.get("r1") is None and [s.id for s in await store.all()] == [taken.id]
    await state.close()
