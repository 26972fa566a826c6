"""Planning a workflow: sweep cells, --from/--to/--job, and each job rendered into a validated
Job and its script, with every substituted value quoted."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.core.flowruns import Dep, FlowCell
from bot.core.flows.plan import MAX_CELLS, cells, plan_cell, plan_steps, script_paths, select
from bot.core.flows.spec import WorkflowSpec, load_workflow
from bot.core.grammar import parse
from bot.core.models import Job
from bot.core.replies import FlowPlanStep
from bot.core.script import ScriptRenderer
from bot.errors import UsageError

DATA = Path(__file__).resolve().parents[2] / "data" / "flows"
MARKER = ": srunx-bot job script: directives end here"
# Each would create `pwned` in the working directory if it ever reached the shell unquoted.
HOSTILE = [
    "$(touch pwned)",
    "`touch pwned`",
    "x; touch pwned",
    "'; touch pwned; '",
    '"; touch pwned; "',
    "a && touch pwned",
    "a | touch pwned",
    "> pwned",
    "$HOME ${HOME}",
    "{{ 7 * 7 }}",
]


@pytest.fixture(scope="module")
def renderer() -> ScriptRenderer:
    return ScriptRenderer()


def _load(name: str) -> WorkflowSpec:
    return load_workflow((DATA / name).read_text())


def _plan(
    spec: WorkflowSpec,
    renderer: ScriptRenderer,
    args: Mapping[str, str] | None = None,
    *,
    keep: list[str] | None = None,
    cell: int | None = None,
    scripts: Mapping[str, str] | None = None,
) -> FlowCell:
    return plan_cell(
        spec,
        cells(spec, args or {}, {})[0] if args is None else args,
        keep if keep is not None else spec.names,
        run_name="run1",
        cell=cell,
        renderer=renderer,
        scripts=scripts or {},
    )


def _workflow(jobs: str, header: str = "") -> WorkflowSpec:
    return load_workflow(f"name: wf\n{header}jobs:\n{jobs}")


def _error(fn: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(UsageError) as e:
        fn(*args, **kwargs)  # type: ignore[operator]
    return str(e.value)


def _command_line(script: str) -> str:
    return script.rstrip("\n").splitlines()[-1]


def _run(script: str, cwd: Path) -> str:
    """Run a job script with bash (its #SBATCH lines are comments); what it printed."""
    path = cwd / "job.sh"
    path.write_text(script)
    done = subprocess.run(
        ["bash", str(path)], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
    )
    return done.stdout


# --- cells ---------------------------------------------------------------------------------


def test_no_sweep_is_one_cell_of_the_merged_args() -> None:
    spec = _workflow("  - {name: a, command: x}\n", "args: {epochs: 10, fast: true}\n")
    assert cells(spec, {}, {}) == [{"epochs": "10", "fast": "true"}]
    assert cells(spec, {"epochs": "3", "extra": "y"}, {}) == [
        {"epochs": "3", "fast": "true", "extra": "y"}
    ]


def test_sweep_cells_are_the_cross_product_first_axis_slowest() -> None:
    spec = _load("sweep.yaml")
    got = cells(spec, {}, {})
    assert [(c["lr"], c["seed"]) for c in got] == [
        ("0.001", "1"), ("0.001", "2"), ("0.01", "1"), ("0.01", "2"), ("0.1", "1"), ("0.1", "2"),
    ]  # fmt: skip
    assert all(c["dataset"] == "cifar10" for c in got)


def test_sweep_flags_replace_and_add_axes_and_arg_flags_override() -> None:
    spec = _load("sweep.yaml")
    got = cells(spec, {"dataset": "imagenet"}, {"lr": ["0.5"], "batch": ["32", "64"]})
    assert got == [
        {"lr": "0.5", "seed": s, "dataset": "imagenet", "batch": b}
        for s in ("1", "2")
        for b in ("32", "64")
    ]


def test_sweep_over_the_cap_is_refused() -> None:
    spec = _workflow("  - {name: a, command: x}\n")
    sweep = {"a": [str(i) for i in range(12)], "b": [str(i) for i in range(10)]}
    assert _error(cells, spec, {}, sweep) == (
        "the sweep has 120 cells; at most 100 run at once from chat — split it"
    )
    at_cap = {"a": [str(i) for i in range(MAX_CELLS)]}
    assert len(cells(spec, {}, at_cap)) == MAX_CELLS


def test_yaml_sweep_over_the_cap_is_refused() -> None:
    values = ", ".join(str(i) for i in range(11))
    spec = _workflow(
        "  - {name: a, command: x}\n", f"sweep: {{matrix: {{a: [{values}], b: [{values}]}}}}\n"
    )
    assert _error(cells, spec, {}, {}).startswith("the sweep has 121 cells; at most 100")


@pytest.mark.parametrize(
    ("args", "sweep", "message"),
    [
        (
            {"lr": "1"},
            {},
            "`lr` is both an --arg and a sweep axis; to run one value, use --sweep lr=VALUE",
        ),
        ({}, {"lr": []}, "--sweep lr has no values; use --sweep lr=a,b"),
        ({"deps": "1"}, {}, "--arg `deps` is reserved for `{{ deps.JOB.KEY }}`"),
        (
            {"a-b": "1"},
            {},
            "invalid --arg name `a-b`: use letters, digits and _, starting with a letter",
        ),
        (
            {},
            {"1x": ["a"]},
            "invalid --sweep name `1x`: use letters, digits and _, starting with a letter",
        ),
    ],
)
def test_bad_overrides(args: dict[str, str], sweep: dict[str, list[str]], message: str) -> None:
    assert _error(cells, _load("sweep.yaml"), args, sweep) == message


# --- select ------------------------------------------------------------------------------

CHAIN = (
    "  - {name: fetch, command: x}\n"
    "  - {name: prep, command: x, depends_on: [fetch]}\n"
    "  - {name: train, command: x, depends_on: [prep]}\n"
    "  - {name: eval, command: x, depends_on: [train]}\n"
    "  - {name: report, command: x, depends_on: [eval, prep]}\n"
    "  - {name: other, command: x}\n"
)


@pytest.mark.parametrize(
    ("start", "stop", "only", "kept"),
    [
        (None, None, None, ["fetch", "prep", "train", "eval", "report", "other"]),
        ("train", None, None, ["train", "eval", "report"]),
        (None, "train", None, ["fetch", "prep", "train"]),
        ("prep", "eval", None, ["prep", "train", "eval"]),
        ("train", "train", None, ["train"]),
        (None, None, "eval", ["eval"]),
    ],
)
def test_select(start: str | None, stop: str | None, only: str | None, kept: list[str]) -> None:
    assert select(_workflow(CHAIN), start=start, stop=stop, only=only) == kept


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"start": "trian", "stop": None, "only": None},
            "no job `trian` in the workflow; jobs: fetch, prep, train, eval, report, other",
        ),
        (
            {"start": "train", "stop": None, "only": "eval"},
            "--job runs that one job; it cannot go with --from or --to",
        ),
        (
            {"start": "other", "stop": "eval", "only": None},
            "--from other --to eval keeps no job: `eval` does not need `other`",
        ),
    ],
)
def test_select_mistakes(kwargs: dict[str, str | None], message: str) -> None:
    assert _error(select, _workflow(CHAIN), **kwargs) == message


