"""One cluster report, taken as a user's own account: `report now`, or a schedule's slot."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from bot.core import commands as c
from bot.core import replies as r
from bot.core.access import Access
from bot.core.clusters import Clusters
from bot.core.reports.parts import take


def utc_now() -> datetime:
    return datetime.now(UTC)


class ReportBuilder:
    def __init__(self, access: Access, clusters: Clusters, timezone: str) -> None:
        self.access = access
        self.clusters = clusters
        self.timezone = timezone  # the time shown on reports

    async def build(
        self,
        user_id: str,
        cluster: str | None,
        opts: c.ReportOptions,
        *,
        title: str = "Cluster report",
        at: datetime | None = None,
    ) -> r.ClusterReport:
        cfg, client = self.clusters.client(user_id, cluster)
        account = self.access.account(user_id)
        if opts.partition:
            await client.check_partition(opts.partition)
        parts = await take(client, account, opts.partition, opts.include)
        return r.ClusterReport(
            cluster=cfg.name,
            at=(at or utc_now()).astimezone(ZoneInfo(self.timezone)).strftime("%Y-%m-%d %H:%M %Z"),
            title=title,
            account=account if parts.user_jobs is not None else None,
            problems=parts.problems,
            partitions=parts.partitions,
            queue=parts.queue,
            user_jobs=parts.user_jobs,
            running=parts.running,
        )
