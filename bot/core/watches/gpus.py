"""`watch gpus N`: tell the user when at least N GPUs are free on one partition.

One `sinfo` per cluster per poll, whatever the number of watches. One-shot watches are
removed when they fire. Continuous ones fire on each upward crossing of N, and re-arm only
after the count stayed below N for `notify.gpu_rearm_after` seconds, so a count flapping
around N notifies once. A poll that could not read Slurm changes nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from bot.config import NotifyConfig
from bot.core import commands as c
from bot.core import replies as r
from bot.core.access import Access
from bot.core.clusters import Clusters
from bot.core.models import PartitionResources, ResourceSnapshot
from bot.core.ports import Poster
from bot.core.records import Watch
from bot.core.watches.store import WatchStore
from bot.errors import BotError, UsageError

log = logging.getLogger(__name__)


def best_partition(snap: ResourceSnapshot, partition: str | None) -> PartitionResources | None:
    """The watched partition, or (for any partition) the one with the most GPUs free."""
    parts = [p for p in snap.partitions if partition is None or p.partition == partition]
    return max(parts, key=lambda p: p.gpus_free, default=None)


class GpuWatcher:
    def __init__(
        self,
        access: Access,
        clusters: Clusters,
        store: WatchStore,
        poster: Poster,
        notify: NotifyConfig,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.access = access
        self.clusters = clusters
        self.store = store
        self.poster = poster
        self.notify = notify
        self.clock = clock

    async def watch(self, user_id: str, cmd: c.WatchGpus, channel: str) -> str:
        cfg, client = self.clusters.client(user_id, cmd.cluster)
        partition = cmd.partition or cfg.default_partition
        if partition:
            await client.check_partition(partition)
        snap = await client.resources(partition)
        part = best_partition(snap, partition)
        where = f"on {partition}" if partition else "on any one partition"
        if part is not None and part.gpus_total and cmd.gpus > part.gpus_total and partition:
            raise UsageError(
                f"{partition} has only {part.gpus_total} GPUs in all; ask for at most that many"
            )
        free = part.gpus_free if part else 0
        if free >= cmd.gpus and not cmd.continuous:
            return (
                f"{free} GPUs are free {_on(part)} on {cfg.name} right now, so no watch was "
                f"set; submit now, e.g. `submit -p {part.partition if part else 'PART'} "
                f"--gpus-per-node {cmd.gpus} -- ...`"
            )
        watch = await self.store.add_watch(
            Watch(
                kind="gpus",
                user_id=user_id,
                account=self.access.account(user_id),
                cluster=cfg.name,
                channel=channel,
                gpus=cmd.gpus,
                partition=partition,
                continuous=cmd.continuous,
                armed=free < cmd.gpus,
            )
        )
        how = "each time the count rises to it" if cmd.continuous else "once"
        return (
            f"watch {watch.id}: I'll tell you here {how} when {cmd.gpus} GPUs are free {where} "
            f"on {cfg.name} (now {free} free)"
        )

    async def tick(self, cluster: str) -> int:
        """Check every GPU watch of the cluster against one `sinfo`; returns alerts posted."""
        watches = await self.store.gpu_watches(cluster)
        if not watches:
            return 0
        snap = await self._snapshot(cluster, watches)
        if snap is None:
            return 0
        now = self.clock()
        changed: list[Watch] = []
        fire: list[tuple[Watch, PartitionResources]] = []
        for w in watches:
            part = best_partition(snap, w.partition)
            new = self._step(w, part.gpus_free if part else 0, now)
            if new != w:
                changed.append(new)
            if part is not None and w.armed and not new.armed:
                fire.append((w, part))
        # Recorded (one write) before posting: a crash now cannot notify twice.
        done = [w.id for w, _ in fire if not w.continuous]
        await self.store.apply([w for w in changed if w.id not in done], done)
        posted = 0
        for w, part in fire:
            try:
                await self.poster.post(w.channel, self._alert(w, part))
                posted += 1
            except Exception:
                log.exception("GPU watch %s: posting failed; it stays armed", w.id)
                await self.store.save_watch(w)  # not delivered: try again next poll
        return posted

    async def _snapshot(self, cluster: str, watches: list[Watch]) -> ResourceSnapshot | None:
        for w in watches:  # as the first watcher still mapped to an account
            try:
                _, client = self.clusters.client(w.user_id, cluster)
            except BotError:
                continue
            try:
                return await client.resources()
            except BotError as e:
                log.info("GPU watches on %s: cannot read sinfo (%s)", cluster, e)
                return None
        return None

    def _step(self, w: Watch, free: int, now: float) -> Watch:
        """The watch after seeing `free` GPUs: fired (disarmed), re-armed, or timing a dip."""
        assert w.gpus is not None
        if free >= w.gpus:
            if w.armed:
                return w.model_copy(
                    update={"armed": False, "below_since": None, "fired": w.fired + 1}
                )
            return w.model_copy(update={"below_since": None})
        below = w.below_since if w.below_since is not None else now
        rearm = not w.armed and now - below >= self.notify.gpu_rearm_after
        return w.model_copy(update={"below_since": below, "armed": w.armed or rearm})

    def _alert(self, w: Watch, part: PartitionResources) -> r.Alert:
        after = (
            f"I'll tell you again the next time it rises to {w.gpus} (watch {w.id})."
            if w.continuous
            else f"Watch {w.id} is done."
        )
        return r.Alert(
            mention=w.user_id,
            text=f"{part.gpus_free} GPUs are free {_on(part)} on {w.cluster} "
            f"({part.gpus_free}/{part.gpus_total}); you asked for {w.gpus}. {after} "
            f"`submit -p {part.partition} --gpus-per-node N -- ...`",
        )


def _on(part: PartitionResources | None) -> str:
    return f"on {part.partition}" if part else ""
