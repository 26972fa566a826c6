"""The storage port: exactly the operations the features need, on JSON records.

The feature stores (bot/core/watches/store.py, bot/core/reports/store.py,
bot/core/flows/store.py, bot/core/prefs.py, bot/slack/dedup.py) turn their models into records
and back; a backend implements this port (bot/store/state.py does it on any
bot/store/backend.py collections: TinyDB files, memory, PostgreSQL). The contract every
backend passes is tests/store/test_port.py.

Writes are durable when they return, except inside `batch()` (a poll tick's post-marks),
where they become durable together when it ends; `now=True` is durable at once even there.

Several replicas may share one store (PostgreSQL): `claim` is the conditional write that lets
only one of them post a given transition or report slot, and `leases` which of them polls
a cluster. A backend for one process (TinyDB files, memory) holds every lease.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractAsyncContextManager
from typing import Protocol

from bot.store.backend import Doc


class Threads(Protocol):
    """Job threads, by key `cluster:job_id`. Open ones are live; closed ones are history,
    still found by key or (channel, thread_ts) until pruned."""

    async def save(self, doc: Doc, *, now: bool = False) -> None: ...

    async def by_key(self, key: str) -> Doc | None: ...

    async def at(self, channel: str, thread_ts: str) -> Doc | None: ...

    async def claim(self, doc: Doc, seq: int) -> bool:
        """Save `doc` (a transition about to be posted) only if the stored thread has posted
        `seq` transitions and has none in flight; False (nothing saved) when another replica
        got there first. Durable when it returns, batch or not."""
        ...

    async def open_json(self, cluster: str | None = None) -> list[str]:
        """The open threads (of one cluster), each as its JSON text: a poll tick reads
        thousands, and a model parses the text in one step (no dicts in between)."""
        ...

    async def close(self, docs: Iterable[Doc], *, now: bool = False) -> None:
        """Finished: to history, in one write."""
        ...

    async def prune(self, before: float) -> int:
        """Forget threads closed before `before`; how many went."""
        ...


class Watches(Protocol):
    async def add(self, doc: Doc) -> bool:
        """False (nothing stored) when its id is taken."""
        ...

    async def of_user(self, user_id: str | None = None) -> list[Doc]:
        """A user's watches; everyone's with None."""
        ...

    async def of_kind(self, kind: str, cluster: str) -> list[Doc]: ...

    async def save(self, doc: Doc) -> None: ...

    async def apply(self, changed: Iterable[Doc], removed: Iterable[str]) -> None:
        """Many watches' new states and removals in one write."""
        ...

    async def remove(self, ids: Iterable[str]) -> None: ...


class Reports(Protocol):
    async def add(self, doc: Doc) -> bool:
        """False (nothing stored) when its id is taken."""
        ...

    async def save(self, doc: Doc) -> None: ...

    async def claim(self, doc: Doc, last_slot: float | None) -> bool:
        """Save `doc` (the next slot taken) only if the stored schedule's `last_slot` is still
        `last_slot`: of the replicas firing one slot, one posts it. Durable when it returns."""
        ...

    async def reclaim(self, doc: Doc, posting_since: float) -> bool:
        """Save `doc` only if the stored schedule is still marked posting since
        `posting_since`: of the replicas finding a slot left half-posted, one finishes it."""
        ...

    async def get(self, report_id: str) -> Doc | None: ...

    async def of_user(self, user_id: str | None = None) -> list[Doc]: ...

    async def remove(self, report_id: str) -> None: ...


class Flows(Protocol):
    """Workflow runs, by id. Active ones are live (a poll tick reads its cluster's); a run
    saved finished (`active` false) is history from its `ended` on, still found by id and by
    user until pruned, so finished runs piling up cost a tick and a save nothing."""

    async def add(self, doc: Doc) -> bool:
        """False (nothing stored) when its id is taken, by a live run or a finished one."""
        ...

    async def save(self, doc: Doc, *, now: bool = False) -> None: ...

    async def get(self, run_id: str) -> Doc | None: ...

    async def claim(self, doc: Doc, seq: int) -> bool:
        """As `Threads.claim`: save `doc` (a post about to leave) only if the stored run is at
        `seq` with nothing in flight. Durable when it returns."""
        ...

    async def active_json(self, cluster: str) -> list[str]:
        """The active runs of a cluster, each as its JSON text (as `Threads.open_json`)."""
        ...

    async def of_user(self, user_id: str | None = None, limit: int | None = None) -> list[Doc]:
        """A user's runs (everyone's with None): every active one, and of the finished
        ones the `limit` that ended last (all with None)."""
        ...

    async def prune(self, before: float) -> int:
        """Forget the runs that ended before `before` (to the hour); how many went."""
        ...


class Prefs(Protocol):
    async def clusters(self) -> dict[str, str]:
        """Every user's default cluster."""
        ...

    async def set_cluster(self, user_id: str, cluster: str) -> None: ...

    async def defaults(self) -> dict[str, dict[str, Doc]]:
        """Every user's own job defaults (`defaults set`): user -> cluster -> values."""
        ...

    async def set_defaults(self, user_id: str, cluster: str, values: Doc) -> None:
        """Replace a user's defaults on a cluster; empty `values` forgets them."""
        ...


class Seen(Protocol):
    """Ids handled once (Slack's event ids, slash-command trigger ids, form submissions'
    view ids), each for a while; shared by every process on the same state."""

    async def first(self, key: str, at: float, expired: float) -> bool:
        """Record `key` as seen at `at`; False when it was seen already, after `expired`."""
        ...


class Leases(Protocol):
    """Which replica does a cluster's polling: a lease is held by one process at a time, and
    is freed when that process dies (its database session ends)."""

    async def hold(self, name: str) -> bool:
        """Take the lease `name`, or keep it; False while another process holds it."""
        ...

    def held(self) -> list[str]:
        """The leases this process holds now."""
        ...


class State(Protocol):
    @property
    def threads(self) -> Threads: ...

    @property
    def watches(self) -> Watches: ...

    @property
    def reports(self) -> Reports: ...

    @property
    def flows(self) -> Flows: ...

    @property
    def prefs(self) -> Prefs: ...

    @property
    def seen(self) -> Seen: ...

    @property
    def leases(self) -> Leases: ...

    async def describe(self) -> str:
        """The backend, where it is, and whether it answers (for `bot check`); never a
        password."""
        ...

    def batch(self) -> AbstractAsyncContextManager[None]:
        """Writes inside (by this task) become durable together when it exits."""
        ...

    async def close(self) -> None: ...
