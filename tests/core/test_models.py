"""The job model's validators: the first wall against bad values and injection."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from bot.core.models import (
    ContainerResource,
    Job,
    JobEnvironment,
    JobResource,
    JobState,
    time_limit_seconds,
    validate_job_id,
    validate_memory,
    validate_time,
)

INJECTIONS = [
    "$(touch ~/pwned)",
    "`touch ~/pwned`",
    "x\n#SBATCH --uid=0",
    "'; rm -rf ~; '",
    "a b",
    "x;id",
    "x\r#SBATCH --uid=0",
]


# ---------------------------------------------------------------- memory
@pytest.mark.parametrize(
    ("text", "slurm"),
    [
        ("32G", "32G"),
        ("500M", "500M"),
        ("1024", "1024"),
        ("32gb", "32G"),
        ("2T", "2T"),
        ("16K", "16K"),
        (" 8G ", "8G"),
    ],
)
def test_validate_memory(text: str, slurm: str) -> None:
    assert validate_memory(text) == slurm


@pytest.mark.parametrize("text", ["lots", "0", "0G", "1.5G", "-1G", "32 G", "32X", "", "$(id)"])
def test_validate_memory_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid memory .*e\.g\. 32G"):
        validate_memory(text)


# ---------------------------------------------------------------- time
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30", 30 * 60),
        ("10:00", 10 * 60),
        ("2:00:00", 2 * 3600),
        ("1-12", 86400 + 12 * 3600),
        ("1-12:30", 86400 + 12 * 3600 + 30 * 60),
        ("1-12:30:15", 86400 + 12 * 3600 + 30 * 60 + 15),
    ],
)
def test_time_limit_seconds(text: str, seconds: int) -> None:
    assert time_limit_seconds(text) == seconds
    assert validate_time(text) == text
    assert validate_time(f" {text} ") == text


@pytest.mark.parametrize(
    "text", ["99:99:99:99", "1:99", "lots", "0", "0:00", "1-24", "2:60:00", "", "-5", "1h"]
)
def test_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match=r"invalid time .*e\.g\. 2:00:00"):
        time_limit_seconds(text)
    with pytest.raises(ValueError):
        validate_time(text)


# ---------------------------------------------------------------- job ids
@pytest.mark.parametrize("text", ["4121", "4121_3", " 12 "])
def test_validate_job_id(text: str) -> None:
    assert validate_job_id(text) == text.strip()


@pytest.mark.parametrize("text", ["abc", "12;rm", "1_2_3", "", "12_", "_3", "12 13", "-1"])
def test_validate_job_id_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="use a number like 4121 or an array task 4121_3"):
        validate_job_id(text)


# ---------------------------------------------------------------- the job model
def test_valid_job() -> None:
    job = Job(
        name="train-1.a+b:c@d",
        command="python train.py --lr 0.1 | tee log",
        resources=JobResource(
            nodes=2,
            gpus_per_node=4,
            memory="32gb",
            time_limit="1-12",
            partition="gpu",
            nodelist="node[1-2],node5",
        ),
        environment=JobEnvironment(conda="ml", env_vars={"A_1": "x y $HOME 'q'"}),
        log_dir="/home/alice/logs",
        work_dir="work/dir",
    )
    assert job.resources.memory == "32G"
    assert job.template == "advanced"
    assert job.environment.env_vars["A_1"] == "x y $HOME 'q'"


@pytest.mark.parametrize("bad", INJECTIONS)
def test_job_name_rejects_injection(bad: str) -> None:
    with pytest.raises(ValidationError, match="job name"):
        Job(name=bad, command="true")


@pytest.mark.parametrize("bad", INJECTIONS)
def test_partition_rejects_injection(bad: str) -> None:
    with pytest.raises(ValidationError, match="partition"):
        JobResource(partition=bad)


@pytest.mark.parametrize("bad", INJECTIONS)
def test_nodelist_rejects_injection(bad: str) -> None:
    with pytest.raises(ValidationError, match="nodelist"):
        JobResource(nodelist=bad)


@pytest.mark.parametrize("field", ["log_dir", "work_dir"])
@pytest.mark.parametrize("bad", INJECTIONS)
def test_paths_reject_injection(field: str, bad: str) -> None:
    kwargs: dict[str, Any] = {field: bad}
    with pytest.raises(ValidationError, match="path"):
        Job(command="true", **kwargs)


@pytest.mark.parametrize(
    "value", ["x\n#SBATCH --uid=0", "a\rb", "nul\x00", "bell\x07", "esc\x1b[31m"]
)
def test_env_value_rejects_control_characters(value: str) -> None:
    with pytest.raises(ValidationError, match="must not contain newlines or control characters"):
        JobEnvironment(env_vars={"A": value})


def test_env_value_may_hold_shell_text_and_tabs() -> None:
    # Values are quoted by the template, so shell syntax is fine here; only control chars are not.
    env = JobEnvironment(env_vars={"A": "$(touch ~/pwned)", "B": "'; rm -rf ~; '", "T": "a\tb"})
    assert env.env_vars["A"] == "$(touch ~/pwned)"


@pytest.mark.parametrize("key", ["1A", "A-B", "A B", "$(id)", "", "A=B", "Ä", "A;B"])
def test_env_name_rejected(key: str) -> None:
    with pytest.raises(ValidationError, match="variable name"):
        JobEnvironment(env_vars={key: "1"})


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"conda": "ml", "venv": "/v"}, "conda, venv"),
        ({"conda": "ml", "container": ContainerResource(image="img")}, "conda, container"),
        ({"venv": "/v", "container": ContainerResource(image="img")}, "venv, container"),
    ],
)
def test_one_environment_only(kwargs: dict[str, Any], named: str) -> None:
    expected = f"choose one of --conda, --venv, --container \\(got {named}\\)"
    with pytest.raises(ValidationError, match=expected):
        JobEnvironment(**kwargs)


@pytest.mark.parametrize("field", ["conda", "venv"])
def test_environment_names_reject_newlines(field: str) -> None:
    kwargs: dict[str, Any] = {field: "ml\nid"}
    with pytest.raises(ValidationError, match="environment names"):
        JobEnvironment(**kwargs)


def test_container_rejects_newlines() -> None:
    with pytest.raises(ValidationError, match="container settings"):
        ContainerResource(image="img\n#SBATCH --uid=0")
    with pytest.raises(ValidationError, match="container mounts"):
        ContainerResource(image="img", mounts=["/a:/a", "/b\n:/b"])
    with pytest.raises(ValidationError):
        ContainerResource.model_validate({"image": "img", "runtime": "docker"})


@pytest.mark.parametrize("command", ["", "   ", "\n"])
def test_empty_command_rejected(command: str) -> None:
    with pytest.raises(ValidationError, match="the command after `--` is empty"):
        Job(command=command)


def test_nul_in_command_rejected() -> None:
    with pytest.raises(ValidationError, match="NUL"):
        Job(command="echo a\x00b")


def test_command_is_kept_verbatim() -> None:
    text = "echo \"$HOME\" | tee 'a b' && python -c 'print(1)'\n#SBATCH --uid=0"
    assert Job(command=text).command == text


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("nodes", 0),
        ("gpus_per_node", -1),
        ("gpus_per_node", 65),
        ("cpus_per_task", 0),
        ("ntasks_per_node", 0),
        ("memory", "lots"),
        ("time_limit", "99:99:99:99"),
    ],
)
def test_resource_bounds(field: str, value: object) -> None:
    with pytest.raises(ValidationError):
        JobResource.model_validate({field: value})


def test_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="Extra inputs"):
        Job.model_validate({"command": "true", "uid": 0})


@pytest.mark.parametrize(
    "build",
    [
        lambda: Job(name="x\n", command="true"),
        lambda: Job(log_dir="logs\n", command="true"),
        lambda: JobResource(partition="gpu\n"),
        lambda: JobEnvironment(env_vars={"A\n": "1"}),
    ],
    ids=["name", "log_dir", "partition", "env-name"],
)
def test_trailing_newline_is_rejected(build: Callable[[], object]) -> None:
    with pytest.raises(ValidationError):
        build()


# ---------------------------------------------------------------- job states
@pytest.mark.parametrize(
    ("text", "state"),
    [
        ("RUNNING", JobState.RUNNING),
        ("CANCELLED by 1002", JobState.CANCELLED),
        ("COMPLETED+", JobState.COMPLETED),
        (" PENDING ", JobState.PENDING),
        ("OUT_OF_MEMORY", JobState.OUT_OF_MEMORY),
        ("bogus", JobState.UNKNOWN),
        ("", JobState.UNKNOWN),
    ],
)
def test_state_from_slurm(text: str, state: JobState) -> None:
    assert JobState.from_slurm(text) is state


@pytest.mark.parametrize(
    "state",
    [
        "COMPLETED",
        "FAILED",
        "CANCELLED",
        "TIMEOUT",
        "OUT_OF_MEMORY",
        "NODE_FAIL",
        "PREEMPTED",
        "BOOT_FAIL",
        "DEADLINE",
        "REVOKED",
        "SPECIAL_EXIT",
    ],
)
def test_terminal_states(state: str) -> None:
    assert JobState(state).is_terminal
    assert not JobState(state).is_active


@pytest.mark.parametrize(
    "state",
    [
        "PENDING",
        "CONFIGURING",
        "RUNNING",
        "COMPLETING",
        "SUSPENDED",
        "REQUEUED",
        "RESIZING",
        "STOPPED",
    ],
)
def test_active_states(state: str) -> None:
    assert JobState(state).is_active
    assert not JobState(state).is_terminal


@pytest.mark.parametrize("state", [JobState.UNKNOWN, JobState.NOT_FOUND])
def test_unknown_states_are_neither(state: JobState) -> None:
    assert not state.is_active
    assert not state.is_terminal
