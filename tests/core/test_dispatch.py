"""The dispatch without a cluster: what a surface with no channels (the console) refuses, the
audit line of every command, and prefs read back through the store by a new runtime."""

from __future__ import annotations

import json
from pathlib import Path

from bot.core import replies as r
from bot.core.audit import AuditLog
from bot.runtime import Runtime
from bot.store.state import open_state
from labkit import ALICE, STRANGER, Lab
from scripted import Scripted, ScriptedPool


def _pool() -> ScriptedPool:
    return ScriptedPool({a: Scripted({}) for a in ("alice", "bob", "hpcuser")})


async def test_without_channels_watches_and_channel_reports_say_where_they_work(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    rt = await Runtime.open(Lab.from_env().config(), pool=_pool(), audit=AuditLog(audit))
    try:
        said = {
            text: await rt.dispatch.handle(ALICE, text)
            for text in ("watch job 5", "watch gpus 2", "report every 1h", "reports")
        }
        unknown = await rt.dispatch.handle(ALICE, "watch mine --cluster nope")
        stranger = await rt.dispatch.handle(STRANGER, "watches")
    finally:
        await rt.close()
    messages = {t: x.message for t, x in said.items() if isinstance(x, r.ErrorReply)}
    assert messages == {
        "watch job 5": "watches post into Slack threads: use them in Slack (`bot serve`)",
        "watch gpus 2": "watches post into Slack threads: use them in Slack (`bot serve`)",
        "report every 1h": "reports into channels are posted by the Slack bot: use Slack",
        "reports": "reports into channels are posted by the Slack bot: use Slack",
    }
    # The cluster is checked first, as before; an unmapped user is told whom to ask.
    assert isinstance(unknown, r.ErrorReply) and "unknown cluster `nope`" in unknown.message
    assert isinstance(stranger, r.ErrorReply) and stranger.mentions
    lines = [json.loads(x) for x in audit.read_text().splitlines()]
    assert [x["command"] for x in lines][-1] == "watches" and len(lines) == 6
    assert lines[0]["account"] == "alice" and lines[-1]["account"] is None


async def test_use_is_read_back_by_the_next_runtime_over_the_same_store(tmp_path: Path) -> None:
    config = Lab.from_env().config()
    rt = await Runtime.open(config, open_state(tmp_path / "state"), pool=_pool())
    try:
        done = await rt.dispatch.handle(ALICE, "use jump")
        assert isinstance(done, r.Done)
    finally:
        await rt.close()
    again = await Runtime.open(config, open_state(tmp_path / "state"), pool=_pool())
    try:
        assert again.clusters.default(ALICE).name == "jump"
        assert again.clusters.client(ALICE, None)[0].name == "jump"
    finally:
        await again.close()
