"""The core as every surface uses it: `Service.handle(user, text)` against the real lab."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest

from bot.core import replies as r
from bot.core.models import Job, JobResource, JobState
from bot.core.service import Service
from bot.slack.blocks import render_blocks
from labkit import ADMIN, ALICE, BOB, STRANGER, Lab, eventually, wait_state

pytestmark = pytest.mark.lab


async def _submit(service: Service, text: str, user: str = ALICE) -> r.Submitted:
    reply = await service.handle(user, text)
    assert isinstance(reply, r.Submitted), reply
    return reply


async def test_submit_status_tail_through_the_grammar(service: Service) -> None:
    sub = await _submit(service, "submit -J hello -p cpu -- echo hello from $SLURM_JOB_NAME")
    assert sub.account == "alice" and sub.cluster == "lab" and sub.job.resources.partition == "cpu"
    _, client = service.client(ALICE, None)
    await wait_state(client, sub.job_id, {JobState.COMPLETED})
    status = await service.handle(ALICE, f"status {sub.job_id}")
    assert isinstance(status, r.StatusReply) and status.job.exit_code == "0:0"
    tail = await eventually(
        lambda: service.handle(ALICE, f"tail {sub.job_id} -n 5"),
        lambda t: isinstance(t, r.TailReply) and "hello from hello" in t.text,
        timeout=20,
    )
    assert isinstance(tail, r.TailReply)


async def test_tail_of_one_huge_line_is_bounded_and_says_it_was_cut(service: Service) -> None:
    # 2 MB of two-byte characters and no newline: the 64 KiB cut lands inside a character.
    big = "yes é | head -c 3000000 | tr -d '\\n'"
    _, client = service.client(ALICE, None)
    job = Job(name="bigline", command=big, resources=JobResource(partition="cpu"))
    job_id = await client.submit(service.renderer.render(job))
    await wait_state(client, job_id, {JobState.COMPLETED})
    tail = await eventually(
        lambda: service.handle(ALICE, f"tail {job_id} -n 1"),
        lambda t: isinstance(t, r.TailReply) and len(t.text) > 1000,
        timeout=20,
    )
    assert isinstance(tail, r.TailReply) and tail.cut_to == 64 * 1024
    assert set(tail.text) == {"é"} and len(tail.text.encode()) <= 64 * 1024
    text, blocks = render_blocks(tail)
    assert "output cut to the last 64 KiB" in json.dumps(blocks, ensure_ascii=False)
    assert len(text) <= 3000 and len(json.dumps(blocks)) < 10_000


async def test_default_partition_and_gpu_request(service: Service) -> None:
    sub = await _submit(service, "submit --gpus-per-node 1 -t 5 -- echo gpus=$CUDA_VISIBLE_DEVICES")
    assert sub.job.resources.partition == "gpu"  # the cluster's default_partition
    _, client = service.client(ALICE, None)
    info = await wait_state(client, sub.job_id, {JobState.COMPLETED})
    assert info.gpus == 1


async def test_unmapped_user_is_denied_with_who_to_ask(service: Service) -> None:
    reply = await service.handle(STRANGER, "resources")
    assert isinstance(reply, r.ErrorReply)
    assert "not set up" in reply.message and f"<@{ADMIN}>" in reply.message


async def test_list_all_is_for_admins(service: Service) -> None:
    denied = await service.handle(ALICE, "list --all")
    assert isinstance(denied, r.ErrorReply) and "for admins" in denied.message
    allowed = await service.handle(ADMIN, "list --all --gpus")
    assert isinstance(allowed, r.JobList) and allowed.scope == "all users"


async def test_config_show_is_for_admins(service: Service) -> None:
    denied = await service.handle(ALICE, "config show")
    assert isinstance(denied, r.ErrorReply) and "for admins" in denied.message
    shown = await service.handle(ADMIN, "config show")
    assert isinstance(shown, r.ConfigReply) and "name: lab" in shown.text
    assert "BEGIN OPENSSH PRIVATE KEY" not in shown.text


async def test_bad_input_gets_actionable_errors(service: Service) -> None:
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
        reply = await service.handle(ALICE, text)
        assert isinstance(reply, r.ErrorReply), (text, reply)
        assert expected in reply.message, (text, reply.message)
        assert "Traceback" not in reply.message


async def test_injection_strings_run_nothing(service: Service, lab: Lab) -> None:
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
        reply = await service.handle(ALICE, text)
        assert isinstance(reply, r.ErrorReply), (text, reply)
    # A value that is accepted must arrive in the job as plain text, not as shell syntax.
    sub = await _submit(
        service,
        f"submit -p cpu --env X='$(touch ~/pwned_{tag}_val)'"
        f" --env Y=\"'; touch ~/pwned_{tag}_q; '\""
        f' -- printf \'%s|%s\\n\' "$X" "$Y" > ~/env_{tag}.txt',
    )
    _, client = service.client(ALICE, None)
    await wait_state(client, sub.job_id, {JobState.COMPLETED})
    out = await eventually(lambda: _read(home / f"env_{tag}.txt"), bool, timeout=20)
    assert out == f"$(touch ~/pwned_{tag}_val)|'; touch ~/pwned_{tag}_q; '\n"
    assert not list(home.glob(f"pwned_{tag}*"))


async def test_command_runs_only_inside_the_job(service: Service, lab: Lab) -> None:
    tag = secrets.token_hex(4)
    home = lab.home("alice")
    dry = await service.handle(ALICE, f"submit --dry-run -p cpu -- touch ~/dry_{tag}")
    assert isinstance(dry, r.DryRun) and f"touch ~/dry_{tag}" in dry.script
    sub = await _submit(service, f"submit -p cpu -- echo $SLURM_JOB_ID > ~/ran_{tag}")
    _, client = service.client(ALICE, None)
    await wait_state(client, sub.job_id, {JobState.COMPLETED})
    ran = await eventually(lambda: _read(home / f"ran_{tag}"), bool, timeout=20)
    assert ran.strip() == sub.job_id  # written by the job itself, inside its allocation
    assert not (home / f"dry_{tag}").exists()


async def test_another_users_job_cannot_be_cancelled(service: Service) -> None:
    sub = await _submit(service, "submit -p cpu -- sleep 60")
    reply = await service.handle(BOB, f"cancel {sub.job_id}")
    assert isinstance(reply, r.ErrorReply) and "you can only cancel your own jobs" in reply.message
    own = await service.handle(ALICE, f"cancel {sub.job_id}")
    assert isinstance(own, r.Cancelled)


async def test_proxy_jump_cluster_is_usable(service: Service) -> None:
    reply = await service.handle(ALICE, "resources --cluster jump")
    assert isinstance(reply, r.ResourcesReply) and reply.snapshot.cluster == "jump"
    assert {p.partition for p in reply.snapshot.partitions} == {"gpu", "cpu"}


async def test_one_login_per_account(service: Service) -> None:
    for text in ("resources", "list", "history --since 1h", "status 999999"):
        await service.handle(ALICE, text)
    _, client = service.client(ALICE, "lab")
    assert getattr(client.transport, "connects", None) == 1


async def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""
