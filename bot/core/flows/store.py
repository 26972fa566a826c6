"""Workflow runs on the storage port: active runs by cluster for a poll tick, every run by id
and by user until the retention has passed since it ended."""

from __future__ import annotations

import time
from contextlib import AbstractAsyncContextManager

from bot.core.flowruns import FlowRun
from bot.core.ids import insert_unique
from bot.store.port import State

PRUNE_EVERY = 3600.0  # history is kept by the hour: pruning more often finds nothing
RETENTION = 14 * 86400.0


class FlowStore:
    def __init__(self, state: State, retention: float = RETENTION) -> None:
        self.state = state
        self.flows = state.flows
        self.retention = retention
        self._pruned = 0.0

    def batch(self) -> AbstractAsyncContextManager[None]:
        """A poll tick: its saves become durable together when it ends."""
        return self.state.batch()

    async def add(self, run: FlowRun) -> FlowRun:
        """Store a new run; returned with the id it got (its own unless that was taken)."""
        stored = await insert_unique(self.flows.add, run.model_dump(mode="json"), "f")
        return run.model_copy(update={"id": stored})

    async def save(self, run: FlowRun, *, now: bool = False) -> None:
        """`now`: durable when this returns even inside a batch. A run saved finished
        (`active` false) leaves the active ones."""
        await self.flows.save(run.model_dump(mode="json"), now=now)

    async def record_intent(self, run: FlowRun) -> None:
        """A post about to go out (`in_flight`): durable before it, batch or not."""
        await self.save(run, now=True)

    async def get(self, run_id: str) -> FlowRun | None:
        doc = await self.flows.get(run_id)
        return FlowRun.model_validate(doc) if doc else None

    async def active(self, cluster: str) -> list[FlowRun]:
        return [FlowRun.model_validate_json(t) for t in await self.flows.active_json(cluster)]

    async def of_user(self, user_id: str | None = None, limit: int | None = None) -> list[FlowRun]:
        """A user's runs (everyone's with None), active and the `limit` finished last,
        newest first."""
        runs = [FlowRun.model_validate(d) for d in await self.flows.of_user(user_id, limit)]
        return sorted(runs, key=lambda r: r.created, reverse=True)

    def kept_since(self, now: float | None = None) -> float:
        """Runs that ended before this are forgotten."""
        return (time.time() if now is None else now) - self.retention

    async def prune(self, now: float | None = None) -> int:
        """Forget runs that ended longer than the retention ago; at most once an hour (a
        poll tick calls it), so it costs nothing most of the time."""
        now = time.time() if now is None else now
        if now - self._pruned < PRUNE_EVERY:
            return 0
        self._pruned = now
        return await self.flows.prune(self.kept_since(now))
