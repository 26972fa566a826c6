"""A file attached to a mention or DM: a job script for `submit`, a workflow's YAML for
`flow run|validate`. Checked from the event's file object, then downloaded with the bot
token (the `files:read` scope)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.commands import AttachedScript
from bot.errors import UsageError

log = logging.getLogger(__name__)

MAX_SCRIPT_BYTES = 256 * 1024  # the same cap as a script or workflow read on the cluster
SCRIPT_SUFFIXES = (".sh", ".slurm", ".sbatch")
YAML_SUFFIXES = (".yaml", ".yml")
# The token goes only to Slack's file host (or the host of the configured API, a stand-in in
# tests): an event's URL pointing elsewhere never gets it.
_FILE_HOSTS = frozenset({"files.slack.com"})
_TIMEOUT = aiohttp.ClientTimeout(total=30)


def wanted_file(text: str) -> tuple[str, tuple[str, ...]] | None:
    """What the command reads from an attached file, and its suffixes: only `submit` (a job
    script) and `flow run|validate` (a workflow) do; other commands ignore attachments."""
    words = text.lower().split(maxsplit=2)
    if words[:1] == ["submit"]:
        return "job script", SCRIPT_SUFFIXES
    if words[:1] == ["flow"] and words[1:2] in (["run"], ["validate"]):
        return "workflow", YAML_SUFFIXES
    return None


async def attached_file(
    files: list[dict[str, Any]], client: AsyncWebClient, what: str, suffixes: tuple[str, ...]
) -> AttachedScript | None:
    """The one file (a `what`, named with one of `suffixes`) attached to the message,
    downloaded; None without a file. A refusal (type, size, download) is a UsageError."""
    if not files:
        return None
    if len(files) > 1:
        raise UsageError(f"attach one {what}, not {len(files)} files")
    file = files[0]
    name = str(file.get("name") or file.get("title") or "")
    if not name.lower().endswith(suffixes):
        raise UsageError(
            f"`{name or 'the attached file'}` is not a {what}: attach a "
            + "/".join(f"`{s}`" for s in suffixes)
            + " file"
        )
    size = file.get("size")
    if isinstance(size, int) and size > MAX_SCRIPT_BYTES:
        raise UsageError(f"`{name}` is {size // 1024} KiB; a {what} may be at most 256 KiB")
    url = file.get("url_private_download") or file.get("url_private")
    if not isinstance(url, str) or not url:
        raise UsageError(f"Slack gives no download for `{name}`; paste it in a ```fenced block```")
    data = await download_private_file(client, url, name)
    if b"\x00" in data:
        raise UsageError(f"`{name}` is not a text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"`{name}` is not UTF-8 text") from None
    return AttachedScript(name=name, text=text)


def _allowed(url: str, client: AsyncWebClient) -> bool:
    parts, api = urlsplit(url), urlsplit(client.base_url)
    if parts.scheme == "https" and parts.hostname in _FILE_HOSTS:
        return True
    return (parts.scheme, parts.netloc) == (api.scheme, api.netloc)


async def download_private_file(client: AsyncWebClient, url: str, name: str) -> bytes:
    """A file's bytes from its private URL with the bot token, at most MAX_SCRIPT_BYTES.
    No redirects: Slack answers a missing scope with a redirect to its login page, and a
    redirect must not carry the token anywhere else."""
    if not _allowed(url, client) or not client.token:
        raise UsageError(f"cannot download `{name}`: its address is not Slack's")
    headers = {"Authorization": f"Bearer {client.token}"}
    try:
        async with (
            aiohttp.ClientSession(timeout=_TIMEOUT) as session,
            session.get(url, headers=headers, allow_redirects=False) as resp,
        ):
            if resp.status != 200 or resp.content_type == "text/html":
                log.warning("download of attached %r answered HTTP %s", name, resp.status)
                raise UsageError(
                    f"the bot could not download `{name}` (HTTP {resp.status}); "
                    "does the app have the files:read scope?"
                )
            data = await resp.content.read(MAX_SCRIPT_BYTES + 1)
            # read(n) may return less than n before the end: read on to the cap
            while len(data) <= MAX_SCRIPT_BYTES:
                more = await resp.content.read(MAX_SCRIPT_BYTES + 1 - len(data))
                if not more:
                    break
                data += more
    except (aiohttp.ClientError, TimeoutError) as e:
        log.warning("download of attached %r failed: %s", name, type(e).__name__)
        raise UsageError(f"the bot could not download `{name}`; try again") from None
    if len(data) > MAX_SCRIPT_BYTES:
        raise UsageError(f"`{name}` is over 256 KiB; a file may be at most 256 KiB")
    return data
