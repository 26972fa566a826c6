"""Where a PostgreSQL store is, in words, and its errors in one line: never the password."""

from __future__ import annotations

import pytest

from bot.store.pg_conn import StoreError, Target, reason


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("postgresql://srunx:Sekrit@db.example.org:6543/bot", "srunx@db.example.org:6543/bot"),
        ("postgresql://srunx@db.example.org/bot?password=Sekrit", "srunx@db.example.org:5432/bot"),
        ("host=10.0.0.5 user=srunx password=Sekrit dbname=bot", "srunx@10.0.0.5:5432/bot"),
        ("postgresql:///bot", "(login name)@local socket:5432/bot"),
    ],
)
def test_where_names_user_host_port_and_database(url: str, where: str) -> None:
    target = Target(url)
    assert target.where == where
    assert "Sekrit" not in target.where


def test_a_url_it_cannot_read_is_refused_without_quoting_it() -> None:
    with pytest.raises(StoreError) as refused:
        Target("host=db password='Sekrit")
    assert "Sekrit" not in str(refused.value) and "postgresql://USER" in str(refused.value)


def test_session_settings_join_the_url_unless_it_sets_them() -> None:
    conninfo = Target("postgresql://srunx@db/bot?connect_timeout=3").conninfo
    assert "connect_timeout=3" in conninfo and "keepalives_idle=30" in conninfo


@pytest.mark.parametrize(
    ("message", "said"),
    [
        (
            'connection failed: connection to server at "127.0.0.1", port 1 failed: '
            "Connection refused\n\tIs the server running on that host?",
            "Connection refused",
        ),
        (
            'connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
            'password authentication failed for user "srunx"',
            'password authentication failed for user "srunx"',
        ),
        ("permission denied for schema public", "permission denied for schema public"),
    ],
)
def test_reason_is_libpqs_words_in_one_line(message: str, said: str) -> None:
    assert reason(Exception(message)) == said
