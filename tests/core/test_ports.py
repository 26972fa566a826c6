"""The outbox port: what a surface without channels (the console) answers when asked to post;
the test recorder is a whole Outbox."""

from collections.abc import Awaitable, Callable

import pytest

from bot.core import replies as r
from bot.core.models import JobInfo, JobState
from bot.core.ports import Nowhere, Outbox, ThreadPost
from bot.core.records import JobThread
from bot.errors import UsageError
from labkit import Recorder

JOB = JobInfo(job_id="7", state=JobState.RUNNING)
THREAD = JobThread(cluster="lab", job_id="7", account="alice", user_id="U1", channel="C1")
NOWHERE = Nowhere()
POSTS: dict[str, Callable[[], Awaitable[object]]] = {
    "post": lambda: NOWHERE.post("C1", r.Done(text="hi")),
    "post_card": lambda: NOWHERE.post_card("C1", None, "lab", JOB),
    "update_card": lambda: NOWHERE.update_card(THREAD, JOB),
    "post_reply": lambda: NOWHERE.post_reply(THREAD, ThreadPost("RUNNING")),
    "post_notice": lambda: NOWHERE.post_notice("C1", "lab is down"),
}


@pytest.mark.parametrize("method", sorted(POSTS))
async def test_nowhere_refuses_every_post_saying_where_it_works(method: str) -> None:
    with pytest.raises(UsageError, match=r"use it in Slack \(`bot serve`\)"):
        await POSTS[method]()


async def test_nowhere_has_no_thread_to_read() -> None:
    assert await NOWHERE.posted_in_thread(THREAD, 1) is False


def test_a_thread_post_is_a_plain_note_unless_told() -> None:
    post = ThreadPost("hello")
    assert (post.final, post.seq, post.before_send) == (False, None, None)


def test_the_test_recorder_and_nowhere_are_outboxes() -> None:
    outboxes: list[Outbox] = [Recorder(), Nowhere()]  # checked by mypy
    assert len(outboxes) == 2
