"""The command grammar: every command parses, and every mistake is one actionable line."""

from __future__ import annotations

import pytest

from bot.core import commands as c
from bot.core.grammar import COMMANDS, MAX_TAIL_LINES, help_text, normalize, parse, since_to_slurm
from bot.errors import UsageError


def _submit(text: str) -> c.Submit:
    cmd = parse(text)
    assert isinstance(cmd, c.Submit)
    return cmd


def _usage_error(text: str) -> str:
    with pytest.raises(UsageError) as info:
        parse(text)
    message = str(info.value)
    assert message
    assert "\n" not in message
    assert "Traceback" not in message
    assert "usage: bot" not in message
    return message


# ---------------------------------------------------------------- submit
def test_submit_with_every_flag() -> None:
    cmd = _submit(
        "submit -J train -N 2 --gpus-per-node 4 --ntasks-per-node 2 -c 8 --mem 32G "
        "-t 2:00:00 -p gpu -w node[1-2] --conda ml --env A=1 --env B='x y' --env C= "
        "--template base --cluster lab --dry-run -- python train.py"
    )
    job = cmd.job
    assert cmd.dry_run is True
    assert cmd.cluster == "lab"
    assert job.name == "train"
    assert job.template == "base"
    assert job.command == "python train.py"
    res = job.resources
    assert (res.nodes, res.gpus_per_node, res.ntasks_per_node, res.cpus_per_task) == (2, 4, 2, 8)
    assert (res.memory, res.time_limit, res.partition, res.nodelist) == (
        "32G",
        "2:00:00",
        "gpu",
        "node[1-2]",
    )
    assert job.environment.conda == "ml"
    assert job.environment.env_vars == {"A": "1", "B": "x y", "C": ""}


def test_submit_long_flag_names() -> None:
    cmd = _submit(
        "submit --job-name a --nodes 3 --cpus-per-task 2 --time 30 --partition cpu "
        "--nodelist node3 --venv /home/alice/venv --mem=1024 -- true"
    )
    res = cmd.job.resources
    assert cmd.job.name == "a"
    assert (res.nodes, res.cpus_per_task, res.time_limit, res.partition) == (3, 2, "30", "cpu")
    assert res.nodelist == "node3"
    assert res.memory == "1024"
    assert cmd.job.environment.venv == "/home/alice/venv"
    assert cmd.dry_run is False
    assert cmd.cluster is None


def test_submit_defaults() -> None:
    cmd = _submit("submit -- hostname")
    job = cmd.job
    assert job.name == "job"
    assert job.template == "advanced"
    assert job.resources.nodes == 1
    assert job.resources.gpus_per_node == 0
    assert job.environment.env_vars == {}


@pytest.mark.parametrize("runtime", ["pyxis", "apptainer", "singularity"])
def test_submit_container(runtime: str) -> None:
    image = "nvcr.io/nvidia/pytorch:24.01"
    cmd = _submit(f"submit --container {image} --container-runtime {runtime} -- nvidia-smi")
    container = cmd.job.environment.container
    assert container is not None
    assert container.image == "nvcr.io/nvidia/pytorch:24.01"
    assert container.runtime == runtime


@pytest.mark.parametrize(
    "command",
    [
        "python train.py --lr \"0.1\" --name 'my run'",
        "echo $HOME ${USER} $(hostname) `date` | tee log.txt && exit 3",
        "bash -c 'a -- b' -- --c",
        "printf '%s\\n' \"unclosed ' inside\" ; echo done  ",
        "#SBATCH --uid=0",
    ],
)
def test_command_after_separator_is_verbatim(command: str) -> None:
    assert _submit(f"submit -p gpu -- {command}").job.command == command.strip()


def test_later_separator_is_part_of_the_command() -> None:
    assert _submit("submit -- a -- b --").job.command == "a -- b --"


def test_multiline_command_is_kept() -> None:
    assert _submit("submit -J x -- set -e\npython a.py\npython b.py").job.command == (
        "set -e\npython a.py\npython b.py"
    )


@pytest.mark.parametrize(
    ("text", "env"),
    [
        ('submit --env "A=a -- b" -- echo hi', {"A": "a -- b"}),
        ("submit --env 'A=--' -- echo hi", {"A": "--"}),
        ("submit --env A='x -- y' --env B=2 -- echo hi", {"A": "x -- y", "B": "2"}),
    ],
)
def test_quoted_separator_is_not_the_separator(text: str, env: dict[str, str]) -> None:
    cmd = _submit(text)
    assert cmd.job.environment.env_vars == env
    assert cmd.job.command == "echo hi"


