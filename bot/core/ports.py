"""What features post through. The Slack notifier implements all of it; tests record it; the
console has no channels to post into. Features take the narrowest part they use: GPU alerts
and scheduled reports need only `Poster`, job threads need `ThreadOutbox`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from bot.core.flowruns import FlowRun
from bot.core.models import JobInfo
from bot.core.records import JobThread
from bot.core.replies import Reply
from bot.errors import UsageError

# The console's address for watches: what would be posted there is printed in the terminal.
TERMINAL = "terminal"


@dataclass(frozen=True)
class ThreadPost:
    """One reply in a job's thread. `seq`: the transition it posts (marked on the message, so
    a restarted bot can find it); `before_send` runs as the message leaves, after any queueing
    for the channel; `final`: the job's end (broadcast to the channel when asked)."""

    text: str
    final: bool = False
    seq: int | None = None
    before_send: Callable[[], Awaitable[None]] | None = None


class Poster(Protocol):
    async def post(self, channel: str, reply: Reply, mark: str | None = None) -> str:
        """Post a reply as a new message in `channel`; return its ts. Raises if it was refused
        (PostRefused, with what to do about it). `mark` goes with the message, so `posted`
        can find it again (a report's slot)."""
        ...

    async def posted(self, channel: str, mark: str) -> bool:
        """Whether a message marked `mark` is among the latest in `channel`; False when the
        channel cannot be read."""
        ...


class ThreadOutbox(Protocol):
    """A job's card and thread, and notices about a cluster's outages."""

    async def post_card(
        self, channel: str, thread_ts: str | None, cluster: str, job: JobInfo
    ) -> str:
        """Post a job's card; return its ts."""
        ...

    async def update_card(self, thread: JobThread, job: JobInfo) -> None: ...

    async def post_reply(self, thread: JobThread, post: ThreadPost) -> None:
        """Reply in the job's thread."""
        ...

    async def posted_in_thread(self, thread: JobThread, seq: int) -> bool:
        """Whether transition `seq` is in the thread; False when the thread cannot be read."""
        ...

    async def post_notice(self, channel: str, text: str) -> None: ...


class FlowOutbox(Protocol):
    """A workflow run's parent message (its table of jobs, updated in place) and its thread.
    Posts carry the run's id and `seq` like a job thread's, for exactly-once after a crash."""

    async def post_run(self, run: FlowRun) -> str:
        """Post the run's parent message in `run.channel`; return its ts."""
        ...

    async def update_run(self, run: FlowRun) -> None: ...

    async def post_in_run(self, run: FlowRun, post: ThreadPost) -> None:
        """Reply in the run's thread (under `run.parent_ts`)."""
        ...

    async def posted_in_run(self, run: FlowRun, seq: int) -> bool:
        """Whether post `seq` is in the run's thread; False when it cannot be read."""
        ...


class Outbox(Poster, ThreadOutbox, FlowOutbox, Protocol):
    """Everything a surface with channels delivers for the features."""


class Nowhere:
    """The outbox of a surface without channels (`bot check`, tests). Commands that post are
    refused before they get here (see dispatch); this only guards the rule."""

    def _refuse(self) -> UsageError:
        return UsageError("this posts into Slack: use it in Slack (`bot serve`)")

    async def post(self, channel: str, reply: Reply, mark: str | None = None) -> str:
        raise self._refuse()

    async def posted(self, channel: str, mark: str) -> bool:
        return False

    async def post_card(
        self, channel: str, thread_ts: str | None, cluster: str, job: JobInfo
    ) -> str:
        raise self._refuse()

    async def update_card(self, thread: JobThread, job: JobInfo) -> None:
        raise self._refuse()

    async def post_reply(self, thread: JobThread, post: ThreadPost) -> None:
        raise self._refuse()

    async def posted_in_thread(self, thread: JobThread, seq: int) -> bool:
        return False

    async def post_notice(self, channel: str, text: str) -> None:
        raise self._refuse()

    async def post_run(self, run: FlowRun) -> str:
        raise self._refuse()

    async def update_run(self, run: FlowRun) -> None:
        raise self._refuse()

    async def post_in_run(self, run: FlowRun, post: ThreadPost) -> None:
        raise self._refuse()

    async def posted_in_run(self, run: FlowRun, seq: int) -> bool:
        return False
