"""A loaded workflow made concrete: the cells of its sweep, the jobs a run keeps, and each
kept job rendered (jinja, in the sandbox job scripts use) into a validated Job and its
script. Every value a `{{ }}` puts into a string `command` is shell-quoted; resources are
validated by the same Job model as `submit`, with the same messages."""

from __future__ import annotations

import itertools
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from math import prod
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from bot.core.flowruns import FlowCell, FlowStep
from bot.core.flows.spec import (
    RESOURCE_KEYS,
    JobSpec,
    WorkflowSpec,
    check_arg_name,
    is_template,
    levels,
    syntax_error,
    template_env,
    topological,
)
from bot.core.grammar import _check_name, _count, _positive, first_error
from bot.core.models import Job, shown
from bot.core.replies import FlowPlanStep
from bot.core.script import ScriptRenderer
from bot.errors import UsageError

if TYPE_CHECKING:
    from jinja2 import Template

MAX_CELLS = 100
Fill = Callable[[Job, frozenset[str]], Job]
# The YAML's fields that the user's defaults may fill, by their Job (JobDefaults) names.
_GIVEN = {
    **{k: k for k in RESOURCE_KEYS if k != "nodelist"},
    **{k: k for k in ("conda", "venv", "container", "log_dir", "work_dir")},
    "env": "env_vars",
}
_EXPORTS_NOTE = "exports are rendered with the args only"
# `submit`'s own checks for its whole-number flags, so the YAML gets the same messages.
_WHOLE = {
    "nodes": _positive,
    "gpus_per_node": _count,
    "ntasks_per_node": _positive,
    "cpus_per_task": _positive,
}


def cells(
    spec: WorkflowSpec, args: Mapping[str, str], sweep: Mapping[str, Sequence[str]]
) -> list[dict[str, str]]:
    """The args of each cell: the YAML's args under `--arg`s, crossed with the YAML's matrix
    and the `--sweep` axes (which add or replace axes); first axis slowest."""
    for key in args:
        check_arg_name(key, "--arg")
    matrix = {k: list(v) for k, v in spec.sweep.matrix.items()} if spec.sweep else {}
    for key, values in sweep.items():
        check_arg_name(key, "--sweep")
        if not values:
            raise UsageError(f"--sweep {key} has no values; use --sweep {key}=a,b")
        matrix[key] = list(values)
    both = [k for k in matrix if k in args]
    if both:
        raise UsageError(
            f"`{both[0]}` is both an --arg and a sweep axis; to run one value, "
            f"use --sweep {both[0]}=VALUE"
        )
    count = prod(len(v) for v in matrix.values())
    if count > MAX_CELLS:
        raise UsageError(
            f"the sweep has {count} cells; at most {MAX_CELLS} run at once from chat — split it"
        )
    base = {**spec.args, **args}
    return [
        {**base, **dict(zip(matrix, combo, strict=True))}
        for combo in itertools.product(*matrix.values())
    ]


def select(
    spec: WorkflowSpec, *, start: str | None, stop: str | None, only: str | None
) -> list[str]:
    """The jobs a run keeps, parents first. `--from`: the job and what depends on it;
    `--to`: the job and what it depends on; both: the jobs between; `--job`: that one.
    A kept job's dependencies on jobs not kept are dropped: those are taken as done."""
    for name in (start, stop, only):
        if name is not None:
            spec.job(name)  # unknown: "no job `x` in the workflow; jobs: ..."
    if only is not None:
        if start is not None or stop is not None:
            raise UsageError("--job runs that one job; it cannot go with --from or --to")
        return [only]
    keep = set(spec.names)
    if start is not None:
        keep &= _reach(spec, start, down=True)
    if stop is not None:
        keep &= _reach(spec, stop, down=False)
    if not keep:
        raise UsageError(
            f"--from {start} --to {stop} keeps no job: `{stop}` does not need `{start}`"
        )
    return topological(spec, keep)


def _reach(spec: WorkflowSpec, name: str, *, down: bool) -> set[str]:
    """The job and every job below it (its dependants) or above it (its dependencies)."""
    edges: dict[str, list[str]] = {j.name: [] for j in spec.jobs}
    for job in spec.jobs:
        for parent in job.parents:
            if down:
                edges[parent].append(job.name)
            else:
                edges[job.name].append(parent)
    seen, stack = {name}, [name]
    while stack:
        for other in edges[stack.pop()]:
            if other not in seen:
                seen.add(other)
                stack.append(other)
    return seen


