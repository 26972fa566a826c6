"""Workflow runs on the storage port: active runs by cluster for a poll tick, every run by id
and by user until the retention has passed since it ended."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager

from bot.core.flowruns import FlowRun
from bot.core.ids import insert_unique
from bot.core.retention import Retention
from bot.errors import TakenElsewhere
from bot.store.port import State

RETENTION = 14 * 86400.0


class FlowStore:
    def __init__(self, state: State, retention: float = RETENTION) -> None:
        self.state = state
        self.flows = state.flows
        self.retention = retention
        self._retention = Retention(retention, self.flows.prune)

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
        """A post about to go out (`in_flight`, numbered `run.seq`): durable before it, batch
        or not. Raises TakenElsewhere when another replica recorded that post first."""
        if not await self.flows.claim(run.model_dump(mode="json"), run.seq - 1):
            raise TakenElsewhere(f"run {run.id}'s post {run.seq}")

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
        return self._retention.kept_since(now)

    async def prune(self, now: float | None = None) -> int:
        return await self._retention.prune(now)
