"""`bot` command line: serve (the Slack app), console, check."""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import stat
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any

from bot.config import (
    DEFAULT_CONFIG_PATH,
    LOCAL_CLUSTER,
    Config,
    config_given,
    config_path,
    load_config,
    login_node_config,
    on_login_node,
    state_dir,
    store_url,
)
from bot.console.repl import help_without_config, repl, run_one
from bot.errors import BotError, ConfigError

log = logging.getLogger(__name__)

NO_CONFIG = (
    f"no config file {DEFAULT_CONFIG_PATH} and no Slurm commands on this host's PATH; copy "
    f"srunx-bot.example.yaml to {DEFAULT_CONFIG_PATH} (or set SRUNX_BOT_CONFIG), or run the "
    "console on a Slurm login node"
)
_OTHERS_READ = stat.S_IRGRP | stat.S_IROTH
_OTHERS_ENTER = _OTHERS_READ | stat.S_IXGRP | stat.S_IXOTH  # enough to open a known file name


def _setup_logging(default: str) -> None:
    logging.basicConfig(
        level=os.environ.get("SRUNX_BOT_LOG_LEVEL", default).upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    # slack_sdk/slack_bolt log whole payloads (Socket Mode envelopes, `--env` values) at DEBUG.
    # Bolt resets its own loggers to the root level when an app is built, so the cap that holds
    # is a filter on the handlers; the level caps only save formatting work.
    level = max(logging.INFO, logging.getLogger().getEffectiveLevel())
    for name in _PAYLOAD_LOGGERS:
        logging.getLogger(name).setLevel(level)
    for handler in logging.getLogger().handlers:
        handler.addFilter(_no_payload_debug)


_PAYLOAD_LOGGERS = ("slack_sdk", "slack_bolt")


def _no_payload_debug(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.INFO or not record.name.startswith(_PAYLOAD_LOGGERS)


def _run(main: Coroutine[Any, Any, int]) -> int:
    import asyncio  # `help` without a config is answered with no event loop

    return asyncio.run(main)


def _default_user(config: Config, wanted: str | None) -> str:
    if wanted:
        return wanted
    if not config.access.users:
        raise BotError("no users in access.users; add one, or pass --as SLACK_ID")
    return next(iter(config.access.users))


def exposed_files(config_file: str) -> list[str]:
    """The config and state files (and state dir) other users can read, each with its fix."""
    state = state_dir()
    candidates = [(config_file, _OTHERS_READ, "600"), (str(state), _OTHERS_ENTER, "700")]
    if state.is_dir():
        files = sorted(p for p in state.iterdir() if p.is_file() and not p.is_symlink())
        candidates += [(str(p), _OTHERS_READ, "600") for p in files]
    found = []
    for shown, bits, fix in candidates:
        try:
            mode = Path(shown).stat().st_mode
        except OSError:
            continue  # missing (no state yet) or unreadable: nothing to warn about
        if mode & bits:
            found.append(f"{shown} is readable by other users; chmod {fix} {shlex.quote(shown)}")
    return found


async def _serve(config: Config, config_file: str, http: bool, host: str, port: int) -> int:
    import aiohttp  # Slack libraries (and their HTTP client) load only when serving

    from bot import runtime
    from bot.slack.settings import SlackSettings

    settings = SlackSettings.from_env(http=http)
    for exposed in exposed_files(config_file):
        log.warning("%s", exposed)
    try:
        await runtime.serve(
            config, settings, http=http, host=host, port=port, config_file=config_file
        )
    except aiohttp.ClientError as e:  # Slack unreachable
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


async def _console(
    config: Config,
    command: str | None,
    as_user: str | None,
    *,
    config_file: str | None = None,
    as_json: bool = False,
) -> int:
    from bot import runtime
    from bot.console.follow import Follower  # here: `-c help` loads no event loop

    rt = await runtime.console(config, config_file)
    try:
        user = _default_user(config, as_user)
        # watches set here are followed here: polled as `bot serve` would, printed
        follower = Follower(
            rt.clusters, rt.threads, rt.ticks, config.notify.poll_interval, runs=rt.runs
        )
        if command is not None:
            ok = await run_one(rt.dispatch, user, command, follower=follower, as_json=as_json)
            return 0 if ok else 1
        await repl(rt.dispatch, rt.access, user, follower=follower)
        return 0
    finally:
        await rt.close()


def _console_config(path: str | None) -> Config:
    """The config file, else (console only) this login node's Slurm as the invoking account."""
    if config_given(path):
        return load_config(path)
    if not on_login_node():
        raise ConfigError(NO_CONFIG)
    from bot.transport.local import current_account

    account = current_account()
    config = login_node_config(account)
    print(
        f"no config file {DEFAULT_CONFIG_PATH}: using this login node's Slurm as {account} "
        f"(local cluster `{LOCAL_CLUSTER}`)",
        file=sys.stderr,
    )
    return config


def _run_console(
    path: str | None, command: str | None, as_user: str | None, as_json: bool = False
) -> int:
    if command is not None and not config_given(path):
        # help needs no config and no cluster
        answered = help_without_config(command, as_json=as_json)
        if answered is not None:
            return 0 if answered else 1
    config_file = (path or config_path()) if config_given(path) else None
    config = _console_config(path)
    return _run(_console(config, command, as_user, config_file=config_file, as_json=as_json))


def _warn_exposed(config_file: str) -> None:
    for exposed in exposed_files(config_file):
        print(f"warning: {exposed}")


async def _check_slack() -> int:
    """With Slack tokens in the environment: are they valid (auth.test)?"""
    if not os.environ.get("SLACK_BOT_TOKEN"):
        print("skip  slack: SLACK_BOT_TOKEN is not set")
        return 0
    import aiohttp
    from slack_sdk.errors import SlackApiError

    from bot.slack.app import web_client
    from bot.slack.failures import slack_error
    from bot.slack.settings import SlackSettings

    try:
        settings = SlackSettings.from_env(http=not os.environ.get("SLACK_APP_TOKEN"))
        resp = await web_client(settings).auth_test()
    except (BotError, SlackApiError, aiohttp.ClientError, OSError) as e:
        detail = slack_error(e) if isinstance(e, SlackApiError) else str(e)
        print(f"FAIL  slack: {detail}")
        return 1
    print(f"ok    slack: bot @{resp['user']} in workspace {resp['team']}")
    return 0


async def _check_store(config: Config) -> int:
    """Where the state is and whether it answers; with PostgreSQL, which clusters this replica
    would poll right now (the leases it could take: another replica holds the rest)."""
    url = store_url(config)
    if url is None:
        from bot.store.tiny import TinyBackend

        print(f"ok    store: {await TinyBackend(state_dir()).describe()}")
        return 0
    from bot.store.postgres import PgBackend

    try:
        backend = PgBackend(url)
    except BotError as e:
        print(f"FAIL  store: {e}")
        return 1
    try:
        ok, text = await backend.status()
        print(f"{'ok   ' if ok else 'FAIL '} store: {text}")
        if not ok:
            return 1
        for cluster in config.cluster_names:
            lease = f"poll:{cluster}"  # as bot/core/poll.py names it
            if await backend.leases.hold(lease):
                print(f"ok    lease {lease}: free, this replica would poll {cluster}")
            else:
                print(f"ok    lease {lease}: held by another replica, which polls {cluster}")
    finally:
        await backend.close()  # and the leases it took with it
    return 0


async def _check(config: Config, config_file: str) -> int:
    """Log in to every cluster as every mapped account and ask Slurm for its partitions."""
    from bot.runtime import check_clusters

    _warn_exposed(config_file)
    clusters = check_clusters(config)
    failures = await _check_slack() + await _check_store(config)
    try:
        for cluster in config.clusters:
            for user_id, grant in config.access.users.items():
                _, client = clusters.client(user_id, cluster.name)
                where = f"{cluster.name} as {grant.account} ({client.transport.description})"
                try:
                    parts = await client.partitions()
                    print(f"ok    {where}: partitions {', '.join(parts)}")
                except BotError as e:
                    failures += 1
                    detail = getattr(e, "detail", "")  # the OS's own words, for whoever debugs
                    print(f"FAIL  {where}: {e}" + (f" ({detail})" if detail else ""))
        if not config.access.users:
            print("warning: access.users is empty; nobody can use the bot")
    finally:
        await clusters.close()
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
    con.add_argument(
        "--json", action="store_true", help="with -c: print the reply as JSON (see README)"
    )
    con.add_argument("--as", dest="as_user", metavar="SLACK_ID", help="act as this mapped user")
    sub.add_parser("check", help="check the config and log in to every cluster")
    args = parser.parse_args(argv)

    _setup_logging("INFO" if args.cmd == "serve" else "WARNING")
    try:
        if args.cmd == "console":
            if args.json and args.command is None:
                parser.error("--json needs -c COMMAND")
            return _run_console(args.config, args.command, args.as_user, args.json)
        config = load_config(args.config)
        config_file = args.config or config_path()
        if args.cmd == "serve":
            return _run(_serve(config, config_file, args.http, args.host, args.port))
        return _run(_check(config, config_file))
    except BotError as e:
        if getattr(args, "json", False):  # `console --json`: the error as JSON too
            print(json.dumps({"error": str(e)}))
            return 2
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # port in use, Slack unreachable, ...
        print(f"error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
