"""`bot console`: the command grammar in a terminal, acting as a mapped Slack user."""

from __future__ import annotations

import asyncio
import contextlib

from bot.console.render import render_text
from bot.core.service import Service

PROMPT = "srunx> "


async def run_one(service: Service, user_id: str, text: str) -> bool:
    """Print the reply to one command; True when it was not an error."""
    reply = await service.handle(user_id, text)
    print(render_text(reply), flush=True)
    return reply.kind != "error"


async def repl(service: Service, user_id: str) -> None:
    with contextlib.suppress(ImportError):
        import readline  # noqa: F401  (line editing and history for input())
    account = service.grant(user_id).account
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
            await run_one(service, user_id, line)
