"""The Bolt app (built by bot/runtime.py from the core's parts) in Socket Mode (default) or
HTTP mode."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.errors import ConfigError
from bot.slack import listeners
from bot.slack.context import SlackContext
from bot.slack.failures import slack_error
from bot.slack.settings import SlackSettings

log = logging.getLogger(__name__)
EVENTS_PATH = "/slack/events"


def web_client(settings: SlackSettings) -> AsyncWebClient:
    client = AsyncWebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=settings.api_url or AsyncWebClient.BASE_URL,
    )
    # Resend after a dropped connection or a 500/503 (backing off), and after a 429 once its
    # Retry-After has passed. A call that still fails is the caller's to handle.
    client.retry_handlers = [
        AsyncConnectionErrorRetryHandler(max_retry_count=2),
        AsyncServerErrorRetryHandler(max_retry_count=2),
        AsyncRateLimitErrorRetryHandler(max_retry_count=5),
    ]
    return client


def build_app(
    ctx: SlackContext, client: AsyncWebClient, settings: SlackSettings, *, http: bool
) -> AsyncApp:
    """The Bolt app and its listeners, on the client the notifier posts through."""
    app = AsyncApp(
        client=client,
        signing_secret=settings.signing_secret.get_secret_value()
        if settings.signing_secret
        else "",
        # Socket Mode has no HTTP requests to verify; HTTP mode always verifies signatures.
        request_verification_enabled=http,
        process_before_response=False,
    )
    listeners.register(app, ctx)
    return app


async def start_http(app: AsyncApp, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app.web_app(path=EVENTS_PATH, port=port))
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    log.info("serving Slack requests on http://%s:%d%s", host, port, EVENTS_PATH)
    return runner


async def start_socket_mode(app: AsyncApp, settings: SlackSettings) -> AsyncSocketModeHandler:
    assert settings.app_token is not None
    handler = AsyncSocketModeHandler(app, settings.app_token.get_secret_value())
    await handler.connect_async()  # type: ignore[no-untyped-call]
    log.info("connected to Slack in Socket Mode")
    return handler


async def check_token(app: AsyncApp) -> str:
    """auth.test before serving, so a bad token or an unreachable Slack is one clear error
    at startup instead of a reconnect loop."""
    try:
        resp = await app.client.auth_test()
    except SlackApiError as e:
        raise ConfigError(f"Slack refused SLACK_BOT_TOKEN ({slack_error(e)})") from None
    except (aiohttp.ClientError, OSError) as e:
        raise ConfigError(f"cannot reach Slack at {app.client.base_url}: {e}") from None
    return f"@{resp['user']} in {resp['team']}"


async def run(app: AsyncApp, settings: SlackSettings, *, http: bool, host: str, port: int) -> None:
    """Serve Slack's requests until cancelled."""
    if http:
        runner = await start_http(app, host, port)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
    else:
        handler = await start_socket_mode(app, settings)
        try:
            await asyncio.Event().wait()
        finally:
            await handler.close_async()  # type: ignore[no-untyped-call]
