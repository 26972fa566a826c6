"""The job commands (bot/core/jobs/commands.py), each run as the caller's own account, on
Slurm output captured from the lab."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core import commands as c
from bot.core import replies as r
from bot.core.grammar import parse
from bot.errors import AccessDenied, UsageError
from labkit import ADMIN, ALICE
from scripted import CTLD_DOWN, DATA, NO_JOB, OfflineBot, captured, sinfo


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[OfflineBot]:
    b = await OfflineBot.open(tmp_path)
    yield b
    await b.rt.close()


def _submit(text: str) -> c.Submit:
    cmd = parse(text)
    assert isinstance(cmd, c.Submit)
    return cmd


async def test_status_of_a_job_slurm_does_not_know_is_a_usage_error(bot: OfflineBot) -> None:
    bot.slurm["alice"].answers = {"squeue": (0, "", ""), "sacct": (0, "", ""), "scontrol": NO_JOB}
    with pytest.raises(UsageError, match="no job 4121 on lab"):
        await bot.rt.jobs.run(ALICE, c.Status(job_id="4121"))


async def test_list_shows_the_callers_jobs_and_all_jobs_only_to_admins(bot: OfflineBot) -> None:
    bot.slurm["alice"].answers["squeue"] = captured(DATA / "squeue_all.txt")
    reply = await bot.rt.jobs.run(ALICE, c.ListJobs(gpus=True))
    assert isinstance(reply, r.JobList) and reply.scope == "alice" and reply.show_gpus
    assert reply.jobs and all(j.user == "alice" for j in reply.jobs)
    [argv] = bot.slurm["alice"].calls
    assert "alice" in argv  # only the caller's own jobs were asked for
    with pytest.raises(AccessDenied, match="`list --all` is for admins"):
        await bot.rt.jobs.run(ALICE, c.ListJobs(all=True))
    bot.slurm["hpcuser"].answers["squeue"] = captured(DATA / "squeue_all.txt")
    everyone = await bot.rt.jobs.run(ADMIN, c.ListJobs(all=True))
    assert isinstance(everyone, r.JobList) and everyone.scope == "all users"


async def test_a_dry_run_renders_the_script_on_the_default_partition(bot: OfflineBot) -> None:
    bot.slurm["alice"].answers["sinfo"] = sinfo("idle")
    reply = await bot.rt.jobs.run(ALICE, _submit("submit --dry-run -- python train.py"))
    assert isinstance(reply, r.DryRun) and reply.cluster == "lab"
    assert "#SBATCH --partition=gpu" in reply.script and "python train.py" in reply.script
    assert bot.slurm["alice"].count("sbatch") == 0


async def test_an_unknown_partition_is_refused_before_sbatch(bot: OfflineBot) -> None:
    bot.slurm["alice"].answers["sinfo"] = sinfo("idle")
    with pytest.raises(UsageError, match="unknown partition `big` on lab; partitions: cpu, gpu"):
        await bot.rt.jobs.run(ALICE, _submit("submit -p big -- python train.py"))
    assert bot.slurm["alice"].count("sbatch") == 0


async def test_a_submission_is_answered_with_its_job_id(bot: OfflineBot) -> None:
    bot.slurm["alice"].answers |= {"sinfo": sinfo("idle"), "sbatch": (0, "4121\n", "")}
    reply = await bot.rt.jobs.run(ALICE, _submit("submit --notify-channel -- python train.py"))
    assert isinstance(reply, r.Submitted)
    assert (reply.job_id, reply.account, reply.notify_channel) == ("4121", "alice", True)
    assert reply.job.resources.partition == "gpu"


async def test_the_form_asks_for_the_partition_as_text_when_sinfo_fails(bot: OfflineBot) -> None:
    bot.slurm["alice"].answers["sinfo"] = sinfo("idle")
    form = await bot.rt.jobs.run(ALICE, c.SubmitForm())
    assert isinstance(form, r.SubmitFormReply)
    assert (form.partitions, form.default_partition) == (["cpu", "gpu"], "gpu")
    await bot.restart()  # a fresh client: no partitions cached
    bot.slurm["alice"].answers["sinfo"] = CTLD_DOWN
    form = await bot.rt.jobs.run(ALICE, c.SubmitForm())
    assert isinstance(form, r.SubmitFormReply) and form.partitions == []


async def test_the_form_starts_at_the_callers_defaults(bot: OfflineBot) -> None:
    bot.slurm["alice"].answers["sinfo"] = sinfo("idle")
    text = "defaults set -p cpu --conda ml -t 4:00:00"
    assert isinstance(await bot.rt.dispatch.run(ALICE, parse(text), text=text), r.Done)
    form = await bot.rt.jobs.run(ALICE, c.SubmitForm())
    assert isinstance(form, r.SubmitFormReply)
    assert form.default_partition == "cpu" and "base" in form.templates
    assert form.initial == {
        "partition": "cpu",
        "time": "4:00:00",
        "conda": "ml",
        "template": "advanced",
    }