def test_dependencies_on_jobs_not_kept_are_dropped(renderer: ScriptRenderer) -> None:
    spec = _workflow(CHAIN)
    keep = select(spec, start="train", stop=None, only=None)
    cell = _plan(spec, renderer, {}, keep=keep)
    assert {s.name: [d.on for d in s.deps] for s in cell.steps} == {
        "train": [],
        "eval": ["train"],
        "report": ["eval"],  # prep is taken as done
    }
    steps = plan_steps(spec, keep, {})
    assert [(s.name, s.deps, s.level) for s in steps] == [
        ("train", [], 0),
        ("eval", ["afterok:train"], 1),
        ("report", ["afterok:eval"], 2),
    ]


# --- plan_cell ---------------------------------------------------------------------------


def test_the_seeds_pipeline_plans(renderer: ScriptRenderer) -> None:
    spec = _load("ml_pipeline.yaml")
    cell = _plan(spec, renderer, {})
    assert [(s.name, s.slurm_name) for s in cell.steps] == [
        ("preprocess", "run1.preprocess"),
        ("train", "run1.train"),
        ("evaluate", "run1.evaluate"),
    ]
    assert cell.steps[1].deps == [Dep(kind="afterok", on="preprocess")]
    train = cell.steps[1].script
    for line in (
        "#SBATCH --job-name=run1.train",
        "#SBATCH --gpus-per-node=1",
        "#SBATCH --mem=32G",
        "#SBATCH --time=4:00:00",
        'eval "$(conda shell.bash hook)" && conda activate ml_env',
    ):
        assert line in train.splitlines()
    assert _command_line(train) == "python train.py"
    assert cell.index == 0


