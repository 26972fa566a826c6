"""Follows workflow runs: one poll per cluster reads every live job of every run in one survey
per account (the same two commands whatever the number of jobs), posts each transition that
matters into the run's thread exactly once, retries failed jobs and rewires their dependants,
cancels jobs that can never run, starts waiting sweep cells, and ends the run with a summary.

A post is saved with the change it reports before it leaves (FlowRun.in_flight); after a
crash the run's thread is searched for it, and it goes out again only if it is not there."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Awaitable, Iterable

from bot.core.clusters import Clusters
from bot.core.flowruns import FlowCell, FlowRun, FlowStep, PendingPost
from bot.core.flows.store import FlowStore
from bot.core.flows.submit import (
    can_never_run,
    dependency,
    options,
    recover,
    submit_cell,
    submitted,
)
from bot.core.flows.texts import end_text, retry_text, run_summary, start_text
from bot.core.models import JobInfo, JobState
from bot.core.ports import FlowOutbox, ThreadPost
from bot.core.slurm.client import SlurmClient
from bot.errors import BotError, TakenElsewhere

log = logging.getLogger(__name__)
RETRYABLE = frozenset(
    {JobState.FAILED, JobState.TIMEOUT, JobState.OUT_OF_MEMORY, JobState.NODE_FAIL}
)


class Held(Exception):
    """A post of the run could not go out: nothing more changes in it this tick."""


class FlowMonitor:
    def __init__(self, clusters: Clusters, store: FlowStore, outbox: FlowOutbox) -> None:
        self.clusters = clusters
        self.store = store
        self.outbox = outbox

    async def tick(self, cluster: str) -> int:
        """One poll of a cluster's active runs; how many posts went out."""
        async with self.store.batch():
            runs = await self.store.active(cluster)
            posted = 0
            for account in sorted({r.account for r in runs}):
                own = [r for r in runs if r.account == account]
                posted += await self._poll_account(cluster, own)
        await self.store.prune()
        return posted

    async def _poll_account(self, cluster: str, runs: list[FlowRun]) -> int:
        try:
            _, client = self.clusters.client(runs[0].user_id, cluster)
            ids = [j for r in runs for j in r.live_ids()]
            survey = await client.survey(None, ids)
        except BotError as e:  # unreachable: states stay as posted, the next tick catches up
            log.warning(
                "cannot read the workflow jobs of %s on %s: %s", runs[0].account, cluster, e
            )
            return 0
        posted = 0
        for run in runs:
            before = run.seq
            try:
                run = await self.advance(client, run, survey.status)
            except Held:
                continue
            except Exception:
                log.exception("following run %s failed", run.id)
                continue
            posted += run.seq - before
        return posted

    # ------------------------------------------------------------------ one run
    async def advance(
        self, client: SlurmClient, run: FlowRun, status: dict[str, JobInfo]
    ) -> FlowRun:
        """Bring one run up to date with Slurm's `status`; returns it as saved."""
        start, shown = run.model_dump_json(), _shown(run)
        run = await self._resolve(run)
        for index, cell in enumerate(run.cells):
            if cell.phase == "submitting":  # the bot stopped while submitting: finish it
                run = await self._finish_submitting(client, run, index)
            elif cell.phase == "submitted":
                run = await self._follow_cell(client, run, index, status)
        run = await self.schedule(client, run)
        if run.active and all(c.phase == "done" for c in run.cells):
            run = await self._end(run)
        if run.model_dump_json() != start:
            await self.store.save(run)
        if _shown(run) != shown:  # not for elapsed time alone: Slack limits chat.update
            await self.refresh(run)
        return run

    async def refresh(self, run: FlowRun) -> None:
        """The run's message shows its table as it is now (a failure is logged: the next
        change updates it again)."""
        await _logged(self.outbox.update_run(run), f"updating run {run.id}'s message")

    async def _follow_cell(
        self, client: SlurmClient, run: FlowRun, index: int, status: dict[str, JobInfo]
    ) -> FlowRun:
        for name in [s.name for s in run.cells[index].steps]:  # topological order
            step = _step(run, index, name)
            if step.settled or step.job_id is None:
                continue
            if step.retry_at is not None:
                if step.retry_at <= time.time():
                    run = await self._retry(client, run, index, step)
                continue
            info = status.get(step.job_id)
            if info is None or info.state in (JobState.UNKNOWN, JobState.NOT_FOUND):
                continue
            run = await self._observe(client, run, index, step, info)
        run = await self._skip_never_runnable(client, run, index)
        if all(s.settled for s in run.cells[index].steps):
            run = _with_cell(run, index, phase="done")
        return run

    async def _observe(
        self, client: SlurmClient, run: FlowRun, index: int, step: FlowStep, info: JobInfo
    ) -> FlowRun:
        seen: dict[str, object] = {"elapsed": info.elapsed, "reason": info.reason}
        if info.state == step.state:
            return _with_step(run, index, step.model_copy(update=seen))
        seen |= {"state": info.state, "exit_code": info.exit_code}
        if not info.state.is_terminal:
            changed = _with_step(run, index, step.model_copy(update=seen))
            if info.state is JobState.PENDING:
                return changed  # the table shows it; the thread gets starts and ends
            return await self._post(changed, start_text(step, info))
        text = await end_text(client, step, info)
        if info.state in RETRYABLE and step.attempts <= step.retry:
            seen["retry_at"] = time.time() + step.retry_delay
            text += "\n" + retry_text(step)
        return await self._post(_with_step(run, index, step.model_copy(update=seen)), text)

    async def _retry(
        self, client: SlurmClient, run: FlowRun, index: int, step: FlowStep
    ) -> FlowRun:
        """Resubmit a failed job; its dependants still waiting are pointed at the new id, and
        those Slurm cancelled already are submitted again."""
        steps = {s.name: s for s in run.cells[index].steps}
        try:
            job_id = await client.submit(step.script, options(run, step, steps))
        except BotError as e:
            log.warning("retrying %s of run %s failed: %s", step.name, run.id, e)
            gave_up = step.model_copy(update={"retry_at": None})
            text = f"`{step.name}`: the retry could not be submitted: {e}"
            return await self._post(_with_step(run, index, gave_up), text)
        steps[step.name] = submitted(step, job_id)
        rewired: list[str] = []
        for child in _descendants(steps, step.name):
            if child.job_id is None or child.skipped:
                continue
            if child.state is not None and child.state.is_terminal:
                steps[child.name] = child.model_copy(update={"job_id": None, "state": None})
                rewired.append(child.name)
            elif any(d.on == step.name for d in child.deps):
                dep = dependency(child, steps)
                if dep:
                    try:
                        await client.set_dependency(child.job_id, dep)
                        rewired.append(child.name)
                    except BotError as e:
                        log.warning("rewiring %s of run %s failed: %s", child.name, run.id, e)
        cell = run.cells[index].with_steps(steps)
        if any(s.job_id is None and not s.skipped for s in cell.steps):
            cell, _ = await submit_cell(client, run, cell)  # those Slurm had cancelled
        run = _with_cells(run, {index: cell})
        new = steps[step.name]
        text = f"`{step.name}`: retry {new.attempts - 1} of {step.retry} submitted as job {job_id}"
        if rewired:
            text += "; " + ", ".join(f"`{n}`" for n in rewired) + " now wait for it"
        return await self._post(run, text)

    async def _skip_never_runnable(self, client: SlurmClient, run: FlowRun, index: int) -> FlowRun:
        """Jobs whose dependency a parent can no longer meet (Slurm leaves them pending as
        DependencyNeverSatisfied): cancelled, and shown as not run."""
        steps = {s.name: s for s in run.cells[index].steps}
        doomed: list[FlowStep] = []
        for s in run.cells[index].steps:  # topological: a skip reaches the grandchildren too
            if s.settled:
                continue
            parents = [(d, steps[d.on]) for d in s.deps if d.on in steps]
            # A job the bot cancelled meets afterany/afternotok/after, never afterok.
            if any(can_never_run(d, p) or (p.skipped and d.kind == "afterok") for d, p in parents):
                steps[s.name] = s.model_copy(update={"skipped": True})
                doomed.append(s)
        if not doomed:
            return run
        try:
            await client.cancel_many([s.job_id for s in doomed if s.job_id])
        except BotError as e:
            log.warning("cancelling the jobs of run %s that cannot run failed: %s", run.id, e)
            return run  # tried again next tick
        cell = run.cells[index].with_steps(steps)
        names = ", ".join(f"`{s.name}`" for s in doomed)
        return await self._post(
            _with_cells(run, {index: cell}), f"not run, a dependency failed: {names}"
        )

    async def schedule(self, client: SlurmClient, run: FlowRun) -> FlowRun:
        """A sweep's next cells, while fewer than max_parallel are in flight; fail_fast
        stops the rest at the first failed cell."""
        if not run.active:
            return run
        if run.fail_fast and any(c.phase == "done" and c.failed for c in run.cells):
            if any(c.phase != "done" for c in run.cells):
                return await self._stop_rest(client, run)
            return run
        busy = sum(1 for c in run.cells if c.phase in ("submitting", "submitted"))
        for index, cell in enumerate(run.cells):
            if busy >= run.max_parallel:
                break
            if cell.phase == "waiting":
                run = await self.submit(client, run, index)
                busy += 1
        return run

    async def submit(self, client: SlurmClient, run: FlowRun, index: int) -> FlowRun:
        """Submit one cell; on a refusal everything of the run already in Slurm is cancelled
        and the run ends as failed, saying which job and why."""
        run = _with_cell(run, index, phase="submitting")
        await self.store.save(run, now=True)  # a crash from here on: `recover` finds its jobs
        cell, failure = await submit_cell(client, run, run.cells[index])
        run = _with_cells(run, {index: cell.model_copy(update={"phase": "submitted"})})
        if failure is None:
            await self.store.save(run, now=True)
            return run
        name, why = failure
        cancelled = await self._cancel_all(client, run)
        text = (
            f"job `{name}` was refused: {why}. Nothing more of run `{run.name}` was submitted"
            + (f"; cancelled the {cancelled} job(s) already submitted." if cancelled else ".")
        )
        return await self._end(_skip_all(run), text=text, outcome="failed")

    async def cancel(self, client: SlurmClient, run: FlowRun, by: str) -> tuple[FlowRun, int]:
        """`flow cancel`: one scancel for every job of the run still queued or running."""
        cancelled = await self._cancel_all(client, run)
        text = f"cancelled by <@{by}>: {cancelled} job(s) stopped"
        stopped = _skip_all(run).model_copy(update={"cancelled_by": by})
        run = await self._end(stopped, text=text, outcome="cancelled")
        await self.store.save(run)
        await self.refresh(run)
        return run, cancelled

    async def _stop_rest(self, client: SlurmClient, run: FlowRun) -> FlowRun:
        cancelled = await self._cancel_all(client, run)
        failed = next(c.index for c in run.cells if c.phase == "done" and c.failed)
        text = f"fail_fast: cell {failed} failed; cancelled {cancelled} job(s), the rest not run"
        return await self._end(_skip_all(run), text=text, outcome="failed")

    async def _cancel_all(self, client: SlurmClient, run: FlowRun) -> int:
        ids = run.live_ids()
        await client.cancel_many(ids)
        return len(ids)

    async def _end(
        self, run: FlowRun, *, text: str | None = None, outcome: str | None = None
    ) -> FlowRun:
        ok = all(s.state is JobState.COMPLETED for _, s in run.steps())
        done = run.model_copy(
            update={
                "active": False,
                "ended": time.time(),
                "outcome": outcome or ("completed" if ok else "failed"),
                "cells": [c.model_copy(update={"phase": "done"}) for c in run.cells],
            }
        )
        summary = run_summary(done)
        return await self._post(done, f"{text}\n{summary}" if text else summary, final=True)

    async def _finish_submitting(self, client: SlurmClient, run: FlowRun, index: int) -> FlowRun:
        try:
            cell = await recover(client, run, run.cells[index])
        except BotError as e:
            log.warning("cannot find the jobs of run %s yet: %s", run.id, e)
            return run
        run = _with_cells(run, {index: cell.model_copy(update={"phase": "waiting"})})
        return await self.submit(client, run, index)  # the jobs it had not got to

    # ------------------------------------------------------------------ posting
    async def _post(self, run: FlowRun, text: str, *, final: bool = False) -> FlowRun:
        """Post into the run's thread, saved with the change it reports before it leaves."""
        seq = run.seq + 1
        run = run.model_copy(
            update={"seq": seq, "in_flight": PendingPost(seq=seq, text=text, final=final)}
        )
        recorded = False

        async def record() -> None:
            nonlocal recorded
            await self.store.record_intent(run)
            recorded = True

        post = ThreadPost(text, final=final, seq=seq, before_send=record)
        try:
            await self.outbox.post_in_run(run, post)
        except TakenElsewhere:  # another replica posts it, and keeps the run's record
            raise Held() from None
        except Exception:
            log.exception("posting to run %s's thread failed", run.id)
            if not recorded:  # saved now, the next tick posts it first
                with contextlib.suppress(TakenElsewhere):
                    await self.store.record_intent(run)
            raise Held() from None
        run = run.model_copy(update={"in_flight": None})
        await self.store.save(run)  # the next post's claim finds this one done
        return run

    async def _resolve(self, run: FlowRun) -> FlowRun:
        """A post saved but perhaps not sent (the bot stopped, or Slack failed): look for it
        in the thread; send it again only if it is not there."""
        pending = run.in_flight
        if pending is None:
            return run
        try:
            found = await self.outbox.posted_in_run(run, pending.seq)
        except Exception:
            log.exception("looking in run %s's thread failed", run.id)
            found = False
        if not found:
            post = ThreadPost(pending.text, final=pending.final, seq=pending.seq)
            try:
                await self.outbox.post_in_run(run, post)
            except Exception:
                log.exception("posting to run %s's thread failed again", run.id)
                raise Held() from None
        run = run.model_copy(update={"in_flight": None})
        await self.store.save(run, now=True)
        return run


