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
from bot.store.port import Leases

log = logging.getLogger(__name__)

Tick = Callable[[str], Awaitable[object]]  # one feature's poll of one cluster


async def poll(ticks: Sequence[Tick], cluster: str, leases: Leases) -> None:
    """One poll of a cluster, by the one replica holding its lease: each tick in order. The
    others try again at their next poll, so one takes over within a poll interval of the
    leader's death."""
    lease = f"poll:{cluster}"
    was = lease in leases.held()
    try:
        leading = await leases.hold(lease)
    except Exception:
        log.exception("cannot tell who polls %s", cluster)
        return
    if leading != was:  # once per change: which replica polls is news for an admin
        log.info("this replica %s polling %s", "is now" if leading else "stopped", cluster)
    if not leading:
        return
    for tick in ticks:
        try:
            await tick(cluster)
        except Exception:  # one failing part must not starve the other
            log.exception("polling %s failed", cluster)


async def start_polling(
    clusters: Sequence[str],
    every: float,
    ticks: Sequence[Tick],
    reports: ReportScheduler,
    leases: Leases,
) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler()
    for cluster in clusters:
        scheduler.add_job(
            poll,
            "interval",
            seconds=every,
            args=[list(ticks), cluster, leases],
            id=f"poll-{cluster}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(every),
            next_run_time=datetime.now(),
        )
    # Reports other replicas add or stop reach this one's schedule within a poll interval.
    scheduler.add_job(
        reports.sync, "interval", seconds=every, id="reports-sync", max_instances=1, coalesce=True
    )
    scheduler.start()
    log.info("%d scheduled reports", await reports.start(scheduler))
    return scheduler
