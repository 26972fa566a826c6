"""JobMonitor on the real lab, with a notifier that records instead of posting to Slack."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.config import NotifyConfig, parse_config
from bot.core.models import Job, JobResource, JobState
from bot.core.records import Watch
from bot.core.watches.monitor import JobMonitor
from bot.core.watches.store import WatchStore
from bot.runtime import Runtime
from bot.store.state import CollectionState, open_state
from labkit import ALICE, BOB, Lab, Recorder

pytestmark = pytest.mark.lab


@dataclass
class Rig:
    rt: Runtime
    store: CollectionState
    watches: WatchStore
    notifier: Recorder
    monitor: JobMonitor

    async def submit(self, command: str, **res: object) -> str:
        _, client = self.rt.clusters.client(ALICE, "lab")
        job = Job(
            name=f"mon{secrets.token_hex(2)}",
            command=command,
            resources=JobResource.model_validate({"partition": "cpu", **res}),
        )
        job_id = await client.submit(self.rt.jobs.renderer.render(job))
        await self.monitor.follow(
            cluster="lab",
            job_id=job_id,
            user_id=ALICE,
            channel="C1",
            card_ts=f"card-{job_id}",
            name=job.name,
        )
        return job_id

    async def run_until_running(self, job_id: str, timeout: float = 30) -> None:
        for _ in range(int(timeout)):
            await self.monitor.tick("lab")
            if any(t.startswith("RUNNING") for t in self.notifier.texts(job_id)):
                return
            await asyncio.sleep(1)
        raise AssertionError(f"job {job_id} never ran: {self.notifier.replies}")

    async def run_until_done(self, job_id: str, timeout: float = 60) -> None:
        for _ in range(int(timeout)):
            await self.monitor.tick("lab")
            thread = await self.watches.thread("lab", job_id)
            if thread and thread.done:
                return
            await asyncio.sleep(1)
        raise AssertionError(f"job {job_id} never finished: {self.notifier.replies}")


@pytest.fixture
async def rig(lab: Lab, tmp_path: Path) -> AsyncIterator[Rig]:
    rt = await Runtime.open(lab.config())
    store = open_state(tmp_path / "state")
    watches = WatchStore(store)
    notifier = Recorder()
    monitor = JobMonitor(
        rt.access, rt.clusters, watches, notifier, NotifyConfig(time_limit_warning=58)
    )
    yield Rig(rt, store, watches, notifier, monitor)
    await store.close()
    await rt.close()


async def test_each_state_change_is_posted_once_then_a_summary(rig: Rig) -> None:
    job_id = await rig.submit("echo step one; sleep 4; echo all done")
    await rig.run_until_done(job_id)
    texts = rig.notifier.texts(job_id)
    states = [t.split(" ", 1)[0].split(":", 1)[0].strip("*,") for t in texts]
    assert states[-1] == "COMPLETED" and "RUNNING" in states
    assert len(states) == len(set(states)), texts  # no state posted twice
    summary = texts[-1]
    assert "exit code 0:0" in summary and "elapsed 00:00:0" in summary
    assert "all done" in summary  # the output's last lines
    assert rig.notifier.updates[-1] == (job_id, JobState.COMPLETED)
    for _ in range(2):  # later ticks post nothing more
        await rig.monitor.tick("lab")
    assert rig.notifier.texts(job_id) == texts


async def test_failed_job_summary_has_exit_code_and_output(rig: Rig) -> None:
    job_id = await rig.submit("echo something broke >&2; echo last words; exit 3")
    await rig.run_until_done(job_id)
    summary = rig.notifier.texts(job_id)[-1]
    assert summary.startswith("*FAILED*, exit code 3:0"), summary
    assert "last words" in summary


async def test_time_limit_warning_fires_once(rig: Rig) -> None:
    job_id = await rig.submit("sleep 15", time_limit="1")
    await rig.run_until_done(job_id)
    warnings = [t for t in rig.notifier.texts(job_id) if "left before the time limit" in t]
    assert len(warnings) == 1, rig.notifier.texts(job_id)


async def test_watch_mine_picks_up_a_job_submitted_outside_the_bot(rig: Rig) -> None:
    await rig.watches.add_watch(
        Watch(kind="mine", user_id=ALICE, account="alice", cluster="lab", channel="C9")
    )
    _, client = rig.rt.clusters.client(ALICE, "lab")
    res = await client.transport.run(["sbatch", "--parsable", "-p", "cpu", "--wrap", "sleep 3"])
    job_id = res.stdout.strip()
    await rig.monitor.tick("lab")
    assert ("C9", job_id) in rig.notifier.cards
    await rig.run_until_done(job_id)
    assert rig.notifier.texts(job_id)[-1].startswith("*COMPLETED*")


async def test_restart_posts_remaining_changes_once(rig: Rig, lab: Lab, tmp_path: Path) -> None:
    job_id = await rig.submit("sleep 6")
    await rig.run_until_running(job_id)
    # A new bot process: same state file, new rt and monitor, and a transition that was
    # being posted when the old one died.
    await rig.store.close()
    store = open_state(tmp_path / "state")
    watches = WatchStore(store)
    thread = await watches.thread("lab", job_id)
    assert thread is not None and thread.state == JobState.RUNNING
    await watches.save_thread(thread.model_copy(update={"in_flight": f"{thread.seq + 1}:RUNNING"}))
    rt = await Runtime.open(lab.config())
    restarted = JobMonitor(
        rt.access, rt.clusters, watches, rig.notifier, NotifyConfig(time_limit_warning=0)
    )
    rig.monitor, rig.watches = restarted, watches
    await rig.run_until_done(job_id)
    states = [t.split(" ", 1)[0].strip("*,") for t in rig.notifier.texts(job_id)]
    assert states.count("RUNNING") == 1 and states.count("COMPLETED") == 1, states
    await store.close()
    await rt.close()


async def test_outage_one_notice_no_false_states_then_catch_up(rig: Rig, lab: Lab) -> None:
    job_id = await rig.submit("sleep 8")
    await rig.monitor.tick("lab")
    await lab.fault("sshd-cut")
    try:
        for _ in range(3):
            await rig.monitor.tick("lab")
        assert len(rig.notifier.notices) == 1 and "cannot be reached" in rig.notifier.notices[0][1]
        await asyncio.sleep(10)  # the job ends while the bot cannot look
    finally:
        await lab.fault("sshd-up")
    await rig.run_until_done(job_id)
    assert len(rig.notifier.notices) == 2 and "answers again" in rig.notifier.notices[1][1]
    texts = rig.notifier.texts(job_id)
    assert texts[-1].startswith("*COMPLETED*") and not any("FAILED" in t for t in texts)


async def test_controller_down_posts_no_false_failed(rig: Rig, lab: Lab) -> None:
    job_id = await rig.submit("sleep 25")
    await rig.run_until_running(job_id)
    await lab.fault("ctld-down")
    try:
        for _ in range(2):
            await rig.monitor.tick("lab")
        assert len(rig.notifier.notices) == 1, rig.notifier.notices
        assert "Unable to contact slurm controller" in rig.notifier.notices[0][1]
    finally:
        await lab.fault("ctld-up")
    await rig.run_until_done(job_id, timeout=90)
    texts = rig.notifier.texts(job_id)
    assert not any("FAILED" in t or "UNKNOWN" in t for t in texts), texts
    assert texts[-1].startswith("*COMPLETED*") and "answers again" in rig.notifier.notices[-1][1]


async def test_an_array_has_one_thread_with_a_task_tally(rig: Rig) -> None:
    _, client = rig.rt.clusters.client(ALICE, "lab")
    res = await client.transport.run(
        ["sbatch", "--parsable", "-p", "cpu", "--array=1-6", "--wrap", "sleep 2"]
    )
    array = res.stdout.strip()
    await rig.monitor.follow(
        cluster="lab", job_id=array, user_id=ALICE, channel="C1", card_ts="card-array"
    )
    await rig.run_until_done(array)
    texts = rig.notifier.texts(array)
    assert all(j == array for j, _ in rig.notifier.replies if j.startswith(array))
    assert "array tasks: COMPLETED 6" in texts[-1], texts
    assert any("array tasks:" in t for t in texts[:-1])


async def _rig_with_broken_bob(lab: Lab, tmp_path: Path) -> Rig:
    """Alice as usual; Bob's key_file is garbage and Bob follows a job ahead of Alice."""
    data = lab.config_data()
    garbage = tmp_path / "bob_key"
    garbage.write_text("not a key at all\n")
    data["access"]["users"][BOB]["key_file"] = str(garbage)
    rt = await Runtime.open(parse_config(data))
    store = open_state(tmp_path / "broken")
    watches = WatchStore(store)
    notifier = Recorder()
    monitor = JobMonitor(
        rt.access, rt.clusters, watches, notifier, NotifyConfig(time_limit_warning=0)
    )
    rig = Rig(rt, store, watches, notifier, monitor)
    await monitor.follow(cluster="lab", job_id="999990", user_id=BOB, channel="CB", card_ts="b")
    return rig


