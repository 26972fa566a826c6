"""One command, from text (or a form's parsed command) to a Reply: parse, access checks, the
feature that owns the command, the audit log. Never a traceback: every failure becomes an
ErrorReply, and the bot's own bugs are logged, not shown.

With no channel (the console) watches are followed in the terminal when the surface gives a
`follow_in` (else refused with a word on where they work); reports into channels are refused."""

from __future__ import annotations

import logging

import yaml

from bot.config import Config
from bot.core import commands as c
from bot.core import replies as r
from bot.core.access import Access, error_reply
from bot.core.audit import AuditLog
from bot.core.clusters import Clusters
from bot.core.defaults import DEFAULTS_COMMANDS, JobDefaults
from bot.core.flows.commands import FLOW_COMMANDS, Flows
from bot.core.grammar import help_text, parse
from bot.core.jobs.commands import JOB_COMMANDS, Jobs
from bot.core.reports.scheduler import REPORT_COMMANDS, ReportScheduler
from bot.core.templates import TEMPLATE_COMMANDS, Templates
from bot.core.watches.commands import WATCH_COMMANDS, WatchCommands
from bot.errors import AccessDenied, BotError, UsageError

log = logging.getLogger(__name__)


class Dispatch:
    # Where watches post for a surface without channels that follows them itself (the
    # console's terminal outbox); None: they are refused there.
    follow_in: str | None = None

    def __init__(
        self,
        config: Config,
        access: Access,
        clusters: Clusters,
        jobs: Jobs,
        watches: WatchCommands,
        reports: ReportScheduler,
        templates: Templates,
        defaults: JobDefaults,
        flows: Flows,
        audit: AuditLog | None = None,
    ) -> None:
        self.config = config
        self.access = access
        self.clusters = clusters
        self.jobs = jobs
        self.watches = watches
        self.reports = reports
        self.audit = audit
        self.templates = templates
        self.flows = flows
        self.defaults = defaults

    async def handle(
        self,
        user_id: str,
        text: str,
        *,
        channel: str | None = None,
        dm: bool = False,
        attached: c.AttachedScript | None = None,
    ) -> r.Reply:
        """Parse and run one command (with the script file attached to the message, if any);
        every failure becomes an ErrorReply, never a raise."""
        return await self.run(user_id, None, text=text, channel=channel, dm=dm, attached=attached)

    async def run(
        self,
        user_id: str,
        cmd: c.Command | None,
        *,
        text: str,
        channel: str | None = None,
        dm: bool = False,
        attached: c.AttachedScript | None = None,
    ) -> r.Reply:
        """Run a command parsed already (a form's, a button's) or, with `cmd=None`, `text`;
        audited as `text`."""
        reply: r.Reply
        try:
            self.access.admit(user_id, channel, dm)
            reply = await self.execute(user_id, cmd or parse(text, attached), channel, dm)
        except BotError as e:
            reply = error_reply(e)
        except Exception:
            log.exception("command failed: %r", text[:200])
            reply = r.ErrorReply(
                message="something went wrong on the bot's side; the error is in its log"
            )
        if self.audit is not None:
            outcome = f"error: {reply.message}" if isinstance(reply, r.ErrorReply) else reply.kind
            if isinstance(reply, r.Submitted):
                outcome += f" job {reply.job_id} on {reply.cluster}"
            await self.audit.record(
                user=user_id,
                channel=channel,
                account=self.access.account_or_none(user_id),
                command=text if attached is None else f"{text} [attached {attached.name}]",
                outcome=outcome,
            )
        return reply

    def admits(self, user_id: str, channel: str | None, dm: bool = False) -> bool:
        """Whether `run` gets past access for this user here: checked before the Slack layer
        downloads an attached file, so a refused user's file is never fetched."""
        try:
            self.access.admit(user_id, channel, dm)
        except AccessDenied:
            return False
        return True

    async def execute(
        self, user_id: str, cmd: c.Command, channel: str | None = None, dm: bool = False
    ) -> r.Reply:
        """Route a checked command to its feature."""
        if isinstance(cmd, c.Help):
            return r.HelpReply(text=help_text(cmd.topic))
        if isinstance(cmd, c.Clusters):
            return await self.clusters.reachability(user_id)
        if isinstance(cmd, c.UseCluster):
            return await self.clusters.use(user_id, cmd.name)
        if isinstance(cmd, DEFAULTS_COMMANDS):
            cluster, _ = self.clusters.client(user_id, cmd.cluster)
            return await self.defaults.run(user_id, cluster, cmd)
        if isinstance(cmd, c.ConfigShow):
            return self._config_show(user_id)
        if isinstance(cmd, TEMPLATE_COMMANDS):
            return self.templates.run(user_id, cmd, console=channel is None)
        if isinstance(cmd, REPORT_COMMANDS):
            if channel is None and not (isinstance(cmd, c.ReportNow) and cmd.channel is None):
                raise UsageError("reports into channels are posted by the Slack bot: use Slack")
            return await self.reports.run(user_id, cmd, channel, dm)
        if isinstance(cmd, WATCH_COMMANDS):
            cluster, _ = self.clusters.client(user_id, cmd.cluster)
            channel = channel or self.follow_in
            if channel is None:
                raise UsageError("watches post into Slack threads: use them in Slack (`bot serve`)")
            return await self.watches.run(user_id, cluster.name, cmd, channel)
        if isinstance(cmd, FLOW_COMMANDS):
            where = channel or self.follow_in
            if where is None:
                raise UsageError("workflow runs post into Slack threads: use them in Slack")
            return await self.flows.run(user_id, cmd, where)
        if isinstance(cmd, JOB_COMMANDS):
            return await self.jobs.run(user_id, cmd)
        raise UsageError(f"`{cmd.kind}` is not available here")

    def _config_show(self, user_id: str) -> r.ConfigReply:
        if not self.access.is_admin(user_id):
            raise AccessDenied("`config show` is for admins")
        # No secrets live in the config (tokens come from the environment): paths only.
        text = yaml.safe_dump(self.config.model_dump(mode="json"), sort_keys=False)
        return r.ConfigReply(text=text)