def plan_cell(
    spec: WorkflowSpec,
    args: Mapping[str, str],
    keep: Sequence[str],
    *,
    run_name: str,
    cell: int | None,
    renderer: ScriptRenderer,
    scripts: Mapping[str, str],
    fill: Fill | None = None,
) -> FlowCell:
    """One cell's steps, parents first, each with its rendered script. `scripts` holds the
    source of every `script_paths` path; `fill` applies the user's defaults to the fields
    the YAML left unset (`JobDefaults.resolve`)."""
    jobs, kept = _kept(spec, keep)
    exports = _exports(spec, args)
    prefix = run_name if cell is None else f"{run_name}.c{cell}"
    steps: list[FlowStep] = []
    for name in topological(spec, kept):
        job, slurm_name = jobs[name], f"{prefix}.{name}"
        with _about(name):
            values = _rendered(job, args, exports)
            if job.script_path is None:
                script = renderer.render(_filled(_job_model(values, slurm_name), job, fill))
            else:
                _check_name(slurm_name)
                path = _path(values["script_path"])
                source = scripts.get(path)
                if source is None:
                    raise UsageError(f"the script `{shown(path)}` was not read from the cluster")
                script = renderer.render_user_script(source, values["script_vars"])
        steps.append(
            FlowStep(
                name=name,
                slurm_name=slurm_name,
                deps=[d.model_copy() for d in job.depends_on if d.on in kept],
                script=script,
                retry=job.retry,
                retry_delay=job.retry_delay,
            )
        )
    return FlowCell(index=cell or 0, args=dict(args), steps=steps)


def script_paths(spec: WorkflowSpec, args: Mapping[str, str], keep: Sequence[str]) -> list[str]:
    """The cluster paths of the kept `script_path` jobs (rendered), for the caller to read
    before `plan_cell`."""
    jobs, kept = _kept(spec, keep)
    exports = _exports(spec, args)
    paths: list[str] = []
    for name in topological(spec, kept):
        job = jobs[name]
        if job.script_path is not None:
            with _about(name):
                path = _path(_render(job.script_path, _context(job, args, exports), "script_path"))
            if path not in paths:
                paths.append(path)
    return paths


def plan_steps(
    spec: WorkflowSpec, keep: Sequence[str], args: Mapping[str, str]
) -> list[FlowPlanStep]:
    """`flow validate`'s table: every kept job rendered with `args` and validated."""
    jobs, kept = _kept(spec, keep)
    exports = _exports(spec, args)
    level = levels(spec, kept)
    steps: list[FlowPlanStep] = []
    for name in topological(spec, kept):
        job = jobs[name]
        with _about(name):
            values = _rendered(job, args, exports)
            if job.script_path is None:
                source = "command"
                resources = _resources_text(_job_model(values, name), job.model_fields_set)
            else:
                source = _path(values["script_path"])
                resources = "from the script's #SBATCH lines"
        steps.append(
            FlowPlanStep(
                name=name,
                deps=[f"{d.kind}:{d.on}" for d in job.depends_on if d.on in kept],
                level=level[name],
                resources=resources,
                retry=job.retry,
                source=source,
            )
        )
    return steps


def _kept(spec: WorkflowSpec, keep: Sequence[str]) -> tuple[dict[str, JobSpec], set[str]]:
    for name in keep:
        spec.job(name)
    return {j.name: j for j in spec.jobs}, set(keep)


@contextmanager
def _about(name: str) -> Iterator[None]:
    """Name the job in every error raised while it is planned."""
    try:
        yield
    except UsageError as e:
        raise UsageError(f"job `{name}`: {e}") from None


class _Deps:
    """`{{ deps.JOB.KEY }}`: the exports of this job's parents. A name that is not there is
    said so, instead of rendering as an empty string."""

    __slots__ = ("__exports", "__note")

    def __init__(self, exports: Mapping[str, Mapping[str, str]], note: str = "") -> None:
        self.__exports = exports
        self.__note = note

    def __getitem__(self, job: str) -> _Exports:
        if job not in self.__exports:
            why = self.__note or f"its depends_on: {', '.join(self.__exports) or 'none'}"
            raise UsageError(
                f"`deps.{shown(str(job))}`: only the exports of a job this one depends on "
                f"can be read ({why})"
            )
        return _Exports(job, self.__exports[job])


class _Exports:
    __slots__ = ("__job", "__values")

    def __init__(self, job: str, values: Mapping[str, str]) -> None:
        self.__job = job
        self.__values = values

    def __getitem__(self, key: str) -> str:
        if key not in self.__values:
            have = ", ".join(f"`{k}`" for k in self.__values) or "nothing"
            raise UsageError(
                f"`deps.{self.__job}.{shown(str(key))}`: job `{self.__job}` exports no "
                f"`{shown(str(key))}` (it exports {have})"
            )
        return self.__values[key]


def _exports(spec: WorkflowSpec, args: Mapping[str, str]) -> dict[str, dict[str, str]]:
    context = {**args, "deps": _Deps({}, _EXPORTS_NOTE)}
    out: dict[str, dict[str, str]] = {}
    for job in spec.jobs:
        with _about(job.name):
            out[job.name] = {k: _render(v, context, f"exports.{k}") for k, v in job.exports.items()}
    return out


