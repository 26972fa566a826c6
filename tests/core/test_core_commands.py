"""Parsed commands (bot/core/commands.py) are plain, frozen data with the grammar's defaults."""

from __future__ import annotations

import typing

import pydantic
import pytest

from bot.core import commands as c


def test_defaults_are_what_a_bare_command_means() -> None:
    assert c.Tail(job_id="1").lines == 20
    assert (c.History().since, c.History().since_text) == ("now-1days", "1d")
    assert c.ReportNow().include == ("resources", "jobs") and c.ReportNow().channel is None
    assert c.ListJobs() == c.ListJobs(all=False, gpus=False, cluster=None)


def test_a_command_is_frozen_and_refuses_unknown_fields() -> None:
    cmd = c.Status(job_id="12", cluster="lab")
    with pytest.raises(pydantic.ValidationError):
        cmd.job_id = "13"  # type: ignore[misc]
    with pytest.raises(pydantic.ValidationError):
        c.Status.model_validate({"job_id": "12", "user": "bob"})


def test_every_command_has_its_own_kind() -> None:
    kinds = [t.model_fields["kind"].default for t in typing.get_args(c.Command)]
    # Unique, not counted: every part adding a command would have to edit the count.
    assert len(kinds) == len(set(kinds)) >= 21
    assert c.SubmitForm().kind == "submit_form" and c.WatchGpus(gpus=2).kind == "watch_gpus"
