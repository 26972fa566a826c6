"""Scheduled reports, on the storage port."""

from __future__ import annotations

from bot.core.ids import insert_unique
from bot.core.schedules import ReportSchedule
from bot.store.port import State


class ReportStore:
    def __init__(self, state: State) -> None:
        self.reports = state.reports

    async def add(self, report: ReportSchedule) -> ReportSchedule:
        """Store a new schedule; returned with the id it got (its own unless that was taken)."""
        stored = await insert_unique(self.reports.add, report.model_dump(mode="json"), "r")
        return report.model_copy(update={"id": stored})

    async def save(self, report: ReportSchedule) -> None:
        await self.reports.save(report.model_dump(mode="json"))

    async def claim(self, report: ReportSchedule, last_slot: float | None) -> bool:
        """Save `report` (its next slot taken) only if no replica took that slot yet."""
        return await self.reports.claim(report.model_dump(mode="json"), last_slot)

    async def reclaim(self, report: ReportSchedule, posting_since: float) -> bool:
        """Save `report` only if its slot is still marked posting since `posting_since`."""
        return await self.reports.reclaim(report.model_dump(mode="json"), posting_since)

    async def get(self, report_id: str) -> ReportSchedule | None:
        doc = await self.reports.get(report_id)
        return ReportSchedule.model_validate(doc) if doc else None

    async def all(self, user_id: str | None = None) -> list[ReportSchedule]:
        return [ReportSchedule.model_validate(d) for d in await self.reports.of_user(user_id)]

    async def remove(self, report_id: str) -> None:
        await self.reports.remove(report_id)