def _context(
    job: JobSpec, args: Mapping[str, str], exports: Mapping[str, Mapping[str, str]]
) -> dict[str, object]:
    return {**args, "deps": _Deps({p: exports[p] for p in job.parents})}


def _rendered(
    job: JobSpec, args: Mapping[str, str], exports: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    """The job's fields with every string rendered; the command as one shell line."""
    context = _context(job, args, exports)
    data = job.model_dump(
        exclude={
            "name": True,
            "depends_on": True,
            "retry": True,
            "retry_delay": True,
            "exports": True,
            "container": {"nv"},
        },
        exclude_none=True,
    )
    command = data.pop("command", None)
    values = {k: _tree(v, context, k) for k, v in data.items()}
    if isinstance(command, str):  # the user's shell line: what `{{ }}` adds is quoted
        values["command"] = _render(command, context, "command", quoted=True)
    elif command is not None:  # one word per item, whatever the item renders to
        values["command"] = shlex.join(_render(w, context, "command") for w in command)
    return values


def _tree(value: Any, context: Mapping[str, object], label: str) -> Any:
    if isinstance(value, str):
        return _render(value, context, label)
    if isinstance(value, list):
        return [_tree(v, context, label) for v in value]
    if isinstance(value, dict):
        return {k: _tree(v, context, f"{label}.{k}") for k, v in value.items()}
    return value


def _render(source: str, context: Mapping[str, object], label: str, *, quoted: bool = False) -> str:
    if not is_template(source):
        return source
    from jinja2 import TemplateError, TemplateSyntaxError

    try:
        template, names = _compiled(source, quoted)
        missing = sorted(names - context.keys())
        if missing:
            raise UsageError(
                f"`{missing[0]}` is not defined (add it to args or pass --arg {missing[0]}=...)"
            )
        return template.render(context)
    except TemplateSyntaxError as e:
        raise UsageError(syntax_error(label, e)) from None
    except TemplateError as e:  # undefined attributes, the sandbox refusing
        raise UsageError(f"`{label}`: {e.message}") from None
    except (TypeError, ValueError, ArithmeticError, LookupError) as e:  # `{{ a + 1 }}` on text
        raise UsageError(f"`{label}` cannot be rendered: {e}") from None


@lru_cache(maxsize=2048)
def _compiled(source: str, quoted: bool) -> tuple[Template, frozenset[str]]:
    """A sweep renders the same strings once per cell: compile each once."""
    from jinja2 import meta

    env = template_env(quoted)
    ast = env.parse(source)
    return env.from_string(ast), frozenset(meta.find_undeclared_variables(ast))


def _path(path: str) -> str:
    if not path.strip() or "\x00" in path or "\n" in path:
        raise UsageError("`script_path` needs a path on the cluster, e.g. ~/train.sh")
    return path


def _job_model(values: Mapping[str, Any], name: str) -> Job:
    """The rendered job as `submit` would build it, with `submit`'s messages."""
    environment = {k: values[k] for k in ("conda", "venv", "container") if k in values}
    resources = {k: values[k] for k in RESOURCE_KEYS if k in values}
    for key, whole in _WHOLE.items():
        if key in resources:
            try:
                resources[key] = whole(str(resources[key]))
            except ValueError as e:
                raise UsageError(str(e)) from None
    data = {
        "name": name,
        "command": values["command"],
        "resources": resources,
        "environment": {**environment, "env_vars": values.get("env", {})},
        **{k: values[k] for k in ("log_dir", "work_dir", "template") if k in values},
    }
    try:
        return Job.model_validate(data)
    except ValidationError as e:
        raise UsageError(first_error(e)) from None


def _filled(model: Job, job: JobSpec, fill: Fill | None) -> Job:
    if fill is None:
        return model
    given = frozenset(_GIVEN[k] for k in job.model_fields_set if k in _GIVEN)
    try:
        return fill(model, given)
    except ValidationError as e:
        raise UsageError(first_error(e)) from None


def _counted(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _resources_text(job: Job, written: set[str]) -> str:
    """What the YAML asks for, e.g. `partition gpu, 1 node, 2 GPUs/node, 4:00:00`."""
    res, env = job.resources, job.environment
    parts = [
        f"partition {res.partition}" if "partition" in written else "",
        _counted(res.nodes, "node") if "nodes" in written else "",
        f"{_counted(res.gpus_per_node, 'GPU')}/node" if "gpus_per_node" in written else "",
        f"{_counted(res.ntasks_per_node, 'task')}/node" if "ntasks_per_node" in written else "",
        f"{_counted(res.cpus_per_task, 'CPU')}/task" if "cpus_per_task" in written else "",
        f"{res.memory} memory" if res.memory else "",
        res.time_limit or "",
        f"on {res.nodelist}" if res.nodelist else "",
        f"conda {env.conda}" if env.conda else "",
        f"venv {env.venv}" if env.venv else "",
        f"container {env.container.image}" if env.container else "",
    ]
    return ", ".join(p for p in parts if p) or "defaults"