async def test_one_accounts_broken_key_does_not_stop_the_others(lab: Lab, tmp_path: Path) -> None:
    rig = await _rig_with_broken_bob(lab, tmp_path)
    try:
        job_id = await rig.submit("sleep 1")
        await rig.run_until_done(job_id)
        assert rig.notifier.texts(job_id)[-1].startswith("*COMPLETED*")
        report = await rig.monitor.tick("lab")
        assert any(p.startswith("the key for bob on lab cannot be loaded") for p in report.problems)
        # Bob's broken key is news in Bob's channel only, once, and not called an outage.
        assert [ch for ch, _ in rig.notifier.notices] == ["CB"], rig.notifier.notices
        assert rig.notifier.notices[0][1].startswith("the jobs of bob on lab cannot be read")
    finally:
        await rig.store.close()
        await rig.rt.close()


async def test_an_unexpected_error_in_one_survey_does_not_stop_the_others(
    lab: Lab, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rig = await _rig_with_broken_bob(lab, tmp_path)
    _, bobs = rig.rt.clusters.client(BOB, "lab")

    async def boom(*_: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(bobs, "survey", boom)
    try:
        job_id = await rig.submit("sleep 1")
        await rig.run_until_done(job_id)
        assert rig.notifier.texts(job_id)[-1].startswith("*COMPLETED*")
        report = await rig.monitor.tick("lab")
        assert report.problems == ["the jobs of bob could not be read; see the log"]
    finally:
        await rig.store.close()
        await rig.rt.close()
