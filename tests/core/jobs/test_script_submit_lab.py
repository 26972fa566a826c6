"""`submit --script` on the lab: a script in alice's home, rendered with its `--var`s, its own
`#SBATCH` lines standing unless a flag overrides them, nothing run on the login node."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.core import replies as r
from bot.core.models import JobState
from bot.render.text import render_text
from bot.runtime import Runtime
from labkit import ALICE, Lab, eventually, wait_state

pytestmark = pytest.mark.lab

SCRIPT = """#!/bin/bash
#SBATCH -p cpu
#SBATCH -t 5
echo "epochs={{ epochs }}"
echo 'note={{ note }}'
"""


@pytest.fixture
def script(lab: Lab) -> Iterator[str]:
    """A script alice owns in her home; its name relative to her home."""
    name = f"train-{secrets.token_hex(4)}.sh"
    path = lab.home("alice") / name
    path.write_text(SCRIPT)
    os.chown(path, *_ids(lab.home("alice")))
    yield name
    path.unlink(missing_ok=True)


def _ids(home: Path) -> tuple[int, int]:
    st = home.stat()
    return st.st_uid, st.st_gid


async def _partition(rt: Runtime, job_id: str) -> str:
    _, client = rt.clusters.client(ALICE, None)
    argv = ["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "Partition"]

    async def ask() -> str:
        return (await client.transport.run(argv)).stdout.strip()

    partition: str = await eventually(ask, bool, timeout=20)  # accounting may lag the end
    return partition


async def _tail(rt: Runtime, job_id: str, want: str) -> str:
    tail = await eventually(
        lambda: rt.dispatch.handle(ALICE, f"tail {job_id} -n 5"),
        lambda t: isinstance(t, r.TailReply) and want in t.text,
        timeout=20,
    )
    assert isinstance(tail, r.TailReply)
    return tail.text


async def test_a_script_runs_with_its_vars_and_its_own_partition(rt: Runtime, script: str) -> None:
    sub = await rt.dispatch.handle(
        ALICE, f"submit --script ~/{script} --var epochs=3 --var note=hi"
    )
    assert isinstance(sub, r.Submitted), sub
    assert "partition cpu" in render_text(sub)  # announced as Slurm took it, not "default"
    _, client = rt.clusters.client(ALICE, None)
    await wait_state(client, sub.job_id, {JobState.COMPLETED})
    assert await _partition(rt, sub.job_id) == "cpu"  # its `#SBATCH -p cpu` stood
    assert "epochs=3" in await _tail(rt, sub.job_id, "epochs=")


async def test_a_flag_overrides_the_scripts_sbatch_line(rt: Runtime, script: str) -> None:
    sub = await rt.dispatch.handle(
        ALICE, f"submit -p gpu --script {script} --var epochs=1 --var n="
    )
    assert isinstance(sub, r.ErrorReply) and "`note`" in sub.message  # undefined: named
    sub = await rt.dispatch.handle(
        ALICE, f"submit -p gpu --script {script} --var epochs=1 --var note="
    )
    assert isinstance(sub, r.Submitted), sub
    _, client = rt.clusters.client(ALICE, None)
    await wait_state(client, sub.job_id, {JobState.COMPLETED})
    assert await _partition(rt, sub.job_id) == "gpu"


async def test_a_dry_run_shows_the_script_and_the_sbatch_argv(rt: Runtime, script: str) -> None:
    reply = await rt.dispatch.handle(
        ALICE, f"submit --script {script} --var epochs=3 --var note=x -t 2 --dry-run"
    )
    assert isinstance(reply, r.DryRun), reply
    assert 'echo "epochs=3"' in reply.script and "#SBATCH -p cpu" in reply.script
    assert reply.sbatch == ("sbatch", "--parsable", "--time=2")


async def test_shell_text_in_a_var_or_the_path_runs_nothing_on_the_login_node(
    rt: Runtime, script: str
) -> None:
    mark = Path(f"/tmp/pwned-{secrets.token_hex(4)}")
    value = f"$(touch {mark}); `touch {mark}`"
    sub = await rt.dispatch.handle(
        ALICE, f'submit --script {script} --var epochs=2 --var "note={value}"'
    )
    assert isinstance(sub, r.Submitted), sub
    _, client = rt.clusters.client(ALICE, None)
    await wait_state(client, sub.job_id, {JobState.COMPLETED})
    assert f"note=$(touch {mark})" in await _tail(rt, sub.job_id, "note=")  # as text, quoted
    missing = await rt.dispatch.handle(ALICE, f"submit --script '$(touch {mark}).sh'")
    assert isinstance(missing, r.ErrorReply) and "cannot read the script" in missing.message
    assert not mark.exists()
