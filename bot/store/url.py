"""A store URL (`postgresql://USER:PASSWORD@HOST:PORT/DB`) as it may be shown: without its
password. Standard library only: the config imports it, and `help` loads no store library."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")
HIDDEN = "***"
_QUERY_PASSWORD = re.compile(r"(^|&)(password=)[^&]*", re.IGNORECASE)


def is_postgres(url: str) -> bool:
    return urlsplit(url).scheme.lower() in SCHEMES


def redact(url: str) -> str:
    """`url` with the password (in the user part or a `password=` parameter) replaced."""
    try:
        parts = urlsplit(url)
    except ValueError:  # not a URL we can take apart: show none of it
        return HIDDEN
    netloc = parts.netloc
    if "@" in netloc:
        creds, _, where = netloc.rpartition("@")
        user, colon, _ = creds.partition(":")
        netloc = f"{user}:{HIDDEN}@{where}" if colon else f"{user}@{where}"
    query = _QUERY_PASSWORD.sub(rf"\1\2{HIDDEN}", parts.query)
    return urlunsplit(parts._replace(netloc=netloc, query=query))