def test_the_plan_table(renderer: ScriptRenderer) -> None:
    spec = _load("nested.yaml")
    assert plan_steps(spec, spec.names, {}) == [
        FlowPlanStep(
            name="gpu_task",
            resources="partition gpu, 2 nodes, 2 GPUs/node, 1 task/node, 8 CPUs/task, "
            "64G memory, 12:00:00, conda pytorch_env",
            source="command",
        ),
        FlowPlanStep(
            name="containerized_task", deps=["afterok:gpu_task"], level=1,
            resources="container /path/to/image.sif", source="command",
        ),
        FlowPlanStep(
            name="pyxis_task", deps=["afterany:containerized_task"], level=2,
            resources="container nvcr.io/nvidia/pytorch:24.01-py3", source="command",
        ),
        FlowPlanStep(
            name="run_script", deps=["afternotok:gpu_task"], level=1,
            resources="from the script's #SBATCH lines", source="scripts/train.sh",
        ),
    ]  # fmt: skip
    seed = plan_steps(_load("ml_pipeline.yaml"), ["train"], {})
    assert seed[0].resources == "1 GPU/node, 32G memory, 4:00:00, conda ml_env"
    (bare,) = plan_steps(_load("diamond.yaml"), ["a"], {})
    assert bare.resources == "defaults"


def test_nested_containers_render(renderer: ScriptRenderer) -> None:
    spec = _load("nested.yaml")
    script = "#!/bin/bash\n#SBATCH --time=5\npython train.py --epochs {{ EPOCHS }} --lr {{ LR }}\n"
    assert script_paths(spec, {}, spec.names) == ["scripts/train.sh"]
    cell = _plan(spec, renderer, {}, scripts={"scripts/train.sh": script})
    steps = {s.name: s.script for s in cell.steps}
    assert _command_line(steps["containerized_task"]) == (
        "apptainer exec --bind /data:/data --bind /models:/models /path/to/image.sif "
        "bash -c 'python train.py'"
    )
    assert _command_line(steps["pyxis_task"]) == (
        "srun --container-image=nvcr.io/nvidia/pytorch:24.01-py3 bash -c 'python inference.py'"
    )
    assert "export WANDB_MODE=offline" in steps["gpu_task"]
    assert steps["run_script"] == script.replace("{{ EPOCHS }}", "100").replace("{{ LR }}", "0.001")


def test_sweep_cells_name_their_steps_and_keep_retries(renderer: ScriptRenderer) -> None:
    spec = _load("sweep.yaml")
    every = cells(spec, {}, {})
    cell = _plan(spec, renderer, every[3], cell=3)
    assert cell.index == 3 and cell.args == every[3]
    train = cell.steps[1]
    assert (train.slurm_name, train.retry, train.retry_delay) == ("run1.c3.train", 2, 300)
    assert "#SBATCH --job-name=run1.c3.train" in train.script
    assert shlex.split(_command_line(train.script)) == [
        "python", "train.py", "--lr", "0.01", "--seed", "2", "--data", "/scratch/cifar10",
    ]  # fmt: skip


