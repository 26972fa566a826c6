"""Typed errors: each a sentence for users; the transport's keep the OS's own text apart."""

from __future__ import annotations

import pytest

from bot.errors import (
    AccessDenied,
    BotError,
    ConfigError,
    HostKeyError,
    KeyFileError,
    PostRefused,
    SlurmError,
    TransportError,
    UnreachableError,
    UsageError,
)


@pytest.mark.parametrize(
    "kind",
    [ConfigError, UsageError, AccessDenied, TransportError, SlurmError, PostRefused],
)
def test_every_error_is_a_bot_error_shown_as_its_sentence(kind: type[BotError]) -> None:
    err = kind("ask an admin")
    assert isinstance(err, BotError) and str(err) == "ask an admin"


@pytest.mark.parametrize("kind", [HostKeyError, UnreachableError, KeyFileError])
def test_what_keeps_a_cluster_out_of_reach_is_a_transport_error(
    kind: type[TransportError],
) -> None:
    assert issubclass(kind, TransportError)


def test_unreachable_keeps_the_os_detail_out_of_the_message() -> None:
    err = UnreachableError("login node did not answer", "[Errno 111] Connection refused")
    assert str(err) == "login node did not answer"
    assert err.detail == "[Errno 111] Connection refused"
    assert UnreachableError("no route").detail == ""
