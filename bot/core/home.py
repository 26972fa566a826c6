"""A user's App Home data: their jobs and free GPUs on their default cluster, with their
watches and scheduled reports (read from those features' stores)."""

from __future__ import annotations

import asyncio

from bot.core import replies as r
from bot.core.access import Access
from bot.core.clusters import Clusters
from bot.core.partial import read_part
from bot.core.reports.store import ReportStore
from bot.core.watches.store import WatchStore


class Home:
    def __init__(
        self, access: Access, clusters: Clusters, watches: WatchStore, reports: ReportStore
    ) -> None:
        self.access = access
        self.clusters = clusters
        self.watches = watches
        self.reports = reports

    async def build(self, user_id: str) -> r.HomeReply:
        cluster, client = self.clusters.client(user_id, None)
        account = self.access.account(user_id)
        problems: list[str] = []
        jobs, snapshot = await asyncio.gather(
            read_part("jobs", client.list_jobs(account), problems),
            read_part("GPUs", client.resources(), problems),
        )
        return r.HomeReply(
            cluster=cluster.name,
            account=account,
            jobs=jobs,
            snapshot=snapshot,
            watches=await self.watches.watches(user_id),
            reports=await self.reports.all(user_id),
            problems=problems,
        )
