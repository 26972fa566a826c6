"""The submit form as a command: the same grammar as `/srunx submit`, errors per field."""

from __future__ import annotations

import pytest

from bot.core.forms import (
    FormErrors,
    SubmitFields,
    command_from_message,
    initial_fields,
    submit_command,
)
from bot.core.grammar import parse
from bot.core.models import ContainerResource, Job, JobEnvironment, JobResource


def test_a_form_gives_the_same_job_as_the_command_line() -> None:
    form = SubmitFields(
        name="train",
        partition="gpu",
        gpus_per_node="2",
        time="2:00:00",
        memory="16G",
        command="python train.py --lr 0.1 && echo 'done; really'",
        env="A=1\n  B=x y  \n\nC=",
        cluster="jump",
    )
    text = (
        "submit -J train -p gpu --gpus-per-node 2 -t 2:00:00 --mem 16G --env A=1 "
        "--env 'B=x y' --env C= --cluster jump -- python train.py --lr 0.1 && echo 'done; really'"
    )
    assert submit_command(form) == parse(text)


def test_environment_and_template_fields_are_the_submit_flags() -> None:
    form = SubmitFields(conda="ml", template="advanced", command="python a.py")
    assert submit_command(form) == parse("submit --conda ml --template advanced -- python a.py")
    form = SubmitFields(container="nvcr.io/x:1", command="true")
    assert submit_command(form).job.environment.container == ContainerResource(image="nvcr.io/x:1")


def test_two_environments_are_refused_on_the_extra_fields() -> None:
    with pytest.raises(FormErrors) as err:
        submit_command(SubmitFields(conda="ml", venv="~/v", container="img", command="true"))
    assert set(err.value.errors) == {"venv", "container"}
    assert "choose one of conda, venv, container" in err.value.errors["venv"]


def test_initial_fields_are_what_the_defaults_filled_in() -> None:
    job = Job(
        command="true",
        template="base",
        resources=JobResource(partition="cpu", gpus_per_node=2, time_limit="4:00:00"),
        environment=JobEnvironment(venv="~/v"),
    )
    assert initial_fields(job) == {
        "partition": "cpu",
        "gpus_per_node": "2",
        "time": "4:00:00",
        "venv": "~/v",
        "template": "base",
    }
    assert initial_fields(Job(command="true")) == {"template": "advanced"}


def test_empty_optional_fields_take_the_defaults() -> None:
    assert submit_command(SubmitFields(command="hostname")) == parse("submit -- hostname")


def test_multiline_command_is_kept_verbatim() -> None:
    cmd = submit_command(SubmitFields(command="cd /data\npython a.py $HOME"))
    assert cmd.job.command == "cd /data\npython a.py $HOME"


def test_every_bad_field_is_named_with_the_grammars_message() -> None:
    with pytest.raises(FormErrors) as err:
        submit_command(
            SubmitFields(
                name="bad name!",
                partition="gpu;rm",
                gpus_per_node="-1",
                time="abc",
                memory="lots",
                env="NOPE",
            )
        )
    errors = err.value.errors
    assert set(errors) == {"name", "partition", "gpus_per_node", "time", "memory", "env", "command"}
    assert errors["time"].startswith("invalid time `abc`")
    assert errors["memory"].startswith("invalid memory `lots`")
    assert errors["env"] == "invalid --env `NOPE`: use KEY=VALUE"
    assert errors["command"].startswith("the command to run is empty")
    for message in errors.values():
        assert "\n" not in message and "Traceback" not in message


def test_a_command_the_job_model_refuses_is_an_error_on_the_command() -> None:
    with pytest.raises(FormErrors) as err:
        submit_command(SubmitFields(partition="cpu", command="echo \x00"))
    assert err.value.errors == {"command": "the command must not contain NUL bytes"}


def test_each_bad_field_alone_is_the_only_error() -> None:
    for field, bad in [("gpus_per_node", "two"), ("time", "1:99:00"), ("memory", "16Q")]:
        with pytest.raises(FormErrors) as err:
            submit_command(SubmitFields(command="true", **{field: bad}))
        assert list(err.value.errors) == [field]
        assert f"`{bad}`" in err.value.errors[field]


def test_env_lines_become_variables() -> None:
    cmd = submit_command(SubmitFields(command="true", env=" A=1 \n\nB==x=\nC=a b"))
    assert cmd.job.environment.env_vars == {"A": "1", "B": "=x=", "C": "a b"}


def test_an_injected_directive_in_a_field_is_refused() -> None:
    with pytest.raises(FormErrors) as err:
        submit_command(SubmitFields(command="true", env="X=1\n#SBATCH --uid=0"))
    assert "env" in err.value.errors


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("python train.py", "python train.py"),
        ("```python train.py```", "python train.py"),
        ("```\n$ cd /data\n$ python a.py\n```", "cd /data\npython a.py"),
        ("`nvidia-smi`", "nvidia-smi"),
        ("  $ ls -l  ", "ls -l"),
    ],
)
def test_command_from_a_message(text: str, command: str) -> None:
    assert command_from_message(text) == command
