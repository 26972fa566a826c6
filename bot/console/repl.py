"""`bot console`: the command grammar in a terminal, acting as a mapped Slack user."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from bot.core import commands as c
from bot.core import replies as r
from bot.core.grammar import help_text, parse
from bot.errors import UsageError
from bot.render.text import render_text

if TYPE_CHECKING:  # `help` without a config loads no feature at all
    from bot.core.access import Access
    from bot.core.dispatch import Dispatch

PROMPT = "srunx> "


def _show(reply: r.Reply) -> bool:
    """Print a reply; True when it was not an error."""
    print(render_text(reply), flush=True)
    return reply.kind != "error"


async def run_one(dispatch: Dispatch, user_id: str, text: str) -> bool:
    return _show(await dispatch.handle(user_id, text))


def help_without_config(text: str) -> bool | None:
    """Answer `help [COMMAND]`, which needs no config or cluster (True when not an error);
    None when `text` is another command."""
    try:
        cmd = parse(text)
    except UsageError as e:
        if text.lower().split()[:1] != ["help"]:
            return None
        return _show(r.ErrorReply(message=str(e)))  # `help nosuch`: say which topics exist
    if not isinstance(cmd, c.Help):
        return None
    return _show(r.HelpReply(text=help_text(cmd.topic)))


async def repl(dispatch: Dispatch, access: Access, user_id: str) -> None:
    import asyncio  # here, not at the top: `-c help` needs no event loop

    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    account = access.account(user_id)
    print(
        f"srunx-bot console as {user_id} (cluster account {account}); "
        "`help` lists commands, Ctrl-D quits."
    )
    loop = asyncio.get_running_loop()
    while True:
        try:
            # input() blocks, so it runs in a thread and the event loop stays free.
            line = await loop.run_in_executor(None, input, PROMPT)
        except EOFError:
            print()
            return
        if line.strip() in ("exit", "quit"):
            return
        if line.strip():
            await run_one(dispatch, user_id, line)
