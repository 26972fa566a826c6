"""What every listener needs: the core service and the redelivery filter."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.core.service import Service
from bot.slack.dedup import RecentIds


@dataclass
class SlackContext:
    service: Service
    recent: RecentIds = field(default_factory=RecentIds)
