"""Several `bot serve --http` replicas on one PostgreSQL store, on the real lab and the Slack
stand-in, as a deployment behind a load balancer runs them: the leader SIGKILLed mid-run,
a third replica joining later, a slash command and its Slack retry on two replicas.
Everything is counted where Slack would see it (the stand-in) and where Slurm has it.

The failover run is one scenario (its jobs and its report slots share the same minutes: the
file stays within a few minutes); each test asserts one part of what it saw. The helpers here
also drive bench/failover.py."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import re
import secrets
import signal
import sys
import time
import urllib.parse
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
import yaml
from storekit import forget, pg_url
from test_serve_lab import _http_env, _port

from labkit import ADMIN, ALICE, BOB, Lab
from slack_standin import Call, SlackStandIn, sign, slash_command_body
from slackkit import SECRET

pytestmark = pytest.mark.lab

POLL = 2.0  # notify.poll_interval of every replica, seconds
CLUSTER = "lab"
LEADING = f"this replica is now polling {CLUSTER}"
REPORTS_INTO = "C0REPORTS"  # the channel alice may schedule reports into
JOBS = 20
JOB_CHANNEL = "C0JOB"  # + the job's number: the channel its card and thread are in
SLOT = 60.0  # the report runs every minute
SLOT_POSTED = 10.0  # seconds a slot's report takes to be out (Slurm read over SSH, a post)
LEAD_IN = 8.0  # the jobs start this long before the report's first slot
_REPORT = re.compile(r"^Scheduled report (\S+): \S+ at (\d{4}-\d\d-\d\d \d\d:\d\d) UTC")
_FIRST = re.compile(r"\(report (\S+)\); the first at (\d{4}-\d\d-\d\d \d\d:\d\d) UTC")


def replica_config(lab: Lab) -> dict[str, Any]:
    """The lab's config as every replica has it: one cluster, polled every POLL s, reports
    every minute allowed, alice may report into REPORTS_INTO."""
    data = lab.config_data()
    access = {**data["access"], "reports": {REPORTS_INTO: [ALICE]}}
    return {
        **data,
        "clusters": data["clusters"][:1],
        "access": access,
        "notify": {"poll_interval": POLL, "time_limit_warning": 0},
        "reports": {"min_interval": SLOT},
    }


# ------------------------------------------------------------------------ replicas


@dataclass
class Replica:
    """One `bot serve --http` process: its port, and its log lines as they came (with the
    `time.monotonic()` each was read at, the clock the stand-in stamps calls with)."""

    name: str
    port: int
    proc: asyncio.subprocess.Process
    log: list[tuple[float, str]] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    def leading_since(self) -> float | None:
        """When it said it took the cluster's lease (the last time, if more than once)."""
        times = [at for at, line in self.log if line.endswith(LEADING)]
        return times[-1] if times else None

    def lines(self, *words: str) -> list[str]:
        return [line for _, line in self.log if all(w in line for w in words)]

    async def command(
        self,
        standin: SlackStandIn,
        text: str,
        user: str,
        name: str,
        channel: str = "C1",
    ) -> None:
        """`/srunx TEXT` from `user` in `channel`, signed as Slack signs it; its answers go
        to the stand-in's response_url `name`."""
        await post_signed(self.url, command_body(standin, text, user, name, channel))

    async def kill(self) -> float:
        """SIGKILL: no cleanup, no goodbye. When it was sent (monotonic)."""
        at = time.monotonic()
        self.proc.send_signal(signal.SIGKILL)
        await self.proc.wait()
        return at

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 15)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self.reader is not None:
            await self.reader


def command_body(
    standin: SlackStandIn, text: str, user: str, name: str, channel: str = "C1"
) -> str:
    """A slash command's form body; `name` is its response_url's and its trigger id."""
    form = slash_command_body(
        text,
        user_id=user,
        channel_id=channel,
        response_url=standin.response_url(name),
        trigger_id=name,
    )
    return urllib.parse.urlencode(form)


async def post_signed(url: str, body: str, headers: dict[str, str] | None = None) -> None:
    """POST a slash command's body as Slack does (signed, plus `headers`); it must be acked."""
    hdrs = {"Content-Type": "application/x-www-form-urlencoded", **sign(SECRET, body)}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers={**hdrs, **(headers or {})}) as resp,
    ):
        assert resp.status == 200, await resp.text()


