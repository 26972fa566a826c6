"""The poll schedule: one APScheduler job per cluster, every `notify.poll_interval` seconds,
running each tick in turn (job threads and watches, then GPU watches); and every scheduled
report's next slot. A tick still running when the next is due is skipped, not stacked
(max_instances=1, coalesce)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.core.reports.scheduler import ReportScheduler

log = logging.getLogger(__name__)

Tick = Callable[[str], Awaitable[object]]  # one feature's poll of one cluster


async def poll(ticks: Sequence[Tick], cluster: str) -> None:
    """One poll of a cluster: each tick in order."""
    for tick in ticks:
        try:
            await tick(cluster)
        except Exception:  # one failing part must not starve the other
            log.exception("polling %s failed", cluster)


async def start_polling(
    clusters: Sequence[str], every: float, ticks: Sequence[Tick], reports: ReportScheduler
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler()
    for cluster in clusters:
        scheduler.add_job(
            poll,
            "interval",
            seconds=every,
            args=[list(ticks), cluster],
            id=f"poll-{cluster}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(every),
            next_run_time=datetime.now(),
        )
    scheduler.start()
    log.info("%d scheduled reports", await reports.start(scheduler))
    return scheduler
