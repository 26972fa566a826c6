"""Workflow YAML: both srunx forms load, and every mistake is one line naming job and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.core.flows.spec import (
    MAX_FLOW_BYTES,
    ContainerSpec,
    WorkflowSpec,
    levels,
    load_workflow,
    topological,
)
from bot.errors import UsageError

DATA = Path(__file__).resolve().parents[2] / "data" / "flows"


def _load(name: str) -> WorkflowSpec:
    return load_workflow((DATA / name).read_text())


def _one(job: str, header: str = "name: wf\n") -> str:
    """A workflow of one job, its lines given indented under `- `."""
    return header + "jobs:\n  - " + job.strip().replace("\n", "\n    ") + "\n"


def _error(text: str) -> str:
    with pytest.raises(UsageError) as e:
        load_workflow(text)
    return str(e.value)


def test_the_seeds_flat_example_loads() -> None:
    spec = _load("ml_pipeline.yaml")
    assert spec.name == "ml_pipeline"
    assert spec.names == ["preprocess", "train", "evaluate"]
    train = spec.job("train")
    assert train.command == ["python", "train.py"]
    assert train.parents == ["preprocess"]
    assert (train.gpus_per_node, train.conda) == (1, "ml_env")
    assert (train.memory, train.time_limit) == ("32GB", "4:00:00")  # memory_per_node
    assert spec.job("preprocess").nodes == 1
    assert [d.kind for d in train.depends_on] == ["afterok"]


def test_srunxs_nested_form_loads() -> None:
    spec = _load("nested.yaml")
    gpu = spec.job("gpu_task")
    assert (gpu.nodes, gpu.gpus_per_node, gpu.cpus_per_task, gpu.memory) == (2, 2, 8, "64GB")
    assert (gpu.partition, gpu.conda, gpu.env) == ("gpu", "pytorch_env", {"WANDB_MODE": "offline"})
    box = spec.job("containerized_task").container
    assert box == ContainerSpec(
        runtime="apptainer", image="/path/to/image.sif", mounts=["/data:/data", "/models:/models"],
        nv=True,
    )  # fmt: skip
    assert spec.job("pyxis_task").container == ContainerSpec(
        image="nvcr.io/nvidia/pytorch:24.01-py3"
    )
    assert [(d.kind, d.on) for d in spec.job("pyxis_task").depends_on] == [
        ("afterany", "containerized_task")
    ]
    script = spec.job("run_script")
    assert script.script_path == "scripts/train.sh"
    assert script.script_vars == {"EPOCHS": "100", "LR": "0.001"}
    assert spec.description == "srunx-style nested blocks"


def test_diamond_order_is_parents_first_and_yaml_order_among_ready() -> None:
    spec = _load("diamond.yaml")  # written d, c, b, a
    assert topological(spec) == ["a", "c", "b", "d"]
    assert levels(spec) == {"a": 0, "c": 1, "b": 1, "d": 2}
    assert topological(spec, {"b", "d"}) == ["b", "d"]
    assert levels(spec, {"b", "d"}) == {"b": 0, "d": 1}


def test_dependency_kinds() -> None:
    spec = load_workflow(
        "name: wf\njobs:\n"
        "  - {name: a, command: x}\n"
        "  - {name: b, command: x, depends_on: [afterok:a]}\n"
        "  - {name: c, command: x, depends_on: [afterany:a, afternotok:b]}\n"
        "  - {name: d, command: x, depends_on: after:c}\n"
    )
    kinds = {j.name: [(d.kind, d.on) for d in j.depends_on] for j in spec.jobs}
    assert kinds["b"] == [("afterok", "a")]
    assert kinds["c"] == [("afterany", "a"), ("afternotok", "b")]
    assert kinds["d"] == [("after", "c")]


@pytest.mark.parametrize(
    ("value", "seconds"), [("0", 0), ("45", 45), ('"30s"', 30), ("5m", 300), ("1h", 3600)]
)
def test_retry_delay_takes_seconds_or_a_duration(value: str, seconds: int) -> None:
    spec = load_workflow(_one(f"name: t\ncommand: x\nretry: 3\nretry_delay: {value}"))
    assert (spec.jobs[0].retry, spec.jobs[0].retry_delay) == (3, seconds)


def test_args_and_sweep_become_strings() -> None:
    spec = _load("sweep.yaml")
    assert spec.args == {"lr": "0.01", "seed": "1", "dataset": "cifar10"}
    assert spec.sweep is not None
    assert spec.sweep.matrix == {"lr": ["0.001", "0.01", "0.1"], "seed": ["1", "2"]}
    assert (spec.sweep.max_parallel, spec.sweep.fail_fast) == (2, True)
    flags = load_workflow("name: wf\nargs: {fast: true, slow: off}\njobs: [{name: a, command: x}]")
    assert flags.args == {"fast": "true", "slow": "false"}
    assert load_workflow(_one("name: a\ncommand: x", "name: wf\nsweep: {matrix: {x: [1]}}\n")).sweep


def test_unquoted_time_stays_a_time() -> None:
    # YAML 1.1 would read 4:00:00 as the base-60 number 14400.
    spec = load_workflow(_one("name: t\ncommand: x\ntime_limit: 4:00:00"))
    assert spec.jobs[0].time_limit == "4:00:00"


def test_exports_are_strings() -> None:
    spec = load_workflow(_one("name: t\ncommand: x\nexports: {n: 3, ok: true, p: /data}"))
    assert spec.jobs[0].exports == {"n": "3", "ok": "true", "p": "/data"}


def test_async_is_accepted_and_ignored() -> None:
    spec = load_workflow(_one("name: t\ncommand: x\nasync: true"))
    assert "async" not in spec.jobs[0].model_dump()


def test_yaml_anchors_and_merge_keys_work() -> None:
    spec = load_workflow(
        "name: wf\njobs:\n"
        "  - name: a\n    command: x\n    resources: &res {nodes: 2, partition: gpu}\n"
        "  - name: b\n    command: x\n    resources:\n      <<: *res\n      nodes: 4\n"
    )
    assert (spec.job("b").nodes, spec.job("b").partition) == (4, "gpu")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            _one("name: train\ncommand: x\ngpus: 1"),
            "job `train`: unknown key `gpus` (did you mean `gpus_per_node`?)",
        ),
        (
            _one("name: train\ncommand: x\nresources: {gpu_per_node: 1}"),
            "job `train`: unknown key `gpu_per_node` under `resources:` "
            "(did you mean `gpus_per_node`?)",
        ),
        (
            _one("name: train\ncommand: x\nresources: {conda: ml}"),
            "job `train`: `conda` does not go under `resources:`; "
            "put it on the job or under `environment:`",
        ),
        (
            _one("name: train\ncommand: x\nenvironment: {log_dir: logs}"),
            "job `train`: `log_dir` does not go under `environment:`; put it on the job",
        ),
        (
            _one("name: t\ncommand: x\ncontainer: {image: i, gpu: true}"),
            "job `t`: unknown key `gpu` under `container:`",
        ),
        ("name: wf\njob:\n  - {name: a, command: x}\n", "unknown key `job` (did you mean `jobs`?)"),
        (
            _one("name: a\ncommand: x", "name: wf\nsweep: {matrix: {x: [1]}, max_paralel: 2}\n"),
            "sweep: unknown key `max_paralel` (did you mean `max_parallel`?)",
        ),
    ],
)
def test_unknown_keys_are_named_with_a_suggestion(text: str, message: str) -> None:
    assert _error(text) == message


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        (
            "  - {name: train, command: x}\n  - {name: train, command: y}\n",
            "duplicate job name `train`",
        ),
        (
            "  - {name: a, command: x}\n  - {name: b, command: x, depends_on: [x]}\n"
            "  - {name: c, command: x}\n",
            "job `b` depends on `x`, which is not a job here; jobs: a, b, c",
        ),
        (
            "  - {name: train, command: x}\n  - {name: eval, command: x, depends_on: [trian]}\n",
            "job `eval` depends on `trian`, which is not a job here; did you mean `train`? "
            "jobs: train, eval",
        ),
        ("  - {name: a, command: x, depends_on: [a]}\n", "job `a` depends on itself"),
        (
            "  - {name: a, command: x}\n  - {name: b, command: x, depends_on: [a, afterany:a]}\n",
            "job `b` depends on `a` twice",
        ),
        (
            "  - {name: a, command: x, depends_on: [c]}\n"
            "  - {name: b, command: x, depends_on: [a]}\n"
            "  - {name: c, command: x, depends_on: [b]}\n",
            "the jobs depend on each other in a cycle: a -> b -> c -> a",
        ),
        (  # the cycle alone, not the chain leading into it
            "  - {name: root, command: x}\n"
            "  - {name: feed, command: x, depends_on: [root, loop2]}\n"
            "  - {name: loop1, command: x, depends_on: [loop2]}\n"
            "  - {name: loop2, command: x, depends_on: [loop1]}\n",
            "the jobs depend on each other in a cycle: loop1 -> loop2 -> loop1",
        ),
        (
            "  - {name: b, command: x, depends_on: [before:a]}\n",
            "job `b`: `depends_on`: `before:a`: use NAME, afterok:NAME, afterany:NAME, "
            "afternotok:NAME or after:NAME",
        ),
    ],
)
def test_the_dependency_graph_is_checked_at_load(jobs: str, message: str) -> None:
    assert _error("name: wf\njobs:\n" + jobs) == message


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (
            "name: t\ncommand: x\nscript_path: t.sh",
            "job `t`: give `command` or `script_path`, not both",
        ),
        ("name: t\nnodes: 1", "job `t`: give a `command` (or a `script_path` on the cluster)"),
        ("name: t\ncommand: ''", "job `t`: `command`: the command is empty"),
        ("name: t\ncommand: []", "job `t`: `command`: the command is empty"),
        ("name: t\ncommand: {a: 1}", "job `t`: `command`: use a string or a list of strings"),
        (
            "name: t\nscript_path: t.sh\ngpus_per_node: 1",
            "job `t`: a script_path job takes its resources from its own #SBATCH lines and sets "
            "up its own environment; drop `gpus_per_node`",
        ),
        (
            "name: t\nscript_path: t.sh\nenvironment: {conda: ml}",
            "job `t`: a script_path job takes its resources from its own #SBATCH lines and sets "
            "up its own environment; drop `conda`",
        ),
        (
            "name: t\ncommand: x\nscript_vars: {A: 1}",
            "job `t`: `script_vars` is for a `script_path` job; a command uses args",
        ),
        (
            "name: t\ncommand: x\nnodes: 1\nresources: {nodes: 2}",
            "job `t`: `nodes` is set twice (`nodes` and `resources.nodes`); keep one",
        ),
        (
            "name: t\ncommand: x\nmemory: 1G\nmemory_per_node: 2G",
            "job `t`: `memory` is set twice (`memory` and `memory_per_node`); keep one",
        ),
        (
            "name: t\ncommand: x\nenv: {A: 1}\nenvironment: {env_vars: {B: 2}}",
            "job `t`: `env` is set twice (`env` and `environment.env_vars`); keep one",
        ),
        (
            "name: t\ncommand: x\nnodes: [1]",
            "job `t`: `nodes`: use a whole number (or a {{ variable }})",
        ),
        (
            "name: t\ncommand: x\nnodes: true",
            "job `t`: `nodes`: use a whole number (or a {{ variable }})",
        ),
        (
            "name: t\ncommand: x\npartition: [a, b]",
            "job `t`: `partition`: Input should be a valid string",
        ),
        (
            "name: t\ncommand: x\nenv: {A: [1]}",
            "job `t`: `env.A`: use a string, a number or true/false",
        ),
        (
            "name: t\ncommand: x\nretry: 11",
            "job `t`: `retry`: Input should be less than or equal to 10",
        ),
        ("name: t\ncommand: x\nretry: '2'", "job `t`: `retry`: Input should be a valid integer"),
        (
            "name: t\ncommand: x\nretry_delay: soon",
            "job `t`: `retry_delay`: use seconds or a duration like 30s, 5m, 1h",
        ),
        (
            "name: t\ncommand: x\nretry_delay: 2d",
            "job `t`: `retry_delay`: Input should be less than or equal to 86400",
        ),
        (
            "name: t\ncommand: x\nexports: {my-key: 1}",
            "job `t`: `exports`: `my-key` is not a name: use letters, digits and _, "
            "starting with a letter",
        ),
        (
            "name: t\ncommand: x\ncontainer: {mounts: [a]}",
            "job `t`: `container.image`: Field required",
        ),
        (
            "name: t\ncommand: echo {{ x",
            "job `t`: `command` is not a valid template: unexpected end of template, expected "
            "'end of print statement'.; put a literal `{{`, `{%` or `{#` inside "
            "{% raw %}...{% endraw %}",
        ),
        (
            "name: t\ncommand: ['echo', '${#arr[@]}']",
            "job `t`: `command` is not a valid template: Missing end of comment tag; put a "
            "literal `{{`, `{%` or `{#` inside {% raw %}...{% endraw %}",
        ),
        (
            "name: t\ncommand: x\nenv: {A: '{{ a'}",
            "job `t`: `env.A` is not a valid template: unexpected end of template, expected "
            "'end of print statement'.; put a literal `{{`, `{%` or `{#` inside "
            "{% raw %}...{% endraw %}",
        ),
        (
            "name: a.b\ncommand: x",
            "invalid job name `a.b`: use letters, digits and _ - + @ (no `.` or `:`), at most 128",
        ),
        (
            "name: a:b\ncommand: x",
            "invalid job name `a:b`: use letters, digits and _ - + @ (no `.` or `:`), at most 128",
        ),
        ("command: x", "job #1 has no `name`"),
    ],
)
def test_job_mistakes_name_the_job_and_the_field(job: str, message: str) -> None:
    assert _error(_one(job)) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: wf\nargs:\n  seed: 'python: random.randint(0, 9)'\n"
            "jobs: [{name: a, command: x}]",
            "arg `seed`: `python:` args are not supported: the bot would run chat users' code on "
            "its own host; compute the value and pass it with --arg seed=VALUE",
        ),
        (
            "name: wf\nargs:\n  seed: '  PYTHON:1'\njobs: [{name: a, command: x}]",
            "arg `seed`: `python:` args are not supported: the bot would run chat users' code on "
            "its own host; compute the value and pass it with --arg seed=VALUE",
        ),
        (
            "name: wf\nargs: {x: [1]}\njobs: [{name: a, command: x}]",
            "arg `x`: use a string, a number or true/false",
        ),
        (
            "name: wf\nargs: {deps: 1}\njobs: [{name: a, command: x}]",
            "arg `deps` is reserved for `{{ deps.JOB.KEY }}`",
        ),
        (
            "name: wf\nargs: {my-arg: 1}\njobs: [{name: a, command: x}]",
            "invalid arg name `my-arg`: use letters, digits and _, starting with a letter",
        ),
        (
            "name: wf\nargs: {on: 1}\njobs: [{name: a, command: x}]",
            "arg `true`: the name is not text (YAML reads on, off, yes, no and numbers as "
            "values); quote it",
        ),
        (
            "name: wf\nargs: [1]\njobs: [{name: a, command: x}]",
            "`args:` must be a mapping of names to values",
        ),
        (
            "name: wf\nsweep: {matrix: {lr: []}}\njobs: [{name: a, command: x}]",
            "sweep: axis `lr` has no values",
        ),
        (
            "name: wf\nsweep: {matrix: {lr: [[1]]}}\njobs: [{name: a, command: x}]",
            "sweep: `matrix.lr.0`: use a string, a number or true/false",
        ),
        (
            "name: wf\nsweep: {matrix: {deps: [1]}}\njobs: [{name: a, command: x}]",
            "sweep: `deps` is reserved for `{{ deps.JOB.KEY }}`",
        ),
        (
            "name: wf\nsweep: {max_parallel: 0}\njobs: [{name: a, command: x}]",
            "sweep: `max_parallel`: Input should be greater than or equal to 1",
        ),
        (
            "name: wf\nsweep: [1]\njobs: [{name: a, command: x}]",
            "`sweep:` must be a mapping with `matrix:` (and `max_parallel:`)",
        ),
        (
            "jobs: [{name: a, command: x}]",
            "the workflow needs a `name:` (it names its jobs in squeue)",
        ),
        (
            "name: 'my flow'\njobs: [{name: a, command: x}]",
            "invalid workflow name `my flow`: use letters, digits and . _ - + : @ (max 128)",
        ),
        ("name: wf\n", "the workflow has no jobs: add a `jobs:` list of `- name: ...` entries"),
        (
            "name: wf\njobs: []\n",
            "the workflow has no jobs: add a `jobs:` list of `- name: ...` entries",
        ),
        ("name: wf\njobs: [train]\n", "job #1 is not a mapping: write it as `- name: ...`"),
        ("- name: a\n", "the workflow must be a YAML mapping with `name:` and `jobs:`"),
        (
            "name: wf\njobs:\n  - name: a\n    command: x\n    command: y\n",
            "the workflow is not valid YAML (line 5): `command` is given twice",
        ),
        (
            "name: wf\njobs:\n  - name: a\n    command: [x\n",
            "the workflow is not valid YAML (line 5): expected ',' or ']', but got '<stream end>'",
        ),
        (
            "name: wf\njobs:\n  - name: a\n\tcommand: x\n",
            "the workflow is not valid YAML (line 4): found character '\\t' that cannot start "
            "any token",
        ),
    ],
)
def test_workflow_mistakes_are_one_line(text: str, message: str) -> None:
    assert _error(text) == message


@pytest.mark.parametrize(
    "command",
    [
        'echo "{{ x }}"',
        "echo '{{ x }}'",
        'echo "a b {{ x }} c"',
        """echo 'it''s' "{% if x %}{{ x }}{% endif %}\"""",
        """echo \\' "{{ x }}\"""",
    ],
)
def test_a_value_inside_quotes_is_refused(command: str) -> None:
    # The bot quotes every value; inside the user's quotes that would end them instead.
    text = _one(f"name: t\ncommand: {json.dumps(command)}")
    assert _error(text) == (
        "job `t`: `command`: write `{{ ... }}` without quotes around it: the bot shell-quotes "
        "every value it puts in"
    )


@pytest.mark.parametrize(
    "command",
    [
        "echo {{ x }}",
        "printf '%s\\n' {{ x }} \"done\"",
        'echo \\"{{ x }}',
        """echo "{# a ' quote #}" {{ x }}""",
        'echo "a\\"b" {{ x }}',
        'echo {{ "\'" }} {{ x }}',
    ],
)
def test_a_value_outside_quotes_loads(command: str) -> None:
    spec = load_workflow(_one(f"name: t\ncommand: {json.dumps(command)}"))
    assert spec.jobs[0].command == command


def test_size_limit() -> None:
    text = "name: wf\njobs: [{name: a, command: x}]\n# " + "x" * MAX_FLOW_BYTES
    assert _error(text) == "the workflow is 257 KB; at most 256 KB"
    load_workflow(text[: MAX_FLOW_BYTES - 1])  # just under: loads
