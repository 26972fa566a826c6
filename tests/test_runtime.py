"""The composition root: every part built once, in order, on the narrow parts below it; the
console's session-only state and no channels; the poll schedule; closing releases the state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.console.outbox import TerminalOutbox
from bot.core.ports import TERMINAL, Nowhere
from bot.runtime import Runtime, check_clusters, console
from bot.store.state import CollectionState, open_state
from labkit import ALICE, Lab, Recorder
from scripted import ScriptedPool, scripted_accounts

CONFIG = {
    "clusters": [{"name": "lab"}, {"name": "jump"}],
    "access": {"users": {"U1": {"account": "alice"}}},
}


class Closing(CollectionState):
    """A state that records being closed."""

    closed = False

    async def close(self) -> None:
        self.closed = True
        await super().close()


async def test_without_state_or_outbox_it_is_a_session_with_no_channels() -> None:
    rt = await Runtime.open(parse_config(CONFIG, "test config"))
    try:
        assert isinstance(rt.outbox, Nowhere)
        assert await rt.threads.open_threads() == []  # an empty state of its own
    finally:
        await rt.close()


async def test_every_feature_shares_the_same_parts(tmp_path: Path) -> None:
    out = Recorder()
    rt = await Runtime.open(
        Lab.from_env().config(), open_state(tmp_path), out, pool=ScriptedPool(scripted_accounts())
    )
    try:
        assert rt.outbox is out
        assert rt.home.watches is rt.threads and rt.home.clusters is rt.clusters
        assert rt.jobs.access is rt.access and rt.clusters.prefs is rt.prefs
        # One poll of a cluster: job threads and watches, workflow runs, GPU watches.
        assert rt.ticks == [rt.monitor.tick, rt.flow_monitor.tick, rt.gpus.tick]
        assert rt.flows.store is rt.runs and rt.flow_monitor.store is rt.runs
    finally:
        await rt.close()


async def test_open_reads_the_stored_prefs_before_the_first_command(tmp_path: Path) -> None:
    config = parse_config(CONFIG, "test config")
    state = open_state(tmp_path)
    await state.prefs.set_cluster("U1", "jump")
    await state.close()
    rt = await Runtime.open(config, open_state(tmp_path))
    try:
        assert rt.clusters.default("U1").name == "jump"
    finally:
        await rt.close()


async def test_the_poll_schedule_has_a_job_per_configured_cluster() -> None:
    rt = await Runtime.open(parse_config(CONFIG, "test config"))
    scheduler = await rt.start_polling()
    try:
        assert sorted(j.id for j in scheduler.get_jobs()) == [
            "poll-jump",
            "poll-lab",
            "reports-sync",
        ]
    finally:
        scheduler.shutdown(wait=False)
        await rt.close()


async def test_close_releases_the_state() -> None:
    state = Closing(open_state(None).backend)
    rt = await Runtime.open(parse_config(CONFIG, "test config"), state)
    await rt.close()
    assert state.closed


async def test_the_console_audits_like_slack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SRUNX_BOT_STATE", str(tmp_path))
    rt = await console(parse_config(CONFIG, "test config"))
    try:
        assert isinstance(rt.outbox, TerminalOutbox)  # watches print in the terminal
        assert rt.dispatch.follow_in == TERMINAL
        await rt.dispatch.handle("U1", "help")
    finally:
        await rt.close()
    [line] = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert json.loads(line)["command"] == "help" and json.loads(line)["account"] == "alice"


def test_check_builds_only_the_cluster_clients() -> None:
    clusters = check_clusters(parse_config(CONFIG, "test config"))
    assert clusters.default(ALICE).name == "lab"  # no prefs stored: the first cluster