def test_exports_reach_a_dependant(renderer: ScriptRenderer) -> None:
    spec = _workflow(
        "  - name: a\n    command: x\n    exports: {out: '/data/{{ tag }}', n: 3}\n"
        '  - name: b\n    command: \'use {{ deps.a.out }} {{ deps["a"]["n"] }}\'\n'
        "    depends_on: [a]\n"
        "    env: {OUT: '{{ deps.a.out }}'}\n",
        "args: {tag: v1}\n",
    )
    script = _plan(spec, renderer).steps[1].script
    assert _command_line(script) == "use /data/v1 3"
    assert "export OUT=/data/v1" in script
    only_b = _plan(spec, renderer, keep=["b"])  # the parent not kept: its exports still read
    assert _command_line(only_b.steps[0].script) == "use /data/v1 3"


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        (
            "  - {name: train, command: 'python train.py --epochs {{ epochs }}'}\n",
            "job `train`: `epochs` is not defined (add it to args or pass --arg epochs=...)",
        ),
        (
            "  - {name: train, command: x, partition: '{{ part }}'}\n",
            "job `train`: `part` is not defined (add it to args or pass --arg part=...)",
        ),
        (
            "  - {name: a, command: x}\n  - {name: b, command: '{{ deps.c.x }}'}\n"
            "  - {name: c, command: x}\n",
            "job `b`: `deps.c`: only the exports of a job this one depends on can be read "
            "(its depends_on: none)",
        ),
        (
            "  - {name: a, command: x, exports: {out: o}}\n"
            "  - {name: b, command: '{{ deps.a.oops }}', depends_on: [a]}\n",
            "job `b`: `deps.a.oops`: job `a` exports no `oops` (it exports `out`)",
        ),
        (
            "  - {name: a, command: x, exports: {out: '{{ deps.a.out }}'}}\n",
            "job `a`: `deps.a`: only the exports of a job this one depends on can be read "
            "(exports are rendered with the args only)",
        ),
        (
            "  - {name: a, command: \"{{ ''.__class__.__mro__ }}\"}\n",
            "job `a`: `command`: access to attribute '__class__' of 'str' object is unsafe.",
        ),
        (
            "  - {name: a, command: '{{ \"x\" + 1 }}'}\n",
            'job `a`: `command` cannot be rendered: can only concatenate str (not "int") to str',
        ),
        (
            "  - {name: a, command: x, template: nope}\n",
            "job `a`: unknown template `nope`; templates: advanced, base",
        ),
        (
            "  - {name: a, command: x, conda: ml, venv: /v}\n",
            "job `a`: choose one of --conda, --venv, --container (got conda, venv)",
        ),
        (
            '  - {name: a, command: x, env: {V: "a\\nb"}}\n',
            "job `a`: value of V must not contain newlines or control characters",
        ),
        (
            "  - {name: a, command: x, container: {image: i, runtime: docker}}\n",
            "job `a`: invalid --runtime: Input should be 'pyxis', 'apptainer' or 'singularity'",
        ),
        (
            "  - {name: a, command: '{{ empty }}'}\n",
            "job `a`: `empty` is not defined (add it to args or pass --arg empty=...)",
        ),
    ],
)
def test_rendering_mistakes_name_the_job(renderer: ScriptRenderer, jobs: str, message: str) -> None:
    assert _error(_plan, _workflow(jobs), renderer, {}) == message


@pytest.mark.parametrize(
    ("field", "flag"),
    [
        ("memory_per_node: 32X", "--mem 32X"),
        ("time_limit: '99:99:99'", "-t 99:99:99"),
        ("partition: 'gpu;x'", "-p 'gpu;x'"),
        ("nodelist: 'n 1'", "-w 'n 1'"),
        ("nodes: 0", "-N 0"),
        ("nodes: 20000", "-N 20000"),
        ("gpus_per_node: x", "--gpus-per-node x"),
        ("cpus_per_task: '{{ cpus }}'", "-c 0"),  # rendered, then checked
        ("env: {1A: b}", "--env 1A=b"),
    ],
)
def test_bad_resources_get_submits_message(renderer: ScriptRenderer, field: str, flag: str) -> None:
    with pytest.raises(UsageError) as submit:
        parse(f"submit {flag} -- true")
    spec = _workflow(f"  - name: train\n    command: x\n    {field}\n")
    expected = f"job `train`: {submit.value}"
    assert _error(_plan, spec, renderer, {"cpus": "0"}) == expected
    assert _error(plan_steps, spec, spec.names, {"cpus": "0"}) == expected


def test_a_too_long_step_name_is_refused(renderer: ScriptRenderer) -> None:
    spec = _workflow(f"  - {{name: {'j' * 120}, command: x}}\n")
    assert _error(_plan, spec, renderer, {}, cell=12).startswith(
        f"job `{'j' * 120}`: invalid job name `run1.c12.jjj"
    )


