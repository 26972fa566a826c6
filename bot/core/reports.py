"""Cluster reports: what one says (taken from `sinfo` and `squeue`), and report schedules.

A schedule is an APScheduler interval or cron trigger plus the last slot posted. Slots are
computed from the trigger, never from when the bot happened to run, so a restart neither
repeats the slot just posted nor replays the slots missed while the bot was down.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable
from datetime import datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, ConfigDict, Field
from tinydb import Query, TinyDB

from bot.core.ids import insert_unique, new_id
from bot.core.models import (
    JobState,
    PartitionResources,
    QueueJob,
    QueueSummary,
)
from bot.core.slurm.client import SlurmClient
from bot.core.slurm.parse import summarize_queue
from bot.core.store import Store
from bot.errors import BotError

_Q = Query()
T = TypeVar("T")


_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _crontab_days(field: str) -> str:
    """A crontab day-of-week field in day names. APScheduler 3's `from_crontab` reads numbers
    as 0=Monday, while crontab means 0 (and 7) = Sunday: `1-5` would run Tuesday to Saturday.
    Names mean the same to both."""
    out: list[str] = []
    for part in field.lower().split(","):
        rng, _, step = part.partition("/")
        if part == "*" or (rng != "*" and not re.fullmatch(r"\d+(-\d+)?", rng, re.ASCII)):
            out.append(part)  # `*` and names (`mon-fri`) mean the same to both
            continue
        lo, _, hi = ("0-6" if rng == "*" else rng).partition("-")
        first, last = int(lo), int(hi or lo)
        if not (0 <= first <= last <= 7):
            raise ValueError(f"day of week `{part}` is not within 0-7")
        if step and not re.fullmatch(r"[1-9][0-9]?", step, re.ASCII):
            raise ValueError(f"day of week `{part}`: the step must be a number from 1 to 99")
        every = int(step) if step else 1
        out += [_DAYS[d % 7] for d in range(first, last + 1, every)]
    return ",".join(dict.fromkeys(out))


def crontab_trigger(line: str, timezone: str) -> CronTrigger:
    """APScheduler's own crontab parser, with crontab's meaning of day-of-week numbers."""
    fields = line.split()
    if len(fields) == 5:
        fields[4] = _crontab_days(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=ZoneInfo(timezone))


class ReportSchedule(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(default_factory=lambda: new_id("r"))
    cluster: str
    channel: str
    user_id: str  # who scheduled it; the report is taken as their account
    every: str  # as typed
    interval: int | None = None
    cron: str | None = None
    timezone: str = "UTC"
    partition: str | None = None
    include: tuple[str, ...] = ("resources", "jobs")
    created: float = Field(default_factory=time.time)  # an interval's slots count from here
    last_slot: float | None = None  # the slot last posted (or being posted)

    def trigger(self) -> BaseTrigger:
        tz = ZoneInfo(self.timezone)
        if self.cron:
            return crontab_trigger(self.cron, self.timezone)
        assert self.interval is not None
        start = datetime.fromtimestamp(self.created, tz)
        return IntervalTrigger(seconds=self.interval, start_date=start, timezone=tz)

    def next_slot(self, now: datetime) -> datetime:
        """The first slot after both `now` and the last slot posted: missed slots are skipped."""
        after = now
        if self.last_slot is not None:
            posted = datetime.fromtimestamp(self.last_slot, now.tzinfo)
            after = max(after, posted)
        slot: datetime | None = self.trigger().get_next_fire_time(
            None, after + timedelta(microseconds=1)
        )
        assert slot is not None  # interval and crontab triggers never run out
        return slot

    @property
    def when(self) -> str:
        return f"every {self.every}" if self.interval else f"cron `{self.every}` {self.timezone}"


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


class ReportParts(BaseModel):
    """The sections of a report, read from Slurm (see `take`)."""

    partitions: list[PartitionResources] | None = None
    queue: QueueSummary | None = None
    user_jobs: list[QueueJob] | None = None
    running: list[QueueJob] | None = None
    problems: list[str] = []


async def read_part(what: str, call: Awaitable[T], problems: list[str]) -> T | None:
    """One part of a summary: what Slurm said, or None with the reason noted in `problems`
    (so a part that could not be read is never shown as empty)."""
    try:
        return await call
    except BotError as e:
        problems.append(f"{what}: {e}")
        return None


async def _skipped() -> None:
    return None


async def take(
    client: SlurmClient, account: str, partition: str | None, include: tuple[str, ...]
) -> ReportParts:
    """One `sinfo` and one `squeue` at most, run together; a part Slurm did not answer is
    named in `problems`, never shown as zeros."""
    want_queue = bool({"jobs", "user", "running"} & set(include))
    parts = ReportParts()
    snap, jobs = await asyncio.gather(
        read_part("resources", client.resources(partition), parts.problems)
        if "resources" in include
        else _skipped(),
        read_part("queue", client.queue(partition), parts.problems) if want_queue else _skipped(),
    )
    if snap is not None:
        parts.partitions = [p.model_copy(update={"nodes": []}) for p in snap.partitions]
    if jobs is not None:
        if "jobs" in include:
            parts.queue = summarize_queue(jobs)
        if "user" in include:
            parts.user_jobs = [j for j in jobs if j.user == account]
        if "running" in include:
            parts.running = [j for j in jobs if j.state == JobState.RUNNING]
    return parts


def wait_text(seconds: int | None) -> str:
    """`2d 3h`, `1h 05m`, `4m`: how long a job has waited."""
    if seconds is None:
        return "-"
    d, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m = rest // 60
    if d:
        return f"{d}d {h}h"
    if h:
        return f"{h}h {m:02d}m"
    return f"{m}m" if m else f"{seconds}s"
