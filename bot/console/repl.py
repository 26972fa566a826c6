"""`bot console`: the command grammar in a terminal, acting as a mapped Slack user."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from bot.core import commands as c
from bot.core import replies as r
from bot.core.grammar import help_text, parse
from bot.errors import UsageError
from bot.render.json import render_json
from bot.render.text import render_text

if TYPE_CHECKING:  # `help` without a config loads no feature at all
    from bot.console.follow import Follower
    from bot.core.access import Access
    from bot.core.dispatch import Dispatch

PROMPT = "srunx> "


def _show(reply: r.Reply, as_json: bool = False) -> bool:
    """Print a reply (as text, or as JSON for `--json`); True when it was not an error."""
    print(render_json(reply) if as_json else render_text(reply), flush=True)
    return reply.kind != "error"


async def run_one(
    dispatch: Dispatch,
    user_id: str,
    text: str,
    *,
    as_json: bool = False,
    follower: Follower | None = None,
) -> bool:
    """Run and show one command; a watch it set is then followed here (with a follower)."""
    ok = _show(await dispatch.handle(user_id, text), as_json)
    if ok and follower is not None and not as_json:  # `--json` prints one reply, no stream
        await follower.follow(user_id, parse(text))  # it parsed: dispatch ran it
    return ok


def help_without_config(text: str, *, as_json: bool = False) -> bool | None:
    """Answer `help [COMMAND]`, which needs no config or cluster (True when not an error);
    None when `text` is another command."""
    try:
        cmd = parse(text)
    except UsageError as e:
        if text.lower().split()[:1] != ["help"]:
            return None
        # `help nosuch`: say which topics exist
        return _show(r.ErrorReply(message=str(e)), as_json)
    if not isinstance(cmd, c.Help):
        return None
    return _show(r.HelpReply(text=help_text(cmd.topic)), as_json)


async def repl(
    dispatch: Dispatch, access: Access, user_id: str, *, follower: Follower | None = None
) -> None:
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
            await run_one(dispatch, user_id, line, follower=follower)
