"""A thread command without a job id: the job's thread, or a thread older than the bot keeps
(its record pruned) answered as such, never guessed."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest

from bot.config import parse_config
from bot.core.records import JobThread
from bot.core.replies import ErrorReply
from bot.runtime import Runtime
from bot.slack.context import SlackContext
from bot.slack.delivery import Delivery

DAY = 86400.0


@pytest.fixture
async def ctx() -> AsyncIterator[SlackContext]:
    config = parse_config({"clusters": [{"name": "lab"}], "state": {"retention": "30d"}})
    rt = await Runtime.open(config)
    yield SlackContext(
        dispatch=rt.dispatch,
        access=rt.access,
        home=rt.home,
        threads=rt.threads,
        delivery=Delivery(rt.monitor),
        cluster_names=["lab"],
    )
    await rt.close()


def _thread(ts: str) -> JobThread:
    return JobThread(
        cluster="lab", job_id="77", account="a", user_id="U1", channel="C1", thread_ts=ts
    )


async def test_a_job_threads_command_names_its_job(ctx: SlackContext) -> None:
    ts = f"{time.time() - 40 * DAY:.6f}"  # old, but its job finished lately: still kept
    await ctx.threads.save_thread(_thread(ts).model_copy(update={"done": True}))
    assert await ctx.in_thread("tail -n 5", "C1", ts) == "tail 77 --cluster lab -n 5"


async def test_a_pruned_thread_says_so_and_suggests_the_id(ctx: SlackContext) -> None:
    old = f"{time.time() - 40 * DAY:.6f}"
    await ctx.threads.save_thread(_thread(old).model_copy(update={"done": True}))
    assert await ctx.threads.prune(time.time() + 31 * DAY) == 1
    reply = await ctx.in_thread("status", "C1", old)
    assert isinstance(reply, ErrorReply)
    assert reply.message == (
        "this job's thread is older than the bot keeps (30 days); use `status ID`"
    )


async def test_a_recent_thread_of_no_job_is_left_to_the_grammar(ctx: SlackContext) -> None:
    assert await ctx.in_thread("cancel", "C1", f"{time.time() - DAY:.6f}") == "cancel"
    assert await ctx.in_thread("status 12", "C1", "1.0") == "status 12"  # an id: as typed