def test_quoted_job_name_with_separator_is_still_validated() -> None:
    message = _usage_error('submit -J "a -- b" -- echo hi')
    assert "invalid job name `a -- b`" in message


def test_smart_quotes_are_normalised() -> None:
    cmd = _submit("submit --env A=\u201cx y\u201d --env B=\u2018p q\u2019 -- echo \u201chi\u201d")
    assert cmd.job.environment.env_vars == {"A": "x y", "B": "p q"}
    assert cmd.job.command == "echo \u201chi\u201d"  # the command is never rewritten


def test_smart_dashes_and_nbsp_are_normalised() -> None:
    assert normalize("submit\u00a0-p gpu \u2014 echo") == "submit -p gpu -- echo"
    cmd = _submit("submit -p gpu \u2014 echo hi")  # a phone turned `--` into an em dash
    assert cmd.job.command == "echo hi"
    assert cmd.job.resources.partition == "gpu"


# ---------------------------------------------------------------- other commands
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("status 4121", c.Status(job_id="4121")),
        ("status 4121_3 --cluster lab", c.Status(job_id="4121_3", cluster="lab")),
        ("STATUS 5", c.Status(job_id="5")),
        ("cancel 12", c.Cancel(job_id="12")),
        ("cancel 12_1 --cluster b", c.Cancel(job_id="12_1", cluster="b")),
        ("tail 7", c.Tail(job_id="7", lines=20)),
        ("tail 7 -n 50", c.Tail(job_id="7", lines=50)),
        (f"tail 7 --lines {MAX_TAIL_LINES}", c.Tail(job_id="7", lines=MAX_TAIL_LINES)),
        ("list", c.ListJobs()),
        ("list --all --gpus", c.ListJobs(all=True, gpus=True)),
        ("list -a --cluster x", c.ListJobs(all=True, cluster="x")),
        ("resources", c.Resources()),
        ("resources -p gpu --cluster lab", c.Resources(partition="gpu", cluster="lab")),
        ("history", c.History(since="now-1days", since_text="1d")),
        ("history --since 12h", c.History(since="now-12hours", since_text="12h")),
        (
            "history --since 2w --cluster lab",
            c.History(since="now-2weeks", since_text="2w", cluster="lab"),
        ),
        ("history --since 2026-11-01", c.History(since="2026-11-01", since_text="2026-11-01")),
        ("clusters", c.Clusters()),
        ("help", c.Help()),
        ("help submit", c.Help(topic="submit")),
        ("HELP Tail", c.Help(topic="tail")),
        ("", c.Help()),
        ("   ", c.Help()),
    ],
)
def test_commands_parse(text: str, expected: c.Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "slurm"),
    [
        ("30m", "now-30minutes"),
        ("45s", "now-45seconds"),
        ("1d", "now-1days"),
        ("2026-11-01T08:00", "2026-11-01T08:00"),
    ],
)
def test_since_to_slurm(text: str, slurm: str) -> None:
    assert since_to_slurm(text) == slurm


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("frobnicate 1", "unknown command `frobnicate`; commands: submit, status, list"),
        ("submit --bogus -- x", "unknown option `--bogus` for `submit`"),
        ("list --bogus", "unknown option `--bogus` for `list`"),
        ("list extra", "unexpected `extra` for `list`"),
        ("list -- x", "`list` takes nothing after `--`"),
        ("submit --mem lots -- x", "invalid memory `lots`"),
        ("submit --time 99:99:99:99 -- x", "invalid time `99:99:99:99`"),
        ("submit -p gpu python train.py", "`submit` needs `--` before the command"),
        ("submit -p gpu --", "nothing to run after `--`"),
        ("submit -p gpu --    ", "nothing to run after `--`"),
        ("status", "`status` needs a job id"),
        ("cancel", "`cancel` needs a job id"),
        ("tail", "`tail` needs a job id"),
        ('submit -J "abc -- x', "no closing quotation"),
        ("status '12", "no closing quotation"),
        ("submit --conda a --venv b -- x", "`--venv` and `--conda` cannot be used together"),
        ("submit --container i --conda a -- x", "cannot be used together"),
        ("history --since yesterday", "invalid --since `yesterday`"),
        ("tail 1 -n 100000", f"invalid line count `100000`: at most {MAX_TAIL_LINES}"),
        ("tail 1 -n 0", "invalid number `0`"),
        ("status abc", "invalid job id `abc`"),
        ("status 12;rm", "invalid job id `12;rm`"),
        ("cancel 1_2_3", "invalid job id `1_2_3`"),
        ("help nope", "no help for `nope`; commands: submit"),
        ("submit -p -- x", "`--partition` needs a value"),
        ("submit -N 0 -- x", "invalid number `0`"),
        ("submit --gpus-per-node many -- x", "invalid number `many`"),
        ("submit --env noeq -- x", "invalid --env `noeq`: use KEY=VALUE"),
        ("submit --env 1A=x -- x", "invalid variable name `1A`"),
        ("submit -J '$(touch ~/pwned)' -- x", "invalid job name `$(touch ~/pwned)`"),
        ("submit -p \"'; rm -rf ~; '\" -- x", "invalid partition"),
        ("submit --container-runtime docker --container x -- y", "invalid choice: 'docker'"),
    ],
)
def test_usage_errors(text: str, expected: str) -> None:
    assert expected in _usage_error(text)


