"""The composition root: the one place that builds every part, in order.

config -> store -> access, prefs, clusters -> features (jobs, the Home, job threads and
watches, GPU watches, reports) posting through an outbox -> dispatch -> the poll schedule
-> a surface: the Slack app (`bot serve`) or the console. A new feature is built here and
routed in bot/core/dispatch.py; nothing else needs to know it.

Slack, aiohttp and APScheduler load only on the paths that use them: the console stays light.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from bot.config import Config, state_dir, store_url
from bot.core.access import Access
from bot.core.audit import AuditLog
from bot.core.clusters import Clusters
from bot.core.defaults import JobDefaults
from bot.core.dispatch import Dispatch
from bot.core.flows.commands import Flows
from bot.core.flows.monitor import FlowMonitor
from bot.core.flows.store import FlowStore
from bot.core.home import Home
from bot.core.jobs.commands import Jobs
from bot.core.ports import TERMINAL, Nowhere, Outbox
from bot.core.prefs import Prefs
from bot.core.reports.scheduler import ReportScheduler
from bot.core.reports.store import ReportStore
from bot.core.script import ScriptRenderer
from bot.core.templates import Templates
from bot.core.watches.commands import WatchCommands
from bot.core.watches.gpus import GpuWatcher
from bot.core.watches.monitor import JobMonitor
from bot.core.watches.store import WatchStore
from bot.store.port import State
from bot.store.state import open_state, open_store
from bot.transport.pool import TransportPool

if TYPE_CHECKING:
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    from bot.core.poll import Tick
    from bot.slack.settings import SlackSettings

log = logging.getLogger(__name__)


class Runtime:
    """Every part of one running bot. Build it with `open` (prefs are read from the state
    before the first command); `close` releases the cluster connections and the state."""

    def __init__(
        self,
        config: Config,
        state: State,
        outbox: Outbox,
        *,
        pool: TransportPool | None = None,
        audit: AuditLog | None = None,
        renderer: ScriptRenderer | None = None,
        config_file: str | None = None,
    ) -> None:
        self.config = config
        self.state = state
        self.outbox = outbox
        self.access = Access(config.access)
        self.prefs = Prefs(state.prefs)
        self.clusters = Clusters(config, self.access, self.prefs, pool or TransportPool())
        # job threads and watches; finished threads are kept for `state.retention`
        self.threads = WatchStore(state, config.state.retention)
        report_store = ReportStore(state)
        renderer = renderer or ScriptRenderer(config.templates, config.templates_dir)
        self.defaults = JobDefaults(config, self.prefs)
        self.jobs = Jobs(self.access, self.clusters, renderer, self.defaults)
        self.home = Home(self.access, self.clusters, self.threads, report_store)
        self.monitor = JobMonitor(self.access, self.clusters, self.threads, outbox, config.notify)
        self.gpus = GpuWatcher(self.access, self.clusters, self.threads, outbox, config.notify)
        self.watches = WatchCommands(self.access, self.clusters, self.monitor, self.gpus)
        self.reports = ReportScheduler(
            self.access, self.clusters, report_store, outbox, config.reports
        )
        templates = Templates(self.access, renderer, config_file=config_file, state_dir=state_dir())
        self.runs = FlowStore(state)
        self.flow_monitor = FlowMonitor(self.clusters, self.runs, outbox)
        self.flows = Flows(
            self.access,
            self.clusters,
            renderer,
            self.defaults,
            self.runs,
            self.flow_monitor,
            outbox,
        )
        self.dispatch = Dispatch(
            config,
            self.access,
            self.clusters,
            self.jobs,
            self.watches,
            self.reports,
            templates,
            self.defaults,
            self.flows,
            audit,
        )

    @classmethod
    async def open(
        cls,
        config: Config,
        state: State | None = None,
        outbox: Outbox | None = None,
        *,
        pool: TransportPool | None = None,
        audit: AuditLog | None = None,
        renderer: ScriptRenderer | None = None,
        config_file: str | None = None,
    ) -> Runtime:
        """With no state, it lives in memory for this process only (the console); with no
        outbox, nothing can be posted (commands that post say where they work)."""
        state = state if state is not None else open_state(None)
        rt = cls(
            config,
            state,
            outbox or Nowhere(),
            pool=pool,
            audit=audit,
            renderer=renderer,
            config_file=config_file,
        )
        await rt.prefs.load()
        return rt

    @property
    def ticks(self) -> list[Tick]:
        """One poll of a cluster, in order: job threads and watches, workflow runs, then GPU
        watches."""
        return [self.monitor.tick, self.flow_monitor.tick, self.gpus.tick]

    async def start_polling(self) -> AsyncIOScheduler:
        """The poll schedule (one job per cluster running `ticks`) and every scheduled
        report's next slot."""
        from bot.core.poll import start_polling

        return await start_polling(
            self.config.cluster_names,
            self.config.notify.poll_interval,
            self.ticks,
            self.reports,
            self.state.leases,
        )

    def slack_app(self, client: AsyncWebClient, settings: SlackSettings, *, http: bool) -> AsyncApp:
        """The Bolt app on these parts; `client` is the one the outbox posts through."""
        from bot.slack.app import build_app
        from bot.slack.context import SlackContext
        from bot.slack.dedup import RecentIds
        from bot.slack.delivery import Delivery

        ctx = SlackContext(
            dispatch=self.dispatch,
            access=self.access,
            home=self.home,
            threads=self.threads,
            recent=RecentIds(self.state.seen),
            delivery=Delivery(self.monitor),
            cluster_names=self.config.cluster_names,
        )
        return build_app(ctx, client, settings, http=http)

    async def close(self) -> None:
        try:
            await self.clusters.close()
        finally:
            await self.state.close()


def audit_log() -> AuditLog:
    return AuditLog(state_dir() / "audit.jsonl")


async def console(config: Config, config_file: str | None = None) -> Runtime:
    """The console's parts: audited like Slack, with session-only state and no channels;
    watches print in the terminal (the console follows them itself: bot/console/follow.py)."""
    from bot.console.outbox import TerminalOutbox

    rt = await Runtime.open(
        config, outbox=TerminalOutbox(), audit=audit_log(), config_file=config_file
    )
    rt.dispatch.follow_in = TERMINAL
    return rt


def check_clusters(config: Config) -> Clusters:
    """`bot check`: only the cluster clients (no state, no features)."""
    access = Access(config.access)
    return Clusters(config, access, Prefs(), TransportPool())


async def serve(
    config: Config,
    settings: SlackSettings,
    *,
    http: bool,
    host: str,
    port: int,
    config_file: str | None = None,
) -> None:
    """`bot serve`: the state, the Slack client the outbox and the app share, the poll
    schedule, then Slack's requests until cancelled."""
    from bot.slack import app as slack
    from bot.slack.notifier import SlackNotifier

    client = slack.web_client(settings)
    # PostgreSQL when configured; else the files (an old state.json there imported first, once)
    state = open_store(store_url(config), state_dir())
    rt = await Runtime.open(
        config, state, SlackNotifier(client), audit=audit_log(), config_file=config_file
    )
    try:
        log.info("store: %s", await state.describe())
        app = rt.slack_app(client, settings, http=http)
        log.info("Slack bot %s", await slack.check_token(app))
        scheduler = await rt.start_polling()
        try:
            await slack.run(app, settings, http=http, host=host, port=port)
        finally:
            scheduler.shutdown(wait=False)
    finally:
        await rt.close()
