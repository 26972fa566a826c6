"""Who may do what: a Slack user's cluster account, admins, and the channels the bot answers in."""

from __future__ import annotations

import pytest

from bot.config import AccessConfig, UserGrant
from bot.core.access import Access, NotSetUp, error_reply
from bot.errors import AccessDenied, UsageError

ACCESS = Access(
    AccessConfig(
        users={"U1": UserGrant(account="alice"), "U9": UserGrant(account="root9")},
        admins=["U9", "U8"],
        channels=["C1"],
        reports={"C2": ["U1"]},
    )
)


def test_a_mapped_user_acts_as_their_account() -> None:
    assert ACCESS.account("U1") == "alice"
    assert ACCESS.account_or_none("U1") == "alice" and ACCESS.account_or_none("U5") is None


def test_an_unmapped_user_is_told_whom_to_ask_and_the_reply_mentions_them() -> None:
    with pytest.raises(NotSetUp) as caught:
        ACCESS.grant("U5")
    assert "ask <@U9>, <@U8> to map your Slack user (U5)" in str(caught.value)
    assert caught.value.mentions == ["U9", "U8"]
    reply = error_reply(caught.value)
    assert reply.message == str(caught.value) and reply.mentions == ["U9", "U8"]


def test_without_admins_the_message_says_your_admins() -> None:
    with pytest.raises(NotSetUp, match="ask your admins to map") as caught:
        Access(AccessConfig()).grant("U5")
    assert caught.value.mentions == []


def test_other_errors_mention_nobody() -> None:
    assert error_reply(UsageError("no <@U9> here")).mentions == []


def test_the_bot_answers_in_its_channels_dms_and_the_console_only() -> None:
    ACCESS.check_channel("C1", dm=False)
    ACCESS.check_channel("D7", dm=True)
    ACCESS.check_channel(None, dm=False)  # the console
    with pytest.raises(AccessDenied, match=r"use it in <#C1> or DM me"):
        ACCESS.check_channel("C2", dm=False)
    Access(AccessConfig()).check_channel("C2", dm=False)  # no rule: everywhere


def test_admins_and_granted_users_may_report_into_a_channel() -> None:
    assert ACCESS.is_admin("U9") and not ACCESS.is_admin("U1")
    assert ACCESS.may_report_into("U1", "C2") and ACCESS.may_report_into("U9", "C3")
    assert not ACCESS.may_report_into("U1", "C3")
