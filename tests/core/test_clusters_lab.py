"""Several clusters on the real lab: `lab` directly and `jump` through the bastion (ProxyJump),
plus one that cannot be reached. `clusters` asks them all at once; `use` picks yours."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.core import replies as r
from bot.core.models import JobState
from bot.runtime import Runtime
from bot.store.state import open_state
from labkit import ALICE, BOB, Lab, wait_state

pytestmark = pytest.mark.lab


async def _three_clusters(lab: Lab) -> Runtime:
    data = lab.config_data()
    dead = {**data["clusters"][0], "name": "dead", "port": 1, "command_timeout": 3}
    data["clusters"].append(dead)
    return await Runtime.open(parse_config(data, "three clusters"))


async def test_clusters_lists_each_with_reachability(lab: Lab) -> None:
    rt = await _three_clusters(lab)
    try:
        t0 = time.perf_counter()
        reply = await rt.dispatch.handle(ALICE, "clusters")
        assert time.perf_counter() - t0 < 8  # asked together, each bounded
        assert isinstance(reply, r.ClustersReply)
        by_name = {c.name: c for c in reply.clusters}
        assert by_name["lab"].reachable and by_name["lab"].is_default
        assert by_name["jump"].reachable and "via 127.0.0.1:2223" in by_name["jump"].where
        assert "2 partitions" in by_name["jump"].detail
        assert by_name["dead"].reachable is False and by_name["dead"].detail
    finally:
        await rt.close()


async def test_use_sets_a_per_user_default_that_survives_a_restart(
    lab: Lab, tmp_path: Path
) -> None:
    rt = await Runtime.open(lab.config(), open_state(tmp_path / "state"))
    try:
        bad = await rt.dispatch.handle(ALICE, "use nope")
        assert isinstance(bad, r.ErrorReply)
        assert bad.message == "unknown cluster `nope`; clusters: lab, jump"
        done = await rt.dispatch.handle(ALICE, "use jump")
        assert isinstance(done, r.Done) and done.text == "your default cluster is now jump"
    finally:
        await rt.close()

    # A new process over the same state.
    again = await Runtime.open(lab.config(), open_state(tmp_path / "state"))
    try:
        sub = await again.dispatch.handle(
            ALICE, "submit -J viajump -p cpu -- echo through the bastion"
        )
        assert isinstance(sub, r.Submitted) and sub.cluster == "jump"
        cfg, client = again.clusters.client(ALICE, None)
        assert cfg.name == "jump" and "via" in client.transport.description
        await wait_state(client, sub.job_id, {JobState.COMPLETED})
        status = await again.dispatch.handle(ALICE, f"status {sub.job_id}")
        assert isinstance(status, r.StatusReply) and status.cluster == "jump"
        report = await again.dispatch.handle(ALICE, "report now")
        assert isinstance(report, r.ClusterReport) and report.cluster == "jump"
        # --cluster still overrides, and other users keep the first cluster.
        here = await again.dispatch.handle(ALICE, "report now --cluster lab --include jobs")
        assert isinstance(here, r.ClusterReport) and here.cluster == "lab"
        assert again.clusters.client(BOB, None)[0].name == "lab"
    finally:
        await again.close()
