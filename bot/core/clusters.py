"""The configured clusters and one Slurm client per (cluster, account): `client(user,
cluster)` picks the user's default cluster (`use`, kept in prefs) when none is named. Also the
`clusters` and `use` commands, which are about exactly this."""

from __future__ import annotations

import asyncio
import time

from bot.config import ClusterConfig, Config
from bot.core import replies as r
from bot.core.access import Access
from bot.core.prefs import Prefs
from bot.core.slurm.client import SlurmClient
from bot.errors import BotError
from bot.transport.pool import TransportPool

REACH_TIMEOUT = 5.0  # `clusters`: how long to wait for each cluster's answer


class Clusters:
    def __init__(self, config: Config, access: Access, prefs: Prefs, pool: TransportPool) -> None:
        self.config = config
        self.access = access
        self.prefs = prefs
        self.pool = pool
        self._clients: dict[tuple[str, str], SlurmClient] = {}

    @property
    def names(self) -> list[str]:
        return self.config.cluster_names

    def default(self, user_id: str) -> ClusterConfig:
        """The cluster set with `use`, if still configured; else the first one."""
        chosen = self.prefs.default_cluster(user_id)
        if chosen in self.config.cluster_names:
            return self.config.cluster(chosen)
        return self.config.clusters[0]

    def client(self, user_id: str, cluster: str | None) -> tuple[ClusterConfig, SlurmClient]:
        grant = self.access.grant(user_id)
        cfg = self.config.cluster(cluster) if cluster else self.default(user_id)
        key = (cfg.name, grant.account)
        if key not in self._clients:
            transport = self.pool.get(cfg, grant.account, grant.key_file)
            self._clients[key] = SlurmClient(transport, cfg.name)
        return cfg, self._clients[key]

    async def use(self, user_id: str, name: str) -> r.Done:
        cfg = self.config.cluster(name)
        await self.prefs.set_default_cluster(user_id, cfg.name)
        return r.Done(text=f"your default cluster is now {cfg.name}")

    async def reachability(self, user_id: str) -> r.ClustersReply:
        """Every configured cluster, asked at once whether it answers (as the caller)."""
        default = self.default(user_id).name

        async def one(cl: ClusterConfig) -> r.ClusterSummary:
            where = cl.ssh_config_host or (f"{cl.host}:{cl.port}" if cl.host else "local")
            if cl.proxy_jump:
                where += f" via {cl.proxy_jump}"
            _, client = self.client(user_id, cl.name)
            t0 = time.perf_counter()
            try:
                parts = await asyncio.wait_for(client.ping(), REACH_TIMEOUT)
                ok = True
                detail = f"{len(parts)} partitions, {1000 * (time.perf_counter() - t0):.0f} ms"
            except TimeoutError:
                ok, detail = False, f"no answer within {REACH_TIMEOUT:.0f} s"
            except BotError as e:
                ok, detail = False, str(e)
            return r.ClusterSummary(
                name=cl.name,
                where=where,
                default_partition=cl.default_partition,
                is_default=cl.name == default,
                reachable=ok,
                detail=detail,
            )

        items = await asyncio.gather(*(one(cl) for cl in self.config.clusters))
        return r.ClustersReply(clusters=list(items))

    async def close(self) -> None:
        await self.pool.close()