def test_unknown_command_lists_every_command() -> None:
    message = _usage_error("frobnicate")
    assert all(name in message for name in COMMANDS)


def test_errors_show_the_command_usage() -> None:
    message = _usage_error("submit --bogus -- x")
    assert "usage: `submit [-J NAME]" in message
    assert "-- COMMAND...`" in message


@pytest.mark.parametrize("bad", ["x\n#SBATCH --uid=0", "x\r#SBATCH --uid=0"])
def test_newline_injection_in_env_value_is_refused(bad: str) -> None:
    with pytest.raises(UsageError, match="must not contain newlines or control characters"):
        parse(f"submit --env 'A={bad}' -- echo")


def test_rejected_value_with_newline_is_still_one_line() -> None:
    _usage_error("submit -J 'x\n#SBATCH --uid=0' -- echo")


@pytest.mark.parametrize("text", ["status 1 -- rm -rf ~", "cancel 1 -- 2"])
def test_stray_separator_on_other_commands_is_refused(text: str) -> None:
    _usage_error(text)


# ---------------------------------------------------------------- help
def test_help_text_lists_all_commands() -> None:
    text = help_text()
    assert text.startswith("commands:")
    for name, spec in COMMANDS.items():
        assert name in text
        assert spec.summary in text
    assert "`help COMMAND`" in text


def test_help_text_for_a_topic() -> None:
    text = help_text("submit")
    assert text.splitlines() == [COMMANDS["submit"].summary, f"usage: {COMMANDS['submit'].usage}"]
    assert "-- COMMAND..." in text


# ---------------------------------------------------------------- issue 6: gpus, reports, use
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("watch gpus 4", c.WatchGpus(gpus=4)),
        (
            "watch gpus 2 -p gpu --continuous --cluster jump",
            c.WatchGpus(gpus=2, partition="gpu", continuous=True, cluster="jump"),
        ),
        ("report now", c.ReportNow()),
        (
            "report now -p gpu --include user,running --channel <#C0HPC|hpc>",
            c.ReportNow(partition="gpu", include=("user", "running"), channel="C0HPC"),
        ),
        ("report every 30m", c.ReportEvery(every="30m", interval=1800)),
        (
            "report every 1d --channel C0HPC",
            c.ReportEvery(every="1d", interval=86400, channel="C0HPC"),
        ),
        (
            'report every "0 9 * * 1-5" --include jobs',
            c.ReportEvery(every="0 9 * * 1-5", cron="0 9 * * 1-5", include=("jobs",)),
        ),
        ("report stop r1A2b", c.ReportStop(report_id="r1a2b")),
        ("reports", c.ListReports()),
        ("use jump", c.UseCluster(name="jump")),
        ("submit", c.SubmitForm()),
        ("submit --cluster jump", c.SubmitForm(cluster="jump")),
    ],
)
def test_issue6_commands_parse(text: str, expected: c.Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("watch gpus", "`watch gpus` needs a number of GPUs"),
        ("watch gpus 0", "invalid number `0`"),
        ("watch gpus four", "invalid number `four`"),
        ("watch job 12 --continuous", "`-p` and `--continuous` are for `watch gpus`"),
        ("report", "`report` needs action"),
        ("report every", "`report every` needs a schedule"),
        ("report every 5x", "invalid schedule `5x`"),
        ('report every "61 * * * *"', "invalid crontab `61 * * * *`"),
        ('report every "* * *"', "invalid schedule `* * *`"),
        ("report now 1h", "unexpected `1h` after `report now`"),
        ("report stop", "`report stop` takes a report id"),
        ("report stop 12", "`report stop` takes a report id"),
        ("report now --include gpus", "invalid --include `gpus`"),
        ("report now --channel #hpc", "pick the channel with `#`"),
        ("use", "`use` needs CLUSTER"),
    ],
)
def test_issue6_usage_errors(text: str, expected: str) -> None:
    assert expected in _usage_error(text)