def test_script_path_jobs(renderer: ScriptRenderer) -> None:
    spec = _workflow(
        "  - name: s\n    script_path: '~/jobs/{{ kind }}.sh'\n"
        "    script_vars: {EPOCHS: '{{ epochs }}', NAME: '$(x)'}\n",
        "args: {kind: train, epochs: 5}\n",
    )
    assert script_paths(spec, {"kind": "eval", "epochs": "1"}, ["s"]) == ["~/jobs/eval.sh"]
    source = "#!/bin/bash\n#SBATCH -N 1\necho {{ EPOCHS }} {{ NAME }}\n"
    cell = _plan(
        spec, renderer, {"kind": "train", "epochs": "5"}, scripts={"~/jobs/train.sh": source}
    )
    assert cell.steps[0].script == "#!/bin/bash\n#SBATCH -N 1\necho 5 $(x)\n"  # the user's own
    assert _error(_plan, spec, renderer, {"kind": "x", "epochs": "5"}) == (
        "job `s`: the script `~/jobs/x.sh` was not read from the cluster"
    )
    missing = {"~/jobs/train.sh": "echo {{ LR }}\n"}
    assert _error(_plan, spec, renderer, {"kind": "train", "epochs": "5"}, scripts=missing) == (
        "job `s`: the script uses `LR`, which has no --var"
    )


def test_fill_gets_the_fields_the_yaml_set(renderer: ScriptRenderer) -> None:
    seen: dict[str, frozenset[str]] = {}

    def fill(job: Job, given: frozenset[str]) -> Job:
        seen[job.name] = given
        if "partition" not in given:
            resources = job.resources.model_copy(update={"partition": "default"})
            job = job.model_copy(update={"resources": resources})
        return job

    spec = _workflow(
        "  - {name: a, command: x, gpus_per_node: 1, memory_per_node: 8G, conda: ml,\n"
        "     env: {A: b}, log_dir: logs}\n"
        "  - {name: b, command: x, resources: {partition: gpu, time_limit: '1:00'}}\n"
    )
    cell = plan_cell(
        spec, {}, spec.names, run_name="r", cell=None, renderer=renderer, scripts={}, fill=fill
    )
    assert seen == {
        "r.a": frozenset({"gpus_per_node", "memory", "conda", "env_vars", "log_dir"}),
        "r.b": frozenset({"partition", "time_limit"}),
    }
    assert "#SBATCH --partition=default" in cell.steps[0].script
    assert "#SBATCH --partition=gpu" in cell.steps[1].script


# --- injection ---------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_args_reach_a_string_command_quoted(
    renderer: ScriptRenderer, tmp_path: Path, value: str
) -> None:
    spec = _workflow("  - {name: a, command: \"printf '%s\\\\n' {{ x }} done\"}\n")
    script = _plan(spec, renderer, {"x": value}).steps[0].script
    assert shlex.split(_command_line(script)) == ["printf", "%s\\n", value, "done"]
    assert _run(script, tmp_path) == f"{value}\ndone\n"
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("value", HOSTILE)
def test_args_reach_a_list_command_as_one_word(
    renderer: ScriptRenderer, tmp_path: Path, value: str
) -> None:
    spec = _workflow("  - {name: a, command: [printf, '%s\\n', 'v={{ x }}']}\n")
    script = _plan(spec, renderer, {"x": value}).steps[0].script
    assert shlex.split(_command_line(script)) == ["printf", "%s\\n", f"v={value}"]
    assert _run(script, tmp_path) == f"v={value}\n"
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("value", HOSTILE)
def test_exports_and_env_values_stay_quoted(
    renderer: ScriptRenderer, tmp_path: Path, value: str
) -> None:
    spec = _workflow(
        "  - {name: a, command: x, exports: {out: '{{ x }}'}}\n"
        "  - name: b\n    depends_on: [a]\n"
        '    command: "printf \'%s|%s\\\\n\' {{ deps.a.out }} \\"$V\\""\n'
        "    env: {V: '{{ x }}'}\n",
        "args: {x: safe}\n",
    )
    script = _plan(spec, renderer, {"x": value}, keep=["b"]).steps[0].script
    export = next(line for line in script.splitlines() if line.startswith("export V="))
    assert shlex.split(export) == ["export", f"V={value}"]
    assert _run(script, tmp_path) == f"{value}|{value}\n"
    assert not (tmp_path / "pwned").exists()


def test_yaml_args_are_quoted_too(renderer: ScriptRenderer) -> None:
    spec = _workflow("  - {name: a, command: 'echo {{ x }}'}\n", "args: {x: '$(touch pwned)'}\n")
    script = _plan(spec, renderer).steps[0].script
    assert _command_line(script) == "echo '$(touch pwned)'"
    assert MARKER in script
