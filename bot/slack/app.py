"""Build the Bolt app and run it in Socket Mode (default) or HTTP mode."""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

import aiohttp
from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.gpuwatch import GpuWatcher
from bot.core.monitor import JobMonitor
from bot.core.prefs import Prefs
from bot.core.report_scheduler import ReportScheduler
from bot.core.reports import ReportStore
from bot.core.service import Service
from bot.core.store import Store
from bot.core.watches import WatchStore
from bot.errors import ConfigError
from bot.slack import listeners
from bot.slack.context import SlackContext, slack_error
from bot.slack.notifier import SlackNotifier
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


def build_app(service: Service, settings: SlackSettings, store: Store, *, http: bool) -> AsyncApp:
    """The Bolt app, its listeners, and the job monitor posting through the same client."""
    client = web_client(settings)
    notifier = SlackNotifier(client)
    watches = WatchStore(store)
    monitor = JobMonitor(service, watches, notifier, service.config.notify)
    service.monitor = monitor
    service.gpus = GpuWatcher(service, watches, notifier, service.config.notify)
    service.reports = ReportScheduler(service, ReportStore(store), notifier)
    service.prefs = Prefs(store)
    app = AsyncApp(
        client=client,
        signing_secret=settings.signing_secret.get_secret_value()
        if settings.signing_secret
        else "",
        # Socket Mode has no HTTP requests to verify; HTTP mode always verifies signatures.
        request_verification_enabled=http,
        process_before_response=False,
    )
    listeners.register(app, SlackContext(service, monitor))
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


async def poll(service: Service, cluster: str) -> None:
    """One poll of a cluster: job threads and watches, then GPU watches."""
    assert service.monitor is not None and service.gpus is not None
    for step in (service.monitor.tick, service.gpus.tick):
        try:
            await step(cluster)
        except Exception:  # one failing part must not starve the other
            log.exception("polling %s failed", cluster)


async def start_polling(service: Service) -> AsyncIOScheduler:
    """One poll job per cluster, and every scheduled report's next slot. A tick still running
    when the next is due is skipped, not stacked (max_instances=1, coalesce)."""
    assert service.reports is not None
    every = service.config.notify.poll_interval
    scheduler = AsyncIOScheduler()
    for cluster in service.config.clusters:
        scheduler.add_job(
            poll,
            "interval",
            seconds=every,
            args=[service, cluster.name],
            id=f"poll-{cluster.name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(every),
            next_run_time=datetime.now(),
        )
    scheduler.start()
    log.info("%d scheduled reports", await service.reports.start(scheduler))
    return scheduler


async def serve(
    service: Service, settings: SlackSettings, store: Store, *, http: bool, host: str, port: int
) -> None:
    app = build_app(service, settings, store, http=http)
    log.info("Slack bot %s", await check_token(app))
    scheduler = await start_polling(service)
    try:
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
    finally:
        scheduler.shutdown(wait=False)
