"""The test lab (tests/lab): where it is, how to reach it, how to break it, and configs for it."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel

from bot.config import Config, parse_config
from bot.core import replies as r
from bot.core.flowruns import Dep, FlowCell, FlowRun, FlowStep
from bot.core.models import JobInfo, JobState
from bot.core.ports import ThreadPost
from bot.core.records import JobThread
from bot.core.slurm.client import SlurmClient
from bot.errors import PostRefused

LAB_SCRIPTS = Path(__file__).resolve().parent / "lab"
ALICE, BOB, ADMIN, STRANGER = "U0ALICE", "U0BOB", "U0ADMIN", "U0NOBODY"
R = TypeVar("R", bound=BaseModel)


@dataclass(frozen=True)
class Lab:
    dir: Path
    host: str = "127.0.0.1"
    ssh_port: int = 2222
    jump_port: int = 2223
    pg_port: int = 55432

    @classmethod
    def from_env(cls) -> Lab:
        return cls(
            dir=Path(os.environ.get("LAB_DIR", "/tmp/srunx-lab")),
            ssh_port=int(os.environ.get("LAB_SSH_PORT", "2222")),
            jump_port=int(os.environ.get("LAB_JUMP_PORT", "2223")),
            pg_port=int(os.environ.get("LAB_PG_PORT", "55432")),
        )

    @property
    def pg_url(self) -> str:
        """The lab's PostgreSQL (tests/lab/start.sh), as a deployment's `store:` names it."""
        return f"postgresql://srunx:srunxlab@{self.host}:{self.pg_port}/srunx"

    def why_no_postgres(self) -> str | None:
        try:
            with socket.create_connection((self.host, self.pg_port), timeout=2):
                return None
        except OSError as e:
            return (
                f"lab PostgreSQL not listening on {self.host}:{self.pg_port} ({e.strerror}): "
                "run tests/lab/start.sh"
            )

    @property
    def known_hosts(self) -> Path:
        return self.dir / "ssh" / "known_hosts"

    @property
    def slurm_conf(self) -> Path:
        return self.dir / "etc" / "slurm.conf"

    def key(self, user: str) -> Path:
        return self.dir / "ssh" / "keys" / user

    def home(self, user: str) -> Path:
        return Path("/home") / user

    def why_not_ready(self) -> str | None:
        if not self.known_hosts.is_file():
            return f"lab not set up ({self.known_hosts} missing): run tests/lab/setup.sh"
        try:
            with socket.create_connection((self.host, self.ssh_port), timeout=2):
                return None
        except OSError as e:
            return f"lab sshd not listening on {self.host}:{self.ssh_port} ({e.strerror})"

    @classmethod
    def running(cls) -> Lab | None:
        """The lab for a benchmark, or None after saying why it cannot run."""
        lab = cls.from_env()
        why = lab.why_not_ready()
        if why:
            print(f"lab not running: {why}", file=sys.stderr)
            return None
        return lab

    def config_data(self, **cluster_overrides: Any) -> dict[str, Any]:
        base = {
            "host": self.host,
            "port": self.ssh_port,
            "known_hosts": str(self.known_hosts),
            "default_partition": "gpu",
            "reconnect_max_backoff": 2,
            "command_timeout": 40,
        }
        return {
            "clusters": [
                {"name": "lab", **base, **cluster_overrides},
                {"name": "jump", **base, "proxy_jump": f"{self.host}:{self.jump_port}"},
            ],
            "access": {
                "users": {
                    ALICE: {"account": "alice", "key_file": str(self.key("alice"))},
                    BOB: {"account": "bob", "key_file": str(self.key("bob"))},
                    ADMIN: {"account": "hpcuser", "key_file": str(self.key("hpcuser"))},
                },
                "admins": [ADMIN],
            },
        }

    def config(self, **cluster_overrides: Any) -> Config:
        return parse_config(self.config_data(**cluster_overrides), "lab test config")

    async def sh(self, *argv: str, check: bool = True) -> str:
        """Run a root-side command against the lab (fault toggles, scontrol)."""
        env = {**os.environ, "SLURM_CONF": str(self.slurm_conf), "LAB_DIR": str(self.dir)}
        proc = await asyncio.create_subprocess_exec(
            *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        out, _ = await proc.communicate()
        text = out.decode(errors="replace")
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {text}")
        return text

    async def fault(self, toggle: str) -> None:
        await self.sh("bash", str(LAB_SCRIPTS / "fault.sh"), toggle)


@dataclass
class Posts:
    """A Poster (bot/core/ports.py) that records what the core posts on its own. `refusing`:
    how many of the next calls of each method (by name) Slack refuses."""

    sent: list[tuple[str, r.Reply]] = field(default_factory=list)
    refusing: Counter[str] = field(default_factory=Counter)
    marks: list[tuple[str, str]] = field(default_factory=list)  # (channel, mark) posted

    def _gate(self, method: str) -> None:
        if self.refusing[method] > 0:
            self.refusing[method] -= 1
            raise PostRefused(f"{method} refused (as the test asked)")

    async def post(self, channel: str, reply: r.Reply, mark: str | None = None) -> str:
        self._gate("post")
        self.sent.append((channel, reply))
        if mark is not None:
            self.marks.append((channel, mark))
        return f"ts-{len(self.sent)}"

    async def posted(self, channel: str, mark: str) -> bool:
        return (channel, mark) in self.marks

    def of(self, kind: type[R]) -> list[R]:
        return [x for _, x in self.sent if isinstance(x, kind)]


@dataclass
class Recorder(Posts):
    """An Outbox (bot/core/ports.py) that records what a monitor or a workflow run posts,
    Slack-free. Its threads cannot be read back: an in-flight transition goes out again after
    a restart."""

    cards: list[tuple[str, str]] = field(default_factory=list)  # (channel, job_id)
    updates: list[tuple[str, JobState]] = field(default_factory=list)
    replies: list[tuple[str, str]] = field(default_factory=list)  # (job_id, text)
    notices: list[tuple[str, str]] = field(default_factory=list)  # (channel, text)
    runs: list[FlowRun] = field(default_factory=list)  # workflow runs' parent messages
    run_updates: list[str] = field(default_factory=list)  # run ids, one per update
    run_posts: list[tuple[str, str]] = field(default_factory=list)  # (run_id, text)
    shown: dict[str, FlowRun] = field(default_factory=dict)  # run id -> as last posted

    async def post_card(
        self, channel: str, thread_ts: str | None, cluster: str, job: JobInfo
    ) -> str:
        self._gate("post_card")
        self.cards.append((channel, job.job_id))
        return f"ts-{len(self.cards)}"

    async def update_card(self, thread: JobThread, job: JobInfo) -> None:
        self.updates.append((thread.job_id, job.state))

    async def post_reply(self, thread: JobThread, post: ThreadPost) -> None:
        self._gate("post_reply")
        if post.before_send is not None:
            await post.before_send()
        self.replies.append((thread.job_id, post.text))

    async def posted_in_thread(self, thread: JobThread, seq: int) -> bool:
        return False

    async def post_notice(self, channel: str, text: str) -> None:
        self._gate("post_notice")
        self.notices.append((channel, text))

    async def post_run(self, run: FlowRun) -> str:
        self._gate("post_run")
        self.runs.append(run)
        self.shown[run.id] = run
        return f"ts-run-{len(self.runs)}"

    async def update_run(self, run: FlowRun) -> None:
        self._gate("update_run")
        self.run_updates.append(run.id)
        self.shown[run.id] = run

    async def post_in_run(self, run: FlowRun, post: ThreadPost) -> None:
        self._gate("post_in_run")
        if post.before_send is not None:
            await post.before_send()
        self.run_posts.append((run.id, post.text))

    async def posted_in_run(self, run: FlowRun, seq: int) -> bool:
        return False

    def texts(self, job_id: str) -> list[str]:
        return [t for j, t in self.replies if j == job_id]

    def run_texts(self, run_id: str) -> list[str]:
        return [t for i, t in self.run_posts if i == run_id]

    @property
    def posts(self) -> int:
        """Thread posts (jobs' and runs') and notices."""
        return len(self.replies) + len(self.run_posts) + len(self.notices)


def flow_step(name: str, *after: str, **fields: Any) -> FlowStep:
    """A job of a workflow run, `afterok` on each of `after` (pass `deps=` for other kinds)."""
    deps = [Dep(on=parent) for parent in after]
    return FlowStep.model_validate(
        {
            "name": name,
            "slurm_name": f"diamond.{name}",
            "script": f"#!/bin/bash\necho {name}\n",
            "deps": deps,
            **fields,
        }
    )


def flow_run(*cells: list[FlowStep], **fields: Any) -> FlowRun:
    """Alice's run in C1, one cell per list of steps (more than one: a sweep)."""
    return FlowRun.model_validate(
        {
            "name": "diamond",
            "cluster": "lab",
            "user_id": ALICE,
            "account": "alice",
            "channel": "C1",
            "source": "attached diamond.yaml",
            "cells": [FlowCell(index=i, steps=steps) for i, steps in enumerate(cells)],
            **fields,
        }
    )


async def eventually(
    probe: Callable[[], Awaitable[Any]],
    ok: Callable[[Any], bool],
    timeout: float = 60.0,
    interval: float = 0.5,
) -> Any:
    """Poll `probe` until `ok(result)`; return the result, or fail with the last one seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await probe()
        if ok(last):
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout:.0f} s; last result: {last!r}")


async def wait_state(
    client: SlurmClient, job_id: str, want: set[JobState], timeout: float = 60.0
) -> JobInfo:
    info: JobInfo = await eventually(
        lambda: client.job(job_id), lambda i: i.state in want, timeout=timeout
    )
    return info