async def _listening(replica: Replica, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if replica.proc.returncode is not None:
            tail = "\n".join(line for _, line in replica.log[-20:])
            raise AssertionError(
                f"replica {replica.name} exited ({replica.proc.returncode}):\n{tail}"
            )
        with contextlib.suppress(OSError):
            _, writer = await asyncio.open_connection("127.0.0.1", replica.port)
            writer.close()
            await writer.wait_closed()
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"replica {replica.name} never listened on port {replica.port}")


async def _read_log(replica: Replica, out: Path) -> None:
    assert replica.proc.stdout is not None
    with out.open("w") as f:  # kept next to its state, for a failure's post-mortem
        async for raw in replica.proc.stdout:
            line = raw.decode(errors="replace").rstrip()
            replica.log.append((time.monotonic(), line))
            f.write(line + "\n")
            f.flush()


class Fleet:
    """Replicas sharing one store (`store`: its URL), each with its own port, config and
    state directory under `where`; `close` stops every one still running."""

    def __init__(self, where: Path, lab: Lab, standin: SlackStandIn, store: str) -> None:
        self.where = where
        self.lab = lab
        self.standin = standin
        self.store = store
        self.replicas: list[Replica] = []

    async def start(self, name: str) -> Replica:
        """A new replica, once it listens."""
        home = self.where / name
        home.mkdir(parents=True, exist_ok=True)
        cfg = home / "srunx-bot.yaml"
        cfg.write_text(yaml.safe_dump(replica_config(self.lab)))
        cfg.chmod(0o600)
        env = {
            **os.environ,
            **_http_env(self.standin),
            "SRUNX_BOT_CONFIG": str(cfg),
            "SRUNX_BOT_STATE": str(home / "state"),
            "SRUNX_BOT_STORE": self.store,
        }
        port = _port()
        argv = ("-m", "bot", "serve", "--http", "--port", str(port), "--host", "127.0.0.1")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            *argv,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        replica = Replica(name, port, proc)
        replica.reader = asyncio.create_task(_read_log(replica, home / "bot.log"))
        self.replicas.append(replica)
        await _listening(replica)
        return replica

    @property
    def alive(self) -> list[Replica]:
        return [r for r in self.replicas if r.proc.returncode is None]

    async def leader(self, timeout: float = 30.0) -> Replica:
        """The live replica polling the cluster now (the last to say it took the lease)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            saying = [(r.leading_since(), r) for r in self.alive]
            led = [(at, r) for at, r in saying if at is not None]
            if led:
                return max(led, key=lambda x: x[0])[1]
            await asyncio.sleep(0.1)
        raise AssertionError(f"no replica took the lease of {CLUSTER} within {timeout:.0f} s")

    async def close(self) -> None:
        await asyncio.gather(*(r.stop() for r in self.replicas))


# ---------------------------------------------------------------- what Slack saw


def _payload(call: Call) -> dict[str, Any]:
    meta = call.params.get("metadata")
    payload = meta.get("event_payload") if isinstance(meta, dict) else None
    return payload if isinstance(payload, dict) else {}


def transition_posts(standin: SlackStandIn) -> dict[str, list[Call]]:
    """Each job's transition posts in its thread (by the job its message metadata names),
    in the order they came."""
    found: dict[str, list[Call]] = {}
    for call in standin.calls_to("chat.postMessage"):
        payload = _payload(call)
        if payload.get("kind") == "transition" and call.params.get("thread_ts"):
            found.setdefault(str(payload["job"]), []).append(call)
    return found


def text_of(call: Call) -> str:
    return str(call.params.get("text"))


def is_final(text: str) -> bool:
    return text.startswith("*")  # a final summary opens with its state in bold


def first_post_after(standin: SlackStandIn, at: float) -> Call | None:
    """The first transition posted after `at` (monotonic), by whichever replica."""
    later = [c for posts in transition_posts(standin).values() for c in posts if c.at > at]
    return min(later, key=lambda c: c.at) if later else None


def report_posts(standin: SlackStandIn) -> list[tuple[datetime, Call]]:
    """The scheduled reports posted, with the slot each is for (from its fallback text)."""
    found = []
    for call in standin.calls_to("chat.postMessage"):
        m = _REPORT.match(text_of(call))
        if m and call.params.get("channel") == REPORTS_INTO:
            found.append((datetime.strptime(m[2], "%Y-%m-%d %H:%M").replace(tzinfo=UTC), call))
    return found


async def wait_until(
    what: str, ready: Callable[[], object], timeout: float, every: float = 0.25
) -> None:
    """Until `ready()` (sync or async) is true; AssertionError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = ready()
        if inspect.isawaitable(done):
            done = await done
        if done:
            return
        await asyncio.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


