"""`report now|every|stop` and `reports`, and posting scheduled reports at their slots.

Each schedule has one APScheduler date job at a time: its next slot. When it runs, the slot is
recorded before the report is posted (so a crash cannot post it twice), then the following
slot is scheduled. At start every stored schedule gets its next slot after now: slots missed
while the bot was down are skipped, not replayed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.config import ReportsConfig
from bot.core import commands as c
from bot.core import replies as r
from bot.core.access import Access
from bot.core.clusters import Clusters
from bot.core.ports import Poster
from bot.core.reports.build import ReportBuilder, utc_now
from bot.core.reports.store import ReportStore
from bot.core.schedules import ReportSchedule
from bot.errors import AccessDenied, UsageError

if TYPE_CHECKING:  # APScheduler loads only where a scheduler runs (`bot serve`, tests)
    from apscheduler.schedulers.base import BaseScheduler

ReportCommand = c.ReportNow | c.ReportEvery | c.ReportStop | c.ListReports
REPORT_COMMANDS = (c.ReportNow, c.ReportEvery, c.ReportStop, c.ListReports)

log = logging.getLogger(__name__)
POSTING_STALE = 30.0  # seconds a slot may be marked posting before its replica counts as dead


class ReportScheduler:
    def __init__(
        self,
        access: Access,
        clusters: Clusters,
        store: ReportStore,
        poster: Poster,
        config: ReportsConfig,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.access = access
        self.clusters = clusters
        self.config = config
        self.builder = ReportBuilder(access, clusters, config.timezone)
        self.store = store
        self.poster = poster
        # The time slots are computed in; tests shift it to reach a crontab slot in seconds.
        self.clock = clock
        self.scheduler: BaseScheduler | None = None

    # ------------------------------------------------------------------ commands
    async def run(
        self, user_id: str, cmd: ReportCommand, channel: str | None, dm: bool = False
    ) -> r.Reply:
        match cmd:
            case c.ReportNow():
                return await self.now(user_id, cmd, channel)
            case c.ReportEvery():
                return await self.every(user_id, cmd, channel, dm)
            case c.ReportStop():
                return await self.stop(user_id, cmd)
        return await self.list(user_id)

    async def now(self, user_id: str, cmd: c.ReportNow, channel: str | None) -> r.Reply:
        report = await self.builder.build(user_id, cmd.cluster, cmd)
        if cmd.channel is None or cmd.channel == channel:
            return report  # the answer itself, in the channel where it was asked
        self._check_target(user_id, cmd.channel)
        await self.poster.post(cmd.channel, report)
        return r.Done(text=f"posted a report of {report.cluster} {r.where(cmd.channel)}")

    async def every(
        self, user_id: str, cmd: c.ReportEvery, channel: str | None, dm: bool = False
    ) -> r.Reply:
        if self.scheduler is None or channel is None:
            raise UsageError("scheduled reports post into Slack: schedule them in Slack")
        target = cmd.channel or channel
        if not (dm and target == channel):  # your own DM needs no grant
            self._check_target(user_id, target)
        minimum = self.config.min_interval
        if cmd.interval is not None and cmd.interval < minimum:
            raise UsageError(
                f"`every {cmd.every}` is too often; the shortest allowed is {int(minimum)} s"
            )
        cfg, client = self.clusters.client(user_id, cmd.cluster)
        if cmd.partition:
            await client.check_partition(cmd.partition)
        schedule = ReportSchedule(
            cluster=cfg.name,
            channel=target,
            user_id=user_id,
            every=cmd.every,
            interval=cmd.interval,
            cron=cmd.cron,
            timezone=self.config.timezone,
            partition=cmd.partition,
            include=cmd.include,
            created=self.clock().timestamp(),
        )
        first = schedule.next_slot(self.clock())
        schedule = await self.store.add(schedule)  # its id is unique before it is announced
        # Said in the target channel before it is scheduled: if the bot may not post there,
        # the schedule is taken back.
        try:
            await self.poster.post(
                target,
                r.Alert(
                    text=f"scheduled a report of {cfg.name} here {schedule.when} "
                    f"(report {schedule.id}); the first at {_local(first, schedule)}",
                    mention=user_id,
                ),
            )
        except BaseException:
            await self.store.remove(schedule.id)
            raise
        self._schedule(schedule, first)
        return r.Done(
            text=f"report {schedule.id}: {cfg.name} {schedule.when} {r.where(target)}, "
            f"first at {_local(first, schedule)}; `report stop {schedule.id}` ends it"
        )

    async def stop(self, user_id: str, cmd: c.ReportStop) -> r.Reply:
        report = await self.store.get(cmd.report_id)
        if report is None or not (report.user_id == user_id or self.access.is_admin(user_id)):
            raise UsageError(f"no report `{cmd.report_id}` of yours; `reports` lists them")
        await self.store.remove(report.id)
        if self.scheduler is not None and self.scheduler.get_job(_job_id(report)):
            self.scheduler.remove_job(_job_id(report))
        return r.Done(text=f"stopped report {report.id} ({report.when} {r.where(report.channel)})")

    async def list(self, user_id: str) -> r.ReportsReply:
        admin = self.access.is_admin(user_id)
        return r.ReportsReply(
            scope="all users" if admin else "you",
            reports=await self.store.all(None if admin else user_id),
        )

    def _check_target(self, user_id: str, channel: str) -> None:
        if not self.access.may_report_into(user_id, channel):
            raise AccessDenied(
                f"you may not schedule reports into <#{channel}>; ask an admin to add you "
                f"to access.reports.{channel}"
            )

    # ------------------------------------------------------------------ running
    async def start(self, scheduler: BaseScheduler) -> int:
        """Schedule every stored report's next slot; returns how many."""
        self.scheduler = scheduler
        reports = await self.store.all()
        for report in reports:
            self._schedule(report, report.next_slot(self.clock()))
        return len(reports)

    async def sync(self) -> int:
        """Schedule the reports other replicas added and drop those they stopped (every
        replica fires each slot; `claim` lets one post it); how many are scheduled."""
        if self.scheduler is None:
            return 0
        reports = await self.store.all()
        await self.finish_half_posted(reports)
        ids = {_job_id(x) for x in reports}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("report-") and job.id not in ids:
                job.remove()
        for report in reports:
            if self.scheduler.get_job(_job_id(report)) is None:
                self._schedule(report, report.next_slot(self.clock()))
        return len(reports)

    def _schedule(self, report: ReportSchedule, slot: datetime) -> None:
        if self.scheduler is None:
            return
        # The scheduler runs on the real clock; the slot is on ours (the same, outside tests).
        run_at = utc_now() + (slot - self.clock())
        self.scheduler.add_job(
            self.fire,
            "date",
            run_date=run_at,
            args=[report.id, slot.timestamp()],
            id=_job_id(report),
            replace_existing=True,
            misfire_grace_time=60,
        )

    async def fire(self, report_id: str, slot: float) -> bool:
        """Post one slot's report, at most once; then schedule the next slot."""
        report = await self.store.get(report_id)
        if report is None:
            return False  # stopped meanwhile
        posted = False
        if report.last_slot is None or slot > report.last_slot:
            taken = report.model_copy(update={"last_slot": slot, "posting_since": time.time()})
            # The slot is this replica's from here on; another that took it first posts it.
            if not await self.store.claim(taken, report.last_slot):
                self._schedule(taken, taken.next_slot(self.clock()))
                return False
            report = taken
            posted = await self._post_slot(report)
        self._schedule(report, report.next_slot(self.clock()))
        return posted

    async def _post_slot(self, report: ReportSchedule, *, look_first: bool = False) -> bool:
        """Post the report of `report.last_slot` (marked, so it can be found again), then
        clear its posting mark. A failure is logged and the slot given up, as Slack refused
        it; only a replica's death leaves the mark (see `finish_half_posted`)."""
        assert report.last_slot is not None and report.posting_since is not None
        slot, mark = report.last_slot, f"report:{report.id}:{report.last_slot:.0f}"
        posted = False
        try:
            if look_first and await self.poster.posted(report.channel, mark):
                log.info(
                    "report %s for slot %s was posted before its replica died", report.id, slot
                )
            else:
                title = f"Scheduled report {report.id}"
                opts = c.ReportNow(partition=report.partition, include=report.include)
                at = datetime.fromtimestamp(slot, UTC)
                built = await self.builder.build(
                    report.user_id, report.cluster, opts, title=title, at=at
                )
                await self.poster.post(report.channel, built, mark=mark)
                posted = True
        except Exception:
            log.exception("report %s for slot %s failed", report.id, slot)
        done = report.model_copy(update={"posting_since": None})
        await self.store.reclaim(done, report.posting_since)  # unless another took it over
        return posted

    async def finish_half_posted(self, reports: Sequence[ReportSchedule]) -> int:
        """Slots a replica took and died posting (marked longer than POSTING_STALE): one
        replica looks for the post in the channel and posts it if it is not there."""
        now, finished = time.time(), 0
        for report in reports:
            since = report.posting_since
            if since is None or now - since < POSTING_STALE:
                continue
            taken = report.model_copy(update={"posting_since": now})
            if await self.store.reclaim(taken, since):
                finished += await self._post_slot(taken, look_first=True)
        return finished


def _job_id(report: ReportSchedule) -> str:
    return f"report-{report.id}"


def _local(slot: datetime, report: ReportSchedule) -> str:
    return slot.astimezone(ZoneInfo(report.timezone)).strftime("%Y-%m-%d %H:%M %Z")
