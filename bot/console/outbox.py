"""The console's outbox: what a job's thread, a workflow run, a GPU alert or a notice would
post in Slack, printed in the terminal as plain text. The watches and runs go through the same
feature code as in Slack; only where their messages land differs."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable

from bot.core import replies as r
from bot.core.flowruns import FlowRun
from bot.core.models import JobInfo
from bot.core.ports import ThreadPost
from bot.core.records import JobThread
from bot.render.text import render_text

_BOLD_RE = re.compile(r"\*([^*\n]+)\*")


def plain(text: str) -> str:
    """A thread message's mrkdwn as terminal text: no bold stars, code fences on own lines."""
    text = _BOLD_RE.sub(r"\1", text)
    return text.replace(":\n```", ":\n").replace("```", "\n").rstrip("\n")


def _print(text: str) -> None:
    print(text, flush=True)


class TerminalOutbox:
    """Implements bot/core/ports.py's Outbox by printing; `write` is replaceable for tests."""

    def __init__(self, write: Callable[[str], None] = _print) -> None:
        self.write = write
        self._ts = itertools.count(1)
        self._ended: set[str] = set()  # runs whose final table is printed

    def _next_ts(self) -> str:
        return f"terminal.{next(self._ts)}"

    async def posted(self, channel: str, mark: str) -> bool:
        return False  # the terminal cannot be read back

    async def post(self, channel: str, reply: r.Reply, mark: str | None = None) -> str:
        self.write(render_text(reply))
        return self._next_ts()

    async def post_card(
        self, channel: str, thread_ts: str | None, cluster: str, job: JobInfo
    ) -> str:
        self.write(render_text(r.StatusReply(cluster=cluster, job=job)))
        return self._next_ts()

    async def update_card(self, thread: JobThread, job: JobInfo) -> None:
        """Nothing: the transition that changed the card was printed already."""

    async def post_reply(self, thread: JobThread, post: ThreadPost) -> None:
        if post.before_send is not None:
            await post.before_send()
        self.write(f"job {thread.job_id} on {thread.cluster}: {plain(post.text)}")

    async def posted_in_thread(self, thread: JobThread, seq: int) -> bool:
        return False  # nothing to read back: an interrupted transition is printed again

    async def post_notice(self, channel: str, text: str) -> None:
        self.write(text)

    async def post_run(self, run: FlowRun) -> str:
        self.write(render_text(r.FlowRunReply(run=run)))
        return self._next_ts()

    async def update_run(self, run: FlowRun) -> None:
        """The table once more when the run has ended; before that each change is printed
        as it is posted (post_in_run)."""
        if not run.active and run.id not in self._ended:
            self._ended.add(run.id)
            self.write(render_text(r.FlowRunReply(run=run)))

    async def post_in_run(self, run: FlowRun, post: ThreadPost) -> None:
        if post.before_send is not None:
            await post.before_send()
        # Every line prefixed: a run's posts interleave with other runs' and jobs' posts.
        for line in plain(post.text).splitlines() or [""]:
            self.write(f"{run.name}: {line}".rstrip())

    async def posted_in_run(self, run: FlowRun, seq: int) -> bool:
        return False  # as posted_in_thread
