"""A store URL as it may be shown: everything but the password."""

from __future__ import annotations

import pytest

from bot.store.url import is_postgres, redact


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://srunx:Sekrit@db:5432/bot", "postgresql://srunx:***@db:5432/bot"),
        ("postgres://srunx@db/bot", "postgres://srunx@db/bot"),
        (
            "postgresql://srunx@db/bot?sslmode=require&password=Sekrit",
            "postgresql://srunx@db/bot?sslmode=require&password=***",
        ),
        ("postgresql://srunx:p%40ss:w@db/bot", "postgresql://srunx:***@db/bot"),
        ("postgresql://[::1/bot", "***"),  # not a URL it can take apart: nothing of it
    ],
)
def test_the_password_is_never_shown(url: str, shown: str) -> None:
    assert redact(url) == shown


def test_only_postgresql_urls_are_stores() -> None:
    assert is_postgres("postgresql://db/bot") and is_postgres("POSTGRES://db/bot")
    assert not is_postgres("mysql://db/bot") and not is_postgres("/var/lib/state")
