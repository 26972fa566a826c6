"""Replies are plain, frozen data; errors, help and confirmations are only for the caller."""

from __future__ import annotations

import pydantic
import pytest

from bot.core import replies as r
from bot.core.models import JobInfo, JobState


@pytest.mark.parametrize(
    ("channel", "words"),
    [
        ("C0123ABC", "in <#C0123ABC>"),
        ("G77", "in <#G77>"),
        ("D42", "in your DM"),
        ("#general", "in #general"),
    ],
)
def test_where_names_a_channel_as_slack_shows_it(channel: str, words: str) -> None:
    assert r.where(channel) == words


def test_errors_help_and_confirmations_are_ephemeral_results_are_not() -> None:
    assert r.ErrorReply(message="no").ephemeral and r.HelpReply(text="h").ephemeral
    assert r.Done(text="ok").ephemeral
    status = r.StatusReply(cluster="lab", job=JobInfo(job_id="1", state=JobState.RUNNING))
    assert not status.ephemeral and not r.Alert(text="GPUs free").ephemeral
    assert [x.kind for x in (status, r.Done(text="ok"))] == ["status", "done"]


def test_a_reply_is_frozen_and_takes_no_unknown_field() -> None:
    reply = r.ErrorReply(message="no")
    with pytest.raises(pydantic.ValidationError):
        reply.message = "yes"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        r.Done.model_validate({"text": "ok", "colour": "red"})
