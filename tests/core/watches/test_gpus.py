"""GpuWatcher's polls without the lab, on sinfo output captured from it (tests/data): busy = 3
of the gpu partition's 8 GPUs free, drain = 1 (a drained node never counts), idle = all 8.
A one-shot watch fires once and is gone; a continuous one fires on each rise to N but re-arms
only after the count stayed below N for `notify.gpu_rearm_after`, so flapping notifies once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.core import replies as r
from bot.core.records import Watch
from labkit import ALICE
from scripted import OfflineBot, sinfo

REARM = 300.0  # the default notify.gpu_rearm_after


@dataclass
class Bot(OfflineBot):
    now: float = 0.0

    def nodes(self, capture: str) -> None:
        self.slurm["alice"].answers["sinfo"] = sinfo(capture)

    async def watch(self, text: str) -> str:
        reply = await self.rt.dispatch.handle(ALICE, text, channel="C1")
        assert isinstance(reply, r.Done), reply
        return reply.text

    async def poll(self, capture: str, at: float) -> int:
        self.nodes(capture)
        self.now = at
        return await self.rt.gpus.tick("lab")

    async def watches(self) -> list[Watch]:
        return await self.rt.threads.gpu_watches("lab")

    def alerts(self) -> list[str]:
        return [a.text for a in self.out.of(r.Alert)]


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[Bot]:
    b = await Bot.open(tmp_path)
    b.rt.gpus.clock = lambda: b.now
    assert b.rt.config.notify.gpu_rearm_after == REARM
    yield b
    await b.rt.close()


async def test_a_one_shot_watch_fires_once_and_is_removed(bot: Bot) -> None:
    bot.nodes("busy")
    said = await bot.watch("watch gpus 4 -p gpu")
    assert said.endswith("when 4 GPUs are free on gpu on lab (now 3 free)")
    assert await bot.poll("drain", 10) == 0
    assert await bot.poll("idle", 20) == 1
    [alert] = bot.out.of(r.Alert)
    watch_id = said.split(":", 1)[0].removeprefix("watch ")
    assert alert.mention == ALICE and alert.text.startswith(
        f"8 GPUs are free on gpu on lab (8/8); you asked for 4. Watch {watch_id} is done."
    )
    assert await bot.watches() == []
    for at in (30, 40):
        assert await bot.poll("idle", at) == 0
    assert [ch for ch, _ in bot.out.sent] == ["C1"]


async def test_enough_free_now_sets_no_one_shot_watch(bot: Bot) -> None:
    bot.nodes("idle")
    said = await bot.watch("watch gpus 4 -p gpu")
    assert said.startswith("8 GPUs are free on gpu on lab right now, so no watch was set")
    assert await bot.watches() == []


async def test_a_continuous_watch_rearms_only_after_staying_below_long_enough(bot: Bot) -> None:
    bot.nodes("busy")
    await bot.watch("watch gpus 4 -p gpu --continuous")
    assert await bot.poll("idle", 0) == 1
    assert await bot.poll("busy", 10) == 0  # below N from here on
    assert await bot.poll("idle", 10 + REARM - 1) == 0  # back up too soon: not news
    assert await bot.poll("busy", 1000) == 0
    assert await bot.poll("drain", 1000 + REARM - 1) == 0
    [w] = await bot.watches()
    assert not w.armed and w.below_since == 1000
    assert await bot.poll("busy", 1000 + REARM) == 0  # below long enough: armed again
    [w] = await bot.watches()
    assert w.armed
    assert await bot.poll("idle", 1000 + REARM + 10) == 1
    [w] = await bot.watches()
    assert w.fired == 2 and not w.armed
    assert len(bot.alerts()) == 2 and "I'll tell you again" in bot.alerts()[1]


async def test_a_count_flapping_around_n_notifies_once(bot: Bot) -> None:
    bot.nodes("busy")
    await bot.watch("watch gpus 4 -p gpu --continuous")
    for i in range(20):  # up and down every minute for 20 minutes
        await bot.poll("idle" if i % 2 == 0 else "busy", 60.0 * i)
    assert len(bot.alerts()) == 1


async def test_a_poll_that_cannot_read_sinfo_changes_nothing(bot: Bot) -> None:
    bot.nodes("busy")
    await bot.watch("watch gpus 4 -p gpu")
    before = await bot.watches()
    down = (1, "", "sinfo: error: Unable to contact slurm controller (connect failure)\n")
    bot.slurm["alice"].answers["sinfo"] = down
    bot.now = 10
    assert await bot.rt.gpus.tick("lab") == 0
    assert await bot.watches() == before
    assert await bot.poll("idle", 20) == 1


@pytest.mark.parametrize("continuous", [False, True])
async def test_an_alert_slack_refused_is_posted_on_the_next_poll(
    bot: Bot, continuous: bool
) -> None:
    bot.nodes("busy")
    await bot.watch("watch gpus 4 -p gpu" + (" --continuous" if continuous else ""))
    bot.out.refusing["post"] = 1
    assert await bot.poll("idle", 10) == 0
    [w] = await bot.watches()
    assert w.armed  # not delivered: still to be told
    assert await bot.poll("idle", 20) == 1
    assert await bot.poll("idle", 30) == 0
    assert len(bot.alerts()) == 1
    assert len(await bot.watches()) == (1 if continuous else 0)
