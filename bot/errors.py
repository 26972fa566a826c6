"""Typed errors. Every one carries a sentence a user can act on; surfaces print `str(err)`."""


class BotError(Exception):
    """Base of every error the bot turns into a reply instead of a traceback."""


class ConfigError(BotError):
    """The YAML config is missing, unreadable or invalid."""


class UsageError(BotError):
    """The user's command text is malformed (unknown flag, bad value, missing `--`)."""


class AccessDenied(BotError):
    """The user may not do this (not mapped, not admin, not their job)."""


class TransportError(BotError):
    """The cluster could not be reached or a command could not be run on it."""


class HostKeyError(TransportError):
    """The cluster's SSH host key is unknown or changed: never bypassed."""


class SlurmError(BotError):
    """A Slurm command ran and reported an error."""


class PostRefused(BotError):
    """Slack would not take a message the bot posts on its own (not in the channel, say)."""


class UnreachableError(TransportError):
    """A login node or jump host did not answer, refused, or dropped the link.

    The message says so in words for users; `detail` keeps the OS's (or asyncssh's) own text
    for the log and `bot check`.
    """

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.detail = detail


class KeyFileError(TransportError):
    """One account's SSH key file is missing or cannot be loaded (malformed, passphrase)."""


class TakenElsewhere(Exception):
    """Another replica on the same store recorded this post (a transition, a report slot)
    first: this one must not post it. Not a BotError: no user ever sees it."""
