"""`watch job|mine|gpus` and `flow run` in the console: after the watch is set or the run
submitted (through dispatch, as in Slack), poll its cluster here, with the same ticks
`bot serve` schedules, and let the terminal outbox print what the thread would get. A job's
watch returns when the job ends, a run when it ends, a one-shot GPU watch when it fires; the
others (and any of them) stop on Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Iterator, Sequence

from bot.core import commands as c
from bot.core.clusters import Clusters
from bot.core.flows.store import FlowStore
from bot.core.watches.store import WatchStore

log = logging.getLogger(__name__)

Tick = Callable[[str], Awaitable[object]]  # as bot/core/poll.py (not imported: APScheduler)
JOB_POLL = 5.0  # a one-job watch polls at least this often: the user is waiting for it
FOLLOWED = (c.WatchJob, c.WatchMine, c.WatchGpus, c.FlowRunCommand)
UNTIL_IT_ENDS = (c.WatchJob, c.FlowRunCommand)


@contextlib.contextmanager
def _ctrl_c_sets(stop: asyncio.Event) -> Iterator[None]:
    """Ctrl-C ends the follow, not the console; elsewhere (no signals here) it is as before."""
    loop = asyncio.get_running_loop()
    old = signal.getsignal(signal.SIGINT)
    try:
        loop.add_signal_handler(signal.SIGINT, stop.set)
    except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, Windows
        yield
        return
    try:
        yield
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        signal.signal(signal.SIGINT, old)


class Follower:
    def __init__(
        self,
        clusters: Clusters,
        store: WatchStore,
        ticks: Sequence[Tick],
        poll_interval: float,
        write: Callable[[str], None] = print,
        runs: FlowStore | None = None,
    ) -> None:
        self.clusters = clusters
        self.store = store
        self.runs = runs
        self.ticks = ticks
        self.poll_interval = poll_interval
        self.write = write

    async def follow(self, user_id: str, cmd: c.Command) -> None:
        """Poll until `cmd`'s watch is over; a no-op for commands that set no watch."""
        if not isinstance(cmd, FOLLOWED):
            return
        cluster = self.clusters.client(user_id, cmd.cluster)[0].name
        if isinstance(cmd, c.WatchGpus) and not await self.store.gpu_watches(cluster):
            return  # enough GPUs were free already: no watch was set
        if isinstance(cmd, c.FlowRunCommand) and (cmd.dry_run or await self._runs_over(cluster)):
            return  # nothing was submitted, or it ended already (refused)
        every = min(self.poll_interval, JOB_POLL) if isinstance(cmd, UNTIL_IT_ENDS) else None
        until = {c.WatchJob: "until the job ends", c.FlowRunCommand: "until the run ends"}.get(
            type(cmd), "until Ctrl-C"
        )
        self.write(f"following here {until} (Ctrl-C stops)")
        stop = asyncio.Event()
        try:
            with _ctrl_c_sets(stop):
                while not stop.is_set():
                    await self._poll(cluster)
                    if await self._over(cluster, cmd):
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), every or self.poll_interval)
            self.write("stopped following")
        finally:
            await self._forget(cluster)

    async def _poll(self, cluster: str) -> None:
        for tick in self.ticks:
            try:
                await tick(cluster)
            except Exception:  # as `bot serve`: one failing part must not starve the other
                log.exception("polling %s failed", cluster)

    async def _runs_over(self, cluster: str) -> bool:
        return self.runs is None or not await self.runs.active(cluster)

    async def _over(self, cluster: str, cmd: c.Command) -> bool:
        if isinstance(cmd, c.FlowRunCommand):
            return await self._runs_over(cluster)
        if isinstance(cmd, c.WatchJob):
            thread = await self.store.thread(cluster, cmd.job_id)
            return thread is None or thread.done
        if isinstance(cmd, c.WatchGpus) and not cmd.continuous:
            return not await self.store.gpu_watches(cluster)  # a one-shot watch is removed
        return False

    async def _forget(self, cluster: str) -> None:
        """Nothing polls between commands in the console: what this follow set up ends with
        it, so the next `watch` prints only its own news."""
        watches = [w.id for w in await self.store.watches() if w.cluster == cluster]
        await self.store.remove_watches(watches)
        threads = await self.store.open_threads(cluster)
        await self.store.close_threads(cluster, [t.job_id for t in threads])
