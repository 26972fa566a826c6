"""Who may do what: the Slack user's cluster account, admins, and where the bot answers."""

from __future__ import annotations

from bot.config import AccessConfig, UserGrant
from bot.core.replies import ErrorReply
from bot.errors import AccessDenied, BotError


class NotSetUp(AccessDenied):
    """A Slack user with no cluster account; `mentions`: the admins the message names."""

    def __init__(self, message: str, mentions: list[str]) -> None:
        super().__init__(message)
        self.mentions = mentions


def error_reply(e: BotError) -> ErrorReply:
    """The reply for an error, keeping the mentions the bot means to make."""
    return ErrorReply(message=str(e), mentions=e.mentions if isinstance(e, NotSetUp) else [])


class Access:
    def __init__(self, config: AccessConfig) -> None:
        self.config = config

    def grant(self, user_id: str) -> UserGrant:
        grant = self.config.users.get(user_id)
        if grant is None:
            ids = list(self.config.admins)
            admins = ", ".join(f"<@{a}>" for a in ids) or "your admins"
            raise NotSetUp(
                f"you are not set up to use srunx-bot yet; ask {admins} to map your Slack user "
                f"({user_id}) to your cluster account in access.users",
                ids,
            )
        return grant

    def account(self, user_id: str) -> str:
        return self.grant(user_id).account

    def account_or_none(self, user_id: str) -> str | None:
        """The user's account, or None for an unmapped user (for the audit log)."""
        grant = self.config.users.get(user_id)
        return grant.account if grant else None

    def check_channel(self, channel: str | None, dm: bool) -> None:
        """`access.channels` limits where the bot answers; DMs and the console always work."""
        allowed = self.config.channels
        if channel is None or dm or not allowed or channel in allowed:
            return
        where = ", ".join(f"<#{ch}>" for ch in allowed)
        raise AccessDenied(f"srunx-bot does not answer in this channel; use it in {where} or DM me")

    def admit(self, user_id: str, channel: str | None, dm: bool) -> None:
        """Whether the user may use the bot here at all: mapped, and in a channel it answers
        in; AccessDenied saying why otherwise."""
        self.grant(user_id)
        self.check_channel(channel, dm)

    def is_admin(self, user_id: str) -> bool:
        return user_id in self.config.admins

    def may_report_into(self, user_id: str, channel: str) -> bool:
        return self.is_admin(user_id) or user_id in self.config.reports.get(channel, [])
