"""`bot` command line: serve (the Slack app), console, check."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys

import aiohttp

from bot.config import Config, load_config, state_dir
from bot.console.repl import repl, run_one
from bot.core.audit import AuditLog
from bot.core.service import Service
from bot.core.store import Store
from bot.errors import BotError


def _setup_logging(default: str) -> None:
    logging.basicConfig(
        level=os.environ.get("SRUNX_BOT_LOG_LEVEL", default).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("asyncssh").setLevel(logging.WARNING)


def _default_user(config: Config, wanted: str | None) -> str:
    if wanted:
        return wanted
    if not config.access.users:
        raise BotError("no users in access.users; add one, or pass --as SLACK_ID")
    return next(iter(config.access.users))


def _service(config: Config) -> Service:
    return Service(config, audit=AuditLog(state_dir() / "audit.jsonl"))


async def _serve(config: Config, http: bool, host: str, port: int) -> int:
    from bot.slack.app import serve  # Slack libraries load only when serving
    from bot.slack.settings import SlackSettings

    settings = SlackSettings.from_env(http=http)
    service = _service(config)
    store = Store(state_dir() / "state.json")
    try:
        await serve(service, settings, store, http=http, host=host, port=port)
    finally:
        store.close()
        await service.close()
    return 0


async def _console(config: Config, command: str | None, as_user: str | None) -> int:
    service = _service(config)
    try:
        user = _default_user(config, as_user)
        if command is not None:
            return 0 if await run_one(service, user, command) else 1
        await repl(service, user)
        return 0
    finally:
        await service.close()


async def _check_slack() -> int:
    """With Slack tokens in the environment: are they valid (auth.test)?"""
    if not os.environ.get("SLACK_BOT_TOKEN"):
        print("skip  slack: SLACK_BOT_TOKEN is not set")
        return 0
    from slack_sdk.errors import SlackApiError

    from bot.slack.app import web_client
    from bot.slack.settings import SlackSettings

    try:
        settings = SlackSettings.from_env(http=not os.environ.get("SLACK_APP_TOKEN"))
        resp = await web_client(settings).auth_test()
    except (BotError, SlackApiError, aiohttp.ClientError, OSError) as e:
        detail = e.response["error"] if isinstance(e, SlackApiError) else str(e)
        print(f"FAIL  slack: {detail}")
        return 1
    print(f"ok    slack: bot @{resp['user']} in workspace {resp['team']}")
    return 0


async def _check(config: Config) -> int:
    """Log in to every cluster as every mapped account and ask Slurm for its partitions."""
    service = Service(config)
    failures = await _check_slack()
    try:
        for cluster in config.clusters:
            for user_id, grant in config.access.users.items():
                _, client = service.client(user_id, cluster.name)
                where = f"{cluster.name} as {grant.account} ({client.transport.description})"
                try:
                    parts = await client.partitions()
                    print(f"ok    {where}: partitions {', '.join(parts)}")
                except BotError as e:
                    failures += 1
                    print(f"FAIL  {where}: {e}")
        if not config.access.users:
            print("warning: access.users is empty; nobody can use the bot")
    finally:
        await service.close()
    return 1 if failures else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bot", description="srunx-bot: Slurm from Slack")
    parser.add_argument(
        "--config", help="YAML config (default: $SRUNX_BOT_CONFIG or ./srunx-bot.yaml)"
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    srv = sub.add_parser("serve", help="run the Slack app (Socket Mode unless --http)")
    srv.add_argument("--http", action="store_true", help="serve /slack/events over HTTP instead")
    srv.add_argument("--port", type=int, default=3000)
    # All interfaces by default: in HTTP mode Slack (or a reverse proxy) must reach it.
    srv.add_argument("--host", default="0.0.0.0", help="HTTP listen address")  # noqa: S104
    con = sub.add_parser("console", help="try the command grammar in a terminal, no Slack needed")
    con.add_argument("-c", dest="command", help="run one command and exit")
    con.add_argument("--as", dest="as_user", metavar="SLACK_ID", help="act as this mapped user")
    sub.add_parser("check", help="check the config and log in to every cluster")
    args = parser.parse_args(argv)

    _setup_logging("INFO" if args.cmd == "serve" else "WARNING")
    try:
        config = load_config(args.config)
        if args.cmd == "serve":
            return asyncio.run(_serve(config, args.http, args.host, args.port))
        if args.cmd == "console":
            return asyncio.run(_console(config, args.command, args.as_user))
        return asyncio.run(_check(config))
    except BotError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except (aiohttp.ClientError, OSError) as e:  # Slack unreachable, port in use, ...
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