# --------------------------------------------------------------------- Slurm side


async def slurm_jobs(lab: Lab, prefix: str) -> dict[str, tuple[str, str]]:
    """job id -> (name, state) of every job named `prefix...` of the last hour, as
    accounting and the controller have it (squeue wins: accounting may lag a moment)."""
    since = (datetime.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S")
    acct = await lab.sh("sacct", "-X", "-n", "-P", "-a", "-o", "JobID,JobName,State", "-S", since)
    queue = await lab.sh("squeue", "-h", "-o", "%i|%j|%T")
    found: dict[str, tuple[str, str]] = {}
    for line in [*acct.splitlines(), *queue.splitlines()]:
        parts = line.strip().split("|")
        if len(parts) == 3 and parts[1].startswith(prefix):
            found[parts[0]] = (parts[1], parts[2].split()[0])
    return found


async def cancel_jobs(lab: Lab, prefix: str) -> None:
    queue = await lab.sh("squeue", "-h", "-o", "%i|%j")
    ids = [i for i, _, n in (ln.partition("|") for ln in queue.split()) if n.startswith(prefix)]
    if ids:
        await lab.sh("scancel", *ids, check=False)


async def unposted(lab: Lab, standin: SlackStandIn, prefix: str) -> list[str]:
    """Jobs whose state in Slurm now is not yet posted in their thread: a replica polling
    the cluster owes a post right now."""
    posted = transition_posts(standin)
    owed = []
    for job_id, (_, state) in (await slurm_jobs(lab, prefix)).items():
        texts = [text_of(c) for c in posted.get(job_id, [])]
        told = (
            any(is_final(t) for t in texts)
            if state not in ("PENDING", "RUNNING")
            else (state == "PENDING" or any(t.startswith("RUNNING") for t in texts))
        )
        if not told:
            owed.append(job_id)
    return owed


def clear_of_slot(margin_before: float = 2.0, margin_after: float = SLOT_POSTED) -> bool:
    """Not at a report's minute: a slot whose replica is killed while posting it is finished
    by another replica only after POSTING_STALE (30 s, tested in test_scheduler_slots.py),
    which would stretch this scenario past the next slots."""
    into = time.time() % SLOT
    return margin_after < into < SLOT - margin_before


# ------------------------------------------------------------- the failover run


@dataclass
class Failover:
    """What the failover scenario saw."""

    standin: SlackStandIn
    jobs: dict[str, tuple[str, str]]  # job id -> (name, final state in Slurm)
    survivor: Replica
    joined: Replica
    killed_at: float  # monotonic
    owed_at_kill: list[str]
    joined_at: float  # monotonic
    report_id: str
    first_slot: datetime
    ended: datetime  # wall clock
    reports_on_joined: str  # what the third replica answered to `reports`


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def failover(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Failover]:
    """Two replicas follow 20 jobs of alice and bob (submitted alternately to each) and a
    report every minute; the leader is SIGKILLed while a transition is owed, a third replica
    joins after; it ends when every job has ended and two report slots are out."""
    where = tmp_path_factory.mktemp("replicas")
    prefix = f"rep{secrets.token_hex(3)}-"
    async with SlackStandIn() as standin:
        fleet = Fleet(where, lab, standin, pg_url(where))
        try:
            yield await _run_failover(fleet, lab, standin, prefix)
        finally:
            await fleet.close()
            await cancel_jobs(lab, prefix)
            await forget(where)


async def _run_failover(fleet: Fleet, lab: Lab, standin: SlackStandIn, prefix: str) -> Failover:
    a, b = await asyncio.gather(fleet.start("a"), fleet.start("b"))  # both migrate at once
    replicas = [a, b]
    leader = await fleet.leader()  # it took the lease at its first poll
    [survivor] = [r for r in replicas if r is not leader]
    # On the replica about to die: the survivors post its slots from the store alone.
    await leader.command(
        standin, f'report every "* * * * *" --channel {REPORTS_INTO}', ALICE, "schedule"
    )
    [alert] = await standin.wait_for(
        "chat.postMessage",
        timeout=30,
        where=lambda c: c.params.get("channel") == REPORTS_INTO and "the first at" in text_of(c),
    )
    m = _FIRST.search(text_of(alert))
    assert m, text_of(alert)
    report_id, first_slot = m[1], datetime.strptime(m[2], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    # The jobs start just before the first slot: it falls while they run, before the kill,
    # and the next one after it.
    await asyncio.sleep(max(0.0, (first_slot - datetime.now(UTC)).total_seconds() - LEAD_IN))

    # Shortest first, so the jobs running when the leader dies are long enough to be seen.
    # Each in a channel of its own: the bot posts at most one message a second into a
    # channel (Slack's pace), so 20 jobs in one would make a tick outlast the short jobs.
    for i in range(JOBS):
        secs = round(4 + 16 * i / (JOBS - 1))
        user = ALICE if i % 2 == 0 else BOB
        text = f"submit -J {prefix}{i:02d} -p cpu -- sleep {secs}"
        replica = replicas[(i // 2) % 2]
        await replica.command(standin, text, user, f"submit-{i}", f"{JOB_CHANNEL}{i:02d}")

    def carded() -> bool:
        top = [c for c in standin.calls_to("chat.postMessage") if not c.params.get("thread_ts")]
        return sum(str(c.params.get("channel")).startswith(JOB_CHANNEL) for c in top) >= JOBS

    await wait_until(f"{JOBS} job cards", carded, 60)
    owed: list[str] = []

    async def owed_now() -> bool:
        """Jobs have started, the first slot is out, a transition is owed, and no report
        slot is near."""
        started = sum(
            any(text_of(c).startswith("RUNNING") for c in posts)
            for posts in transition_posts(standin).values()
        )
        slot_out = any(slot == first_slot for slot, _ in report_posts(standin))
        if started >= 2 and slot_out and clear_of_slot():
            owed[:] = await unposted(lab, standin, prefix)
        return bool(owed)

    await wait_until("the first slot out, then a transition owed", owed_now, SLOT, every=0.1)
    killed_at = await leader.kill()
    await wait_until("the survivor's first post", lambda: first_post_after(standin, killed_at), 30)
    joined = await fleet.start("c")
    joined_at = time.monotonic()
    await joined.command(standin, "reports", ADMIN, "joined-reports")
    [listed] = await standin.wait_for(
        "response_url", timeout=30, where=lambda c: c.params.get("name") == "joined-reports"
    )

    async def all_ended() -> bool:
        posts = transition_posts(standin)
        ended = [
            j
            for j in await slurm_jobs(lab, prefix)
            if any(is_final(text_of(c)) for c in posts.get(j, []))
        ]
        return len(ended) >= JOBS

    await wait_until(f"all {JOBS} jobs' final posts", all_ended, 180, every=1.0)
    second = first_slot + timedelta(seconds=SLOT)
    await wait_until(
        "two report slots out",
        lambda: datetime.now(UTC) >= second + timedelta(seconds=SLOT_POSTED),
        2 * SLOT + 2 * SLOT_POSTED,
        every=1.0,
    )
    await asyncio.sleep(2 * POLL + 1)  # a few more ticks: nothing more may arrive
    return Failover(
        standin=standin,
        jobs=await slurm_jobs(lab, prefix),
        survivor=survivor,
        joined=joined,
        killed_at=killed_at,
        owed_at_kill=list(owed),
        joined_at=joined_at,
        report_id=report_id,
        first_slot=first_slot,
        ended=datetime.now(UTC),
        reports_on_joined=str(listed.params),
    )


def _check_thread(job_id: str, posts: list[Call], standin: SlackStandIn) -> list[str]:
    """What is wrong with one job's thread: each transition once, RUNNING once, the final
    state once, all under its card."""
    texts = [text_of(c) for c in posts]
    seqs = [_payload(c).get("seq") for c in posts]
    problems = []
    if len(set(seqs)) != len(seqs):
        problems.append(f"a transition posted twice: seqs {seqs}")
    if len(set(texts)) != len(texts):
        problems.append("a text posted twice")
    if sum(t.startswith("RUNNING") for t in texts) != 1:
        problems.append("RUNNING not posted exactly once")
    if sum(is_final(t) for t in texts) != 1 or not is_final(texts[-1]):
        problems.append("the final state not posted exactly once, last")
    [ts] = {str(c.params["thread_ts"]) for c in posts}
    card = standin.messages.get(ts, {})
    if card.get("thread_ts") or job_id not in str(card.get("text")):
        problems.append(f"thread {ts} is not the job's card")
    return [f"job {job_id}: {p}: {texts}" for p in problems]


def test_every_transition_is_posted_once_across_a_leader_kill(failover: Failover) -> None:
    jobs = failover.jobs
    assert len(jobs) == JOBS, jobs
    assert all(state == "COMPLETED" for _, state in jobs.values()), jobs
    posts = transition_posts(failover.standin)
    assert set(posts) == set(jobs), sorted(set(posts) ^ set(jobs))
    problems = [p for j in sorted(jobs) for p in _check_thread(j, posts[j], failover.standin)]
    assert not problems, "\n".join(problems)
    notes = [
        c
        for c in failover.standin.calls_to("chat.postMessage")
        if _payload(c).get("kind") == "note"
    ]
    assert not notes, [text_of(c) for c in notes]
    assert not failover.standin.violations


def test_the_survivor_takes_over_within_a_poll_interval(failover: Failover) -> None:
    first = first_post_after(failover.standin, failover.killed_at)
    assert first is not None
    took = first.at - failover.killed_at
    leading = failover.survivor.leading_since()
    assert leading is not None and leading > failover.killed_at, failover.survivor.lines("polling")
    print(
        f"\nSIGKILL of the leader -> the survivor's first post: {took:.2f} s "
        f"(lease taken after {leading - failover.killed_at:.2f} s; poll interval {POLL:.0f} s; "
        f"owed at the kill: {len(failover.owed_at_kill)} transition(s))"
    )
    assert took <= POLL + 3, took


def test_a_report_every_minute_posts_each_slot_once_across_the_kill(failover: Failover) -> None:
    posted = report_posts(failover.standin)
    count = Counter(slot for slot, _ in posted)
    shown = {s.strftime("%H:%M"): n for s, n in sorted(count.items())}
    due, slot = [], failover.first_slot
    while slot + timedelta(seconds=SLOT_POSTED) <= failover.ended:
        due.append(slot)
        slot += timedelta(seconds=SLOT)
    assert len(due) >= 2, due
    assert all(count[s] == 1 for s in due), f"posts per slot: {shown}; due: {due}"
    assert set(count) <= {*due, slot}, shown  # nothing but due slots (the next may be early)
    assert all(n == 1 for n in count.values()), shown
    # Scheduled on the replica killed: a slot it saw out, and one the others posted alone.
    assert any(c.at < failover.killed_at for _, c in posted), shown
    assert any(c.at > failover.killed_at for _, c in posted), shown


def test_a_third_replica_joins_without_a_double_post(failover: Failover) -> None:
    joined = failover.joined
    assert failover.report_id in failover.reports_on_joined  # it reads what others stored
    later = [
        c
        for posts in transition_posts(failover.standin).values()
        for c in posts
        if c.at > failover.joined_at
    ]
    assert later, "no transition came after the third replica joined: nothing was tested"
    assert not joined.lines(LEADING), "the third replica polled while the survivor led"
    # Each of those once: the whole-run check covers them; here, by (job, seq).
    keys = [(_payload(c)["job"], _payload(c)["seq"]) for c in later]
    assert len(keys) == len(set(keys)), keys


# -------------------------------------------------------- a retry on another replica


@pytest.fixture
async def fleet(tmp_path: Path, lab: Lab, standin: SlackStandIn) -> AsyncIterator[Fleet]:
    crew = Fleet(tmp_path, lab, standin, pg_url(tmp_path))
    try:
        yield crew
    finally:
        await crew.close()
        await forget(tmp_path)


async def test_a_slash_command_and_its_retry_on_another_replica_run_once(
    lab: Lab, standin: SlackStandIn, fleet: Fleet
) -> None:
    a, b = await asyncio.gather(fleet.start("a"), fleet.start("b"))
    name = f"retry{secrets.token_hex(3)}"
    try:
        body = command_body(standin, f"submit -J {name} -p cpu -- sleep 30", ALICE, "once")
        retry = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}
        # At once: the retry reaches the other replica while the first still runs it.
        await asyncio.gather(post_signed(a.url, body), post_signed(b.url, body, retry))
        await standin.wait_for("chat.postMessage", timeout=30, where=lambda c: name in text_of(c))
        await asyncio.sleep(2 * POLL + 1)  # time for a second submission to show
        submitted = await slurm_jobs(lab, name)
        assert len(submitted) == 1, submitted
        cards = [
            c
            for c in standin.calls_to("chat.postMessage")
            if name in text_of(c) and not c.params.get("thread_ts")
        ]
        assert len(cards) == 1, cards
    finally:
        await cancel_jobs(lab, name)
