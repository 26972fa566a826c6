"""Scheduled reports in the store."""

from __future__ import annotations

from tinydb import Query, TinyDB

from bot.core.ids import insert_unique
from bot.core.schedules import ReportSchedule
from bot.core.store import Store

_Q = Query()


class ReportStore:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, report: ReportSchedule) -> ReportSchedule:
        """Store a new schedule; returned with the id it got (its own unless that was taken)."""
        doc = report.model_dump(mode="json")
        stored = await self.store.run(lambda db: insert_unique(db.table("reports"), doc, "r"))
        return report.model_copy(update={"id": stored})

    async def save(self, report: ReportSchedule) -> None:
        doc = report.model_dump(mode="json")
        await self.store.run(lambda db: db.table("reports").upsert(doc, _Q.id == report.id))

    async def get(self, report_id: str) -> ReportSchedule | None:
        def get(db: TinyDB) -> ReportSchedule | None:
            doc = db.table("reports").get(_Q.id == report_id)
            return ReportSchedule.model_validate(doc) if doc else None

        return await self.store.run(get)

    async def all(self, user_id: str | None = None) -> list[ReportSchedule]:
        def get(db: TinyDB) -> list[ReportSchedule]:
            table = db.table("reports")
            docs = table.all() if user_id is None else table.search(_Q.user_id == user_id)
            return [ReportSchedule.model_validate(d) for d in docs]

        return await self.store.run(get)

    async def remove(self, report_id: str) -> None:
        await self.store.run(lambda db: db.table("reports").remove(_Q.id == report_id))
