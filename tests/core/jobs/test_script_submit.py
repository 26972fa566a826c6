"""`submit --script`: an existing script (on the cluster, or a fenced block) rendered with its
`--var`s and handed to sbatch on stdin, with only the flags the user gave as sbatch options."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.core import commands as c
from bot.core import replies as r
from bot.core.grammar import parse
from bot.errors import UsageError
from bot.render.text import render_text
from labkit import ALICE
from scripted import OfflineBot, queued, sinfo

SCRIPT = "#!/bin/bash\n#SBATCH -p cpu\n#SBATCH -t 5\necho epochs={{ epochs }} '{{ note }}'\n"


@pytest.fixture
async def bot(tmp_path: Path) -> AsyncIterator[OfflineBot]:
    b = await OfflineBot.open(tmp_path)
    b.slurm["alice"].answers |= {
        "sinfo": sinfo("idle"),
        "head": (0, SCRIPT, ""),
        "sh": (0, SCRIPT, ""),
        "sbatch": (0, "4121\n", ""),
        # Slurm's view of the job just submitted: the partition its own #SBATCH line chose
        "squeue": queued("4121", "cpu", nodes=2),
    }
    yield b
    await b.rt.close()


def _cmd(text: str) -> c.SubmitScript:
    cmd = parse(text)
    assert isinstance(cmd, c.SubmitScript), cmd
    return cmd


async def test_the_script_is_read_capped_and_only_given_flags_reach_sbatch(
    bot: OfflineBot,
) -> None:
    text = "submit -p gpu --script ~/train.sh --var epochs=3 --var 'note=$(touch /tmp/x)'"
    reply = await bot.rt.jobs.run(ALICE, _cmd(text))
    assert isinstance(reply, r.Submitted) and reply.job_id == "4121"
    assert reply.job.name == "train" and reply.job.resources.partition == "gpu"
    calls = bot.slurm["alice"].calls
    read = ("sh", "-c", 'cd && exec head -c "$1" -- "$2"', "sh", str(256 * 1024 + 1), "train.sh")
    assert read in calls
    # The grammar's defaults (1 node, 1 CPU, name `job`) are not passed: the script's stand.
    assert calls[-1] == ("sbatch", "--parsable", "--partition=gpu")


async def test_a_dry_run_shows_the_rendered_script_and_the_sbatch_argv(bot: OfflineBot) -> None:
    text = "submit --script x.sh --var epochs=3 --var note=hi -J t -N 2 --mem 4G --dry-run"
    reply = await bot.rt.jobs.run(ALICE, _cmd(text))
    assert isinstance(reply, r.DryRun)
    assert "echo epochs=3 'hi'\n" in reply.script and "#SBATCH -p cpu" in reply.script
    assert reply.sbatch == ("sbatch", "--parsable", "--job-name=t", "--nodes=2", "--mem=4G")
    assert "`sbatch --parsable --job-name=t --nodes=2 --mem=4G`" in render_text(reply)
    assert bot.slurm["alice"].count("sbatch") == 0


async def test_an_undefined_variable_is_refused_naming_it(bot: OfflineBot) -> None:
    with pytest.raises(UsageError, match="the script uses `epochs`, which has no --var"):
        await bot.rt.jobs.run(ALICE, _cmd("submit --script x.sh --var note=hi"))
    assert bot.slurm["alice"].count("sbatch") == 0


async def test_a_script_over_the_cap_is_refused(bot: OfflineBot) -> None:
    bot.slurm["alice"].answers["head"] = (0, "#" * (256 * 1024 + 1), "")
    with pytest.raises(UsageError, match="larger than 256 KiB"):
        await bot.rt.jobs.run(ALICE, _cmd("submit --script=-big.sh"))
    assert bot.slurm["alice"].calls[-1] == ("head", "-c", str(256 * 1024 + 1), "--", "-big.sh")


async def test_an_unreadable_script_says_why(bot: OfflineBot) -> None:
    bot.slurm["alice"].answers["head"] = (1, "", "head: cannot open 'x.sh': No such file\n")
    with pytest.raises(UsageError, match=r"cannot read the script x\.sh on lab: .*No such file"):
        await bot.rt.jobs.run(ALICE, _cmd("submit --script x.sh"))


async def test_a_fenced_block_is_the_script(bot: OfflineBot) -> None:
    text = 'submit -t 10 --script - --var n=2\n```bash\n#!/bin/bash\necho "it\'s {{ n }}" -- x\n```'
    reply = await bot.rt.jobs.run(ALICE, _cmd(text))
    assert isinstance(reply, r.Submitted) and reply.job.name == "script"
    assert bot.slurm["alice"].count("head") == bot.slurm["alice"].count("sh") == 0
    assert ("sbatch", "--parsable", "--time=10") in bot.slurm["alice"].calls
    # no -p given: the card names the partition Slurm took from the script
    assert (reply.job.resources.partition, reply.job.resources.nodes) == ("cpu", 2)
