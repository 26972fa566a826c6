"""The core as every surface uses it: `Runtime.handle(user, text)` against the real lab."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from bot.core import replies as r
from bot.core.models import Job, JobResource, JobState
from bot.render.blocks import render_blocks
from bot.runtime import Runtime
from labkit import ADMIN, ALICE, BOB, STRANGER, Lab, eventually, wait_state

pytestmark = pytest.mark.lab


async def _submit(rt: Runtime, text: str, user: str = ALICE) -> r.Submitted:
    reply = await rt.dispatch.handle(user, text)
    assert isinstance(reply, r.Submitted), reply
    return reply


async def test_submit_status_tail_through_the_grammar(rt: Runtime) -> None:
    sub = await _submit(rt, "submit -J hello -p cpu -- echo hello from $SLURM_JOB_NAME")
    assert sub.account == "alice" and sub.cluster == "lab" and sub.job.resources.partition == "cpu"
    _, client = rt.clusters.client(ALICE, None)
    await wait_state(client, sub.job_id, {JobState.COMPLETED})
    status = await rt.dispatch.handle(ALICE, f"status {sub.job_id}")
    assert isinstance(status, r.StatusReply) and status.job.exit_code == "0:0"
    tail = await eventually(
        lambda: rt.dispatch.handle(ALICE, f"tail {sub.job_id} -n 5"),
        lambda t: isinstance(t, r.TailReply) and "hello from hello" in t.text,
        timeout=20,
    )
    assert isinstance(tail, r.TailReply)


async def test_tail_of_one_huge_line_is_bounded_and_says_it_was_cut(rt: Runtime) -> None:
    # 2 MB of two-byte characters and no newline: the 64 KiB cut lands inside a character.
    big = "yes é | head -c 3000000 | tr -d '\\n'"
    _, client = rt.clusters.client(ALICE, None)
    job = Job(name="bigline", command=big, resources=JobResource(partition="cpu"))
    job_id = await client.submit(rt.jobs.renderer.render(job))
    await wait_state(client, job_id, {JobState.COMPLETED})
    tail = await eventually(
        lambda: rt.dispatch.handle(ALICE, f"tail {job_id} -n 1"),
        lambda t: isinstance(t, r.TailReply) and len(t.text) > 1000,
        timeout=20,
    )
    assert isinstance(tail, r.TailReply) and tail.cut_to == 64 * 1024
    assert set(tail.text) == {"é"} and len(tail.text.encode()) <= 64 * 1024
    text, blocks = render_blocks(tail)
    assert "output cut to the last 64 KiB" in json.dumps(blocks, ensure_ascii=False)
    assert len(text) <= 3000 and len(json.dumps(blocks)) < 10_000


async def test_default_partition_and_gpu_request(rt: Runtime) -> None:
    sub = await _submit(rt, "submit --gpus-per-node 1 -t 5 -- echo gpus=$CUDA_VISIBLE_DEVICES")
    assert sub.job.resources.partition == "gpu"  # the cluster's default_partition
    _, client = rt.clusters.client(ALICE, None)
    info = await wait_state(client, sub.job_id, {JobState.COMPLETED})
    assert info.gpus == 1


async def test_unmapped_user_is_denied_with_who_to_ask(rt: Runtime) -> None:
    reply = await rt.dispatch.handle(STRANGER, "resources")
    assert isinstance(reply, r.ErrorReply)
    assert "not set up" in reply.message and f"<@{ADMIN}>" in reply.message


async def test_list_all_is_for_admins(rt: Runtime) -> None:
    denied = await rt.dispatch.handle(ALICE, "list --all")
    assert isinstance(denied, r.ErrorReply) and "for admins" in denied.message
    allowed = await rt.dispatch.handle(ADMIN, "list --all --gpus")
    assert isinstance(allowed, r.JobList) and allowed.scope == "all users"


async def test_config_show_is_for_admins(rt: Runtime) -> None:
    denied = await rt.dispatch.handle(ALICE, "config show")
    assert isinstance(denied, r.ErrorReply) and "for admins" in denied.message
    shown = await rt.dispatch.handle(ADMIN, "config show")
    assert isinstance(shown, r.ConfigReply) and "name: lab" in shown.text
    assert "BEGIN OPENSSH PRIVATE KEY" not in shown.text


async def test_bad_input_gets_actionable_errors(rt: Runtime) -> None:
    cases = {
        "submit -p gpux -- true": "unknown partition `gpux` on lab; partitions: cpu, gpu",
        "submit --mem lots -- true": "invalid memory `lots`",
        "submit -t 99:99:99:99 -- true": "invalid time `99:99:99:99`",
        "submit -p gpu python train.py": "needs `--` before the command",
        "status 4121 --cluster nope": "unknown cluster `nope`; clusters: lab, jump",
        "frobnicate": "unknown command `frobnicate`",
        "status 999999": "no job 999999 on lab",
    }
    for text, expected in cases.items():
        reply = await rt.dispatch.handle(ALICE, text)
        assert isinstance(reply, r.ErrorReply), (text, reply)
        assert expected in reply.message, (text, reply.message)
        assert "Traceback" not in reply.message


async def test_injection_strings_run_nothing(rt: Runtime, lab: Lab) -> None:
    tag = secrets.token_hex(4)
    home = lab.home("alice")
    attacks = [
        f"submit -J '$(touch ~/pwned_{tag}_name)' -- true",
        f"submit -J 'x\n#SBATCH --uid=0' -- touch ~/pwned_{tag}_nl",
        f"submit -p \"'; touch ~/pwned_{tag}_part; '\" -- true",
        f"submit --template '../../tmp/pwned_{tag}' -- true",
        f"submit --conda 'base\ntouch ~/pwned_{tag}_conda' -- true",
        f"submit --env 'A=1\ntouch ~/pwned_{tag}_env' -- true",
    ]
    for text in attacks:
        reply = await rt.dispatch.handle(ALICE, text)
        assert isinstance(reply, r.ErrorReply), (text, reply)
    # A value that is accepted must arrive in the job as plain text, not as shell syntax.
    sub = await _submit(
        rt,
        f"submit -p cpu --env X='$(touch ~/pwned_{tag}_val)'"
        f" --env Y=\"'; touch ~/pwned_{tag}_q; '\""
        f' -- printf \'%s|%s\\n\' "$X" "$Y" > ~/env_{tag}.txt',
    )
    _, client = rt.clusters.client(ALICE, None)
    await wait_state(client, sub.job_id, {JobState.COMPLETED})
    out = await eventually(lambda: _read(home / f"env_{tag}.txt"), bool, timeout=20)
    assert out == f"$(touch ~/pwned_{tag}_val)|'; touch ~/pwned_{tag}_q; '\n"
    assert not list(home.glob(f"pwned_{tag}*"))


async def test_command_runs_only_inside_the_job(rt: Runtime, lab: Lab) -> None:
    tag = secrets.token_hex(4)
    home = lab.home("alice")
    dry = await rt.dispatch.handle(ALICE, f"submit --dry-run -p cpu -- touch ~/dry_{tag}")
    assert isinstance(dry, r.DryRun) and f"touch ~/dry_{tag}" in dry.script
    sub = await _submit(rt, f"submit -p cpu -- echo $SLURM_JOB_ID > ~/ran_{tag}")
    _, client = rt.clusters.client(ALICE, None)
    await wait_state(client, sub.job_id, {JobState.COMPLETED})
    ran = await eventually(lambda: _read(home / f"ran_{tag}"), bool, timeout=20)
    assert ran.strip() == sub.job_id  # written by the job itself, inside its allocation
    assert not (home / f"dry_{tag}").exists()


async def test_another_users_job_cannot_be_cancelled(rt: Runtime) -> None:
    sub = await _submit(rt, "submit -p cpu -- sleep 60")
    reply = await rt.dispatch.handle(BOB, f"cancel {sub.job_id}")
    assert isinstance(reply, r.ErrorReply) and "you can only cancel your own jobs" in reply.message
    own = await rt.dispatch.handle(ALICE, f"cancel {sub.job_id}")
    assert isinstance(own, r.Cancelled)


async def test_proxy_jump_cluster_is_usable(rt: Runtime) -> None:
    reply = await rt.dispatch.handle(ALICE, "resources --cluster jump")
    assert isinstance(reply, r.ResourcesReply) and reply.snapshot.cluster == "jump"
    assert {p.partition for p in reply.snapshot.partitions} == {"gpu", "cpu"}


async def test_one_login_per_account(rt: Runtime) -> None:
    for text in ("resources", "list", "history --since 1h", "status 999999"):
        await rt.dispatch.handle(ALICE, text)
    _, client = rt.clusters.client(ALICE, "lab")
    assert getattr(client.transport, "connects", None) == 1


async def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""