# ---------------------------------------------------------------- issue 10
@pytest.mark.parametrize(
    "command",
    [
        "echo 'it\u2019s'",
        "printf \u201c%s\u201d a\u2014b c\u2013d",
        "echo a\u00a0b -- \u2014 c",
        "python x.py \u2014lr 1",
    ],
)
def test_command_after_separator_keeps_smart_quotes_dashes_and_nbsp(command: str) -> None:
    assert _submit(f"submit -p gpu -- {command}").job.command == command
    assert _submit(f"submit -p gpu \u2014 {command}").job.command == command


def test_smart_dashes_in_flags_do_not_shift_where_the_command_starts() -> None:
    # Each em/en dash is one character typed but two read: the cut must be in typed text.
    cmd = _submit("submit \u2014job-name a \u2013mem 1G \u2014 echo \u2018abc\u2019")
    assert (cmd.job.name, cmd.job.resources.memory) == ("a", "1G")
    assert cmd.job.command == "echo \u2018abc\u2019"


def test_smart_separator_at_the_end_still_means_nothing_to_run() -> None:
    assert "nothing to run after `--`" in _usage_error("submit -p gpu \u2014")


@pytest.mark.parametrize(
    ("text", "fixed"),
    [
        ("submit echo hi", "submit -- echo hi"),
        ("submit -p gpu python train.py", "submit -p gpu -- python train.py"),
        (
            "submit --dry-run -J x --mem=1G -c 2 -pgpu python \"a b.py\" --lr '1'",
            "submit --dry-run -J x --mem=1G -c 2 -pgpu -- python \"a b.py\" --lr '1'",
        ),
        ("submit --cluster lab  echo  $HOME", "submit --cluster lab -- echo  $HOME"),
        (
            "submit \u2014gpus-per-node 2 echo \u2018x\u2019",
            "submit --gpus-per-node 2 -- echo \u2018x\u2019",
        ),
    ],
)
def test_submit_without_separator_answers_with_the_corrected_command(text: str, fixed: str) -> None:
    assert _usage_error(text) == f"`submit` needs `--` before the command: `{fixed}`"


