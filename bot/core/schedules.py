"""Report schedules: when a scheduled cluster report is due.

A schedule is an APScheduler interval or cron trigger plus the last slot posted. Slots are
computed from the trigger, never from when the bot happened to run, so a restart neither
repeats the slot just posted nor replays the slots missed while the bot was down.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from bot.core.ids import new_id

if TYPE_CHECKING:
    from apscheduler.triggers.base import BaseTrigger
    from apscheduler.triggers.cron import CronTrigger

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
    from apscheduler.triggers.cron import CronTrigger

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
    # While `last_slot` is being posted: since when. Left set by a replica that died posting
    # it; another then looks for the post in the channel and posts it if it is not there.
    posting_since: float | None = None

    def trigger(self) -> BaseTrigger:
        from apscheduler.triggers.interval import IntervalTrigger

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