def _shown(run: FlowRun) -> tuple[object, ...]:
    """What the run's message shows, but for running time (which changes every poll)."""
    steps = tuple((s.job_id, s.state, s.skipped, s.retry_at, s.reason) for _, s in run.steps())
    return (run.outcome, run.active, steps)


def _step(run: FlowRun, index: int, name: str) -> FlowStep:
    return next(s for s in run.cells[index].steps if s.name == name)


def _with_step(run: FlowRun, index: int, step: FlowStep) -> FlowRun:
    cell = run.cells[index]
    steps = [step if s.name == step.name else s for s in cell.steps]
    return _with_cells(run, {index: cell.model_copy(update={"steps": steps})})


def _with_cell(run: FlowRun, index: int, **update: object) -> FlowRun:
    return _with_cells(run, {index: run.cells[index].model_copy(update=update)})


def _with_cells(run: FlowRun, cells: dict[int, FlowCell]) -> FlowRun:
    return run.model_copy(update={"cells": [cells.get(i, c) for i, c in enumerate(run.cells)]})


def _skip_all(run: FlowRun) -> FlowRun:
    """Everything not ended for good is not run (cancelled, or never submitted)."""
    cells = [
        c.model_copy(
            update={
                "steps": [
                    s if s.settled else s.model_copy(update={"skipped": True, "retry_at": None})
                    for s in c.steps
                ]
            }
        )
        for c in run.cells
    ]
    return run.model_copy(update={"cells": cells})


def _descendants(steps: dict[str, FlowStep], name: str) -> Iterable[FlowStep]:
    """The steps that depend on `name`, directly or not, in topological order."""
    reached = {name}
    for s in steps.values():  # insertion order is topological
        if any(d.on in reached for d in s.deps):
            reached.add(s.name)
            yield s


async def _logged(call: Awaitable[None], what: str) -> None:
    try:
        await call
    except Exception:
        log.exception("%s failed", what)