def test_submit_without_separator_still_checks_its_flags_first() -> None:
    assert "unknown option `--bogus` for `submit`" in _usage_error("submit --bogus echo hi")
    assert "invalid memory `lots`" in _usage_error("submit --mem lots echo hi")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unwatch w1a2b3c4d5e6f", c.Unwatch(target="w1a2b3c4d5e6f")),
        ("unwatch W1A2B3C4D5E6F", c.Unwatch(target="w1a2b3c4d5e6f")),
        ("unwatch w1a2b", c.Unwatch(target="w1a2b")),  # ids stored before ids grew
        ("report stop r1a2b3c4d5e6f", c.ReportStop(report_id="r1a2b3c4d5e6f")),
        ("report stop r1a2b", c.ReportStop(report_id="r1a2b")),
        ("report every 366d", c.ReportEvery(every="366d", interval=366 * 86400)),
        ('report every "0 0 29 2 *"', c.ReportEvery(every="0 0 29 2 *", cron="0 0 29 2 *")),
    ],
)
def test_issue10_commands_parse(text: str, expected: c.Command) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('report every "0 0 31 2 *"', "invalid crontab `0 0 31 2 *`: it never fires"),
        ('report every "0 0 30 2 *"', "invalid crontab `0 0 30 2 *`: it never fires"),
        ("report every 99999999999d", "invalid interval `99999999999d`: at most 366d"),
        ("report every 367d", "invalid interval `367d`: at most 366d"),
        ("report every " + "9" * 5000 + "s", "at most 366d"),
        ("report every \u0663m", "invalid schedule"),
        ('report every "0 \u0669 * * *"', "invalid crontab"),
        ("history --since '2026-01-01\n'", "invalid --since `2026-01-01\\n`"),
        ("history --since '1d\n'", "invalid --since"),
        ("history --since \u0663d", "invalid --since"),
        ("history --since \u0662\u0660\u0662\u0666-01-01", "invalid --since"),
        ("tail 1 -n \u0663", "invalid number"),
        ("submit -N \u0663 -- x", "invalid number"),
        ("submit --gpus-per-node \u00b2 -- x", "invalid number"),
        ("watch gpus \u00b2", "invalid number `\u00b2`"),
        ("watch gpus \u0663", "invalid number"),
        ("unwatch \u0663", "`unwatch` takes a watch id"),
        ("unwatch w1a2b3", "`unwatch` takes a watch id"),
        ("report stop r1a2b3", "`report stop` takes a report id"),
        ("report now --channel 'C0HPC\n'", "invalid --channel"),
        ("report now --channel '<#C0HPC|hpc>\n'", "invalid --channel"),
    ],
)
def test_issue10_usage_errors(text: str, expected: str) -> None:
    assert expected in _usage_error(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("lsit", "unknown command `lsit`; did you mean `list`?"),
        ("Stauts 1", "unknown command `Stauts`; did you mean `status`?"),
        (
            "submit --gpu 2 -- x",
            "unknown option `--gpu` for `submit`; did you mean `--gpus-per-node`?",
        ),
        ("list --al", "unknown option `--al` for `list`; did you mean `--all`?"),
        ("history --snice 1d", "unknown option `--snice` for `history`; did you mean `--since`?"),
    ],
)
def test_typos_answer_with_the_nearest_valid_word(text: str, expected: str) -> None:
    assert _usage_error(text) == expected


def test_nothing_close_lists_what_exists() -> None:
    assert "commands: submit, status" in _usage_error("frobnicate")
    assert "usage: `list" in _usage_error("list --zzzz")


# ---------------------------------------------------------------- submit --script
def test_submit_script_keeps_only_the_flags_given_as_sbatch_options() -> None:
    cmd = parse("submit --script ~/a.sh -p gpu --gpus-per-node 2 -t 1:00:00 --var e=3 --var e=4")
    assert isinstance(cmd, c.SubmitScript) and cmd.path == "~/a.sh" and cmd.source is None
    assert cmd.options == ("--gpus-per-node=2", "--time=1:00:00", "--partition=gpu")
    assert cmd.variables == (("e", "4"),) and cmd.partition == "gpu" and not cmd.dry_run
    env = parse("submit --script a.sh --env A=1 --env 'B=x y'")
    assert isinstance(env, c.SubmitScript) and env.options == ("--export=ALL,A=1,B=x y",)


def test_submit_script_takes_a_fenced_block_with_quotes_and_dashes() -> None:
    cmd = parse('submit --script -\n```\n#!/bin/bash\necho "it\'s" -- {{ x }}\n```')
    assert isinstance(cmd, c.SubmitScript) and cmd.path is None
    assert cmd.source == '#!/bin/bash\necho "it\'s" -- {{ x }}\n'


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("submit --script", "`--script` needs a value"),
        ("submit --script -", "needs the script in a ```fenced block```"),
        ("submit --script a.sh -- echo hi", "takes no `--` command"),
        ("submit --script a.sh --conda ml", "--conda is not for `--script`"),
        ("submit --script a.sh --template base", "--template is not for `--script`"),
        ("submit --script a.sh --var 1x=2", "invalid --var `1x=2`"),
        ("submit --script a.sh --var novalue", "invalid --var `novalue`"),
        ("submit --script a.sh --env A=1,2", "cannot hold `,`"),
        ("submit --script a.sh -N 0", "invalid"),
        ("submit -p gpu\n```\necho\n```", "add `--script -`"),
        ("submit --script a.sh\n```\necho\n```", "not both"),
        ("submit --script -\n```\necho", "no closing ```"),
        ("submit --script a.sh -J 'a b'", "job name"),
    ],
)
def test_submit_script_mistakes(text: str, error: str) -> None:
    with pytest.raises(UsageError) as e:
        parse(text)
    assert error in str(e.value)
