"""A workflow as written in YAML (the seed's flat form and srunx's nested `resources:` /
`environment:` blocks), checked when it is loaded: every key known, every dependency a job
of the workflow, no cycle. Values may hold jinja (`{{ epochs }}`), so resources are only
checked for their shape here; plan.py validates them once rendered."""

from __future__ import annotations

import heapq
import re
import shlex
from collections.abc import Collection, Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, TypeVar, get_args

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from bot.core.flowruns import Dep, DepKind
from bot.core.grammar import _nearest
from bot.core.models import _NAME_RE, shown
from bot.errors import UsageError

if TYPE_CHECKING:  # jinja2 loads with the first workflow, not with every command
    from jinja2.sandbox import SandboxedEnvironment

MAX_FLOW_BYTES = 256 * 1024
MAX_RETRY = 10
MAX_RETRY_DELAY = 86400
RESERVED = "deps"  # the context name of the parents' exports
_DEP_KINDS: dict[str, DepKind] = {k: k for k in get_args(DepKind)}
# No `.` (RUN.JOB stays readable in squeue) and no `:` (afterok:NAME stays unambiguous).
_JOB_RE = re.compile(r"[\w+@-]{1,128}", re.ASCII)
_IDENT_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}", re.ASCII)
_DELAY_RE = re.compile(r"([0-9]{1,6})\s*([smhd]?)", re.ASCII)
_DELAY_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
_CLOSERS = {"{{": "}}", "{%": "%}", "{#": "#}"}
_TEMPLATE_MARKS = tuple(_CLOSERS)

# Keys as written -> the model's field; resources and environment may also be nested.
RESOURCE_KEYS = (
    "nodes", "gpus_per_node", "ntasks_per_node", "cpus_per_task", "memory", "time_limit",
    "partition", "nodelist",
)  # fmt: skip
ENVIRONMENT_KEYS = ("conda", "venv", "container", "env")
_ALIASES = {"memory_per_node": "memory", "env_vars": "env"}
_JOB_KEYS = (
    "name", "command", "script_path", "script_vars", "template", "depends_on", "retry",
    "retry_delay", "exports", "async", "log_dir", "work_dir",
)  # fmt: skip
_BLOCKS = {
    "resources": (*RESOURCE_KEYS, "memory_per_node"),
    "environment": (*ENVIRONMENT_KEYS, "env_vars"),
}
_FLAT_KEYS = (*_JOB_KEYS, *_BLOCKS, *_BLOCKS["resources"], *_BLOCKS["environment"])
_CONTAINER_KEYS = ("runtime", "image", "mounts", "workdir", "nv")
_TOP_KEYS = ("name", "description", "args", "sweep", "jobs")
_SWEEP_KEYS = ("matrix", "max_parallel", "fail_fast")
# A script_path job is the user's own script: its #SBATCH lines and setup stand.
_NOT_FOR_SCRIPTS = (*RESOURCE_KEYS, *ENVIRONMENT_KEYS, "log_dir", "work_dir", "template")


def as_text(value: object) -> str:
    """A YAML scalar as a string: `true`/`false` as a shell flag would spell them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _scalar(value: object) -> str:
    if isinstance(value, str | int | float):
        return as_text(value)
    raise ValueError("use a string, a number or true/false")


def _plain(value: object) -> object:
    """Numbers written unquoted (`memory: 1024`) read as text; anything else is left for
    the string check to refuse."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _number(value: object) -> object:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("use a whole number (or a {{ variable }})")
    return value


def _command(value: object) -> object:
    if isinstance(value, str):
        if not value.strip():
            raise ValueError("the command is empty")
        return value
    if isinstance(value, list):
        if not value:
            raise ValueError("the command is empty")
        if all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
            return [str(v) for v in value]
    raise ValueError("use a string or a list of strings")


def _container(value: object) -> object:
    return {"image": _plain(value)} if isinstance(value, str | int | float) else value


def _depends(value: object) -> list[Dep]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValueError("use a list of job names, e.g. [preprocess] or [afterany:train]")
    return [_dep(i) for i in items]


def _dep(item: str) -> Dep:
    kind, sep, on = item.strip().partition(":")
    if not sep:
        kind, on = "afterok", kind
    if kind not in _DEP_KINDS or not on:
        raise ValueError(
            f"`{shown(item)}`: use NAME, afterok:NAME, afterany:NAME, afternotok:NAME or after:NAME"
        )
    return Dep(kind=_DEP_KINDS[kind], on=on)


def _delay(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("use seconds or a duration like 30s, 5m, 1h")
    if isinstance(value, str):
        m = _DELAY_RE.fullmatch(value.strip())
        if not m:
            raise ValueError("use seconds or a duration like 30s, 5m, 1h")
        return int(m.group(1)) * _DELAY_UNITS[m.group(2)]
    return value


def _names(value: object) -> object:
    """Keys that a template reads as variables (`{{ KEY }}`, `{{ deps.JOB.KEY }}`)."""
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str) or not _IDENT_RE.fullmatch(key):
                raise ValueError(
                    f"`{shown(str(key))}` is not a name: use letters, digits and _, "
                    "starting with a letter"
                )
    return value


def _text_keys(value: object) -> object:
    return {as_text(k): v for k, v in value.items()} if isinstance(value, dict) else value


Scalar = Annotated[str, BeforeValidator(_scalar)]
Text = Annotated[str, BeforeValidator(_plain)]
Number = Annotated[int | str, BeforeValidator(_number)]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ContainerSpec(_Spec):
    runtime: Text = "pyxis"
    image: Text
    mounts: list[Text] = []
    workdir: Text | None = None
    nv: bool | None = None  # srunx's GPU passthrough switch: the runtimes here need none


class JobSpec(_Spec):
    """One job as written; every string may still hold jinja."""

    name: str
    command: Annotated[str | list[str] | None, BeforeValidator(_command)] = None
    script_path: Text | None = None
    script_vars: Annotated[dict[str, Scalar], BeforeValidator(_names)] = {}
    template: Text | None = None
    depends_on: Annotated[list[Dep], BeforeValidator(_depends)] = []
    retry: int = Field(default=0, ge=0, le=MAX_RETRY, strict=True)
    retry_delay: Annotated[int, BeforeValidator(_delay)] = Field(
        default=0, ge=0, le=MAX_RETRY_DELAY
    )
    exports: Annotated[dict[str, Scalar], BeforeValidator(_names)] = {}
    nodes: Number | None = None
    gpus_per_node: Number | None = None
    ntasks_per_node: Number | None = None
    cpus_per_task: Number | None = None
    memory: Text | None = None
    time_limit: Text | None = None
    partition: Text | None = None
    nodelist: Text | None = None
    conda: Text | None = None
    venv: Text | None = None
    container: Annotated[ContainerSpec | None, BeforeValidator(_container)] = None
    # Names checked once rendered, by the Job model, with `submit --env`'s message.
    env: Annotated[dict[str, Scalar], BeforeValidator(_text_keys)] = {}
    log_dir: Text | None = None
    work_dir: Text | None = None

    @property
    def parents(self) -> list[str]:
        return [d.on for d in self.depends_on]


class SweepSpec(_Spec):
    matrix: Annotated[dict[str, list[Scalar]], BeforeValidator(_names)] = {}
    max_parallel: int = Field(default=4, ge=1, strict=True)
    fail_fast: bool = Field(default=False, strict=True)


class WorkflowSpec(_Spec):
    name: str
    description: str = ""
    args: dict[str, str] = {}  # as strings, as `--arg` gives them
    sweep: SweepSpec | None = None
    jobs: list[JobSpec] = Field(min_length=1)

    @property
    def names(self) -> list[str]:
        return [j.name for j in self.jobs]

    def job(self, name: str) -> JobSpec:
        for j in self.jobs:
            if j.name == name:
                return j
        raise UsageError(f"no job `{shown(name)}` in the workflow; jobs: {', '.join(self.names)}")


def load_workflow(text: str) -> WorkflowSpec:
    """The workflow in `text`, or a UsageError naming the job and the field at fault."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_FLOW_BYTES:
        raise UsageError(
            f"the workflow is {(size + 1023) // 1024} KB; at most {MAX_FLOW_BYTES // 1024} KB"
        )
    raw = _parse_yaml(text)
    if not isinstance(raw, dict):
        raise UsageError("the workflow must be a YAML mapping with `name:` and `jobs:`")
    _known(raw, _TOP_KEYS, "")
    name = raw.get("name")
    if not isinstance(name, str | int) or isinstance(name, bool):
        raise UsageError("the workflow needs a `name:` (it names its jobs in squeue)")
    if not _NAME_RE.fullmatch(str(name)):
        raise UsageError(
            f"invalid workflow name `{shown(str(name))}`: use letters, digits and "
            ". _ - + : @ (max 128)"
        )
    jobs = _jobs(raw.get("jobs"))
    args = _args(raw.get("args") or {})
    sweep = raw.get("sweep")
    if sweep is not None:
        if not isinstance(sweep, dict):
            raise UsageError("`sweep:` must be a mapping with `matrix:` (and `max_parallel:`)")
        _known(sweep, _SWEEP_KEYS, "sweep: ")
        sweep = _validated(SweepSpec, sweep, "sweep: ")
        for axis in sweep.matrix:
            if axis == RESERVED:
                raise UsageError(f"sweep: `{RESERVED}` is reserved for `{{{{ deps.JOB.KEY }}}}`")
            if not sweep.matrix[axis]:
                raise UsageError(f"sweep: axis `{axis}` has no values")
    description = raw.get("description")
    spec = _validated(
        WorkflowSpec,
        {
            "name": str(name),
            "description": "" if description is None else as_text(description),
            "args": args,
            "sweep": sweep,
            "jobs": jobs,
        },
        "",
    )
    _check_graph(spec.jobs)
    return spec


def check_arg_name(key: str, what: str = "arg") -> None:
    """An arg (YAML, `--arg`, `--sweep`) is a jinja variable: a plain name, not `deps`."""
    if not _IDENT_RE.fullmatch(key):
        raise UsageError(
            f"invalid {what} name `{shown(key)}`: use letters, digits and _, starting with a letter"
        )
    if key == RESERVED:
        raise UsageError(f"{what} `{RESERVED}` is reserved for `{{{{ deps.JOB.KEY }}}}`")


def _args(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise UsageError("`args:` must be a mapping of names to values")
    args: dict[str, str] = {}
    for key, value in raw.items():
        if not isinstance(key, str):
            raise UsageError(
                f"arg `{as_text(key)}`: the name is not text (YAML reads on, off, yes, no and "
                "numbers as values); quote it"
            )
        check_arg_name(key)
        if isinstance(value, str) and value.lstrip().lower().startswith("python:"):
            raise UsageError(
                f"arg `{key}`: `python:` args are not supported: the bot would run chat "
                f"users' code on its own host; compute the value and pass it with "
                f"--arg {key}=VALUE"
            )
        try:
            args[key] = _scalar(value)
        except ValueError as e:
            raise UsageError(f"arg `{key}`: {e}") from None
    return args


def _jobs(raw: object) -> list[JobSpec]:
    if not isinstance(raw, list) or not raw:
        raise UsageError("the workflow has no jobs: add a `jobs:` list of `- name: ...` entries")
    jobs: list[JobSpec] = []
    seen: set[str] = set()
    for i, item in enumerate(raw, 1):
        if not isinstance(item, dict):
            raise UsageError(f"job #{i} is not a mapping: write it as `- name: ...`")
        name = item.get("name")
        if name is None:
            raise UsageError(f"job #{i} has no `name`")
        name = as_text(name)
        if not _JOB_RE.fullmatch(name):
            raise UsageError(
                f"invalid job name `{shown(name)}`: use letters, digits and _ - + @ "
                "(no `.` or `:`), at most 128"
            )
        if name in seen:
            raise UsageError(f"duplicate job name `{name}`")
        seen.add(name)
        jobs.append(_job(name, item))
    return jobs


def _job(name: str, raw: dict[Any, Any]) -> JobSpec:
    where = f"job `{name}`: "
    fields = _flatten(raw, where)
    fields["name"] = name
    fields.pop("async", None)  # every job is asynchronous here: Slurm runs the DAG
    job = _validated(JobSpec, fields, where)
    if (job.command is None) == (job.script_path is None):
        both = job.command is not None
        raise UsageError(
            f"{where}give `command` or `script_path`, not both"
            if both
            else f"{where}give a `command` (or a `script_path` on the cluster)"
        )
    if job.script_path is not None:
        extra = next((k for k in _NOT_FOR_SCRIPTS if k in job.model_fields_set), None)
        if extra is not None:
            raise UsageError(
                f"{where}a script_path job takes its resources from its own #SBATCH lines "
                f"and sets up its own environment; drop `{extra}`"
            )
    elif job.script_vars:
        raise UsageError(f"{where}`script_vars` is for a `script_path` job; a command uses args")
    _check_templates(job, where)
    return job


def _flatten(raw: dict[Any, Any], where: str) -> dict[str, Any]:
    """The job's keys with `resources:` and `environment:` folded in and aliases resolved;
    the same setting given twice is refused rather than one silently winning."""
    fields: dict[str, Any] = {}
    written: dict[str, str] = {}

    def put(key: str, value: Any, label: str) -> None:
        field = _ALIASES.get(key, key)
        if field in fields:
            raise UsageError(
                f"{where}`{field}` is set twice (`{written[field]}` and `{label}`); keep one"
            )
        fields[field], written[field] = value, label

    _known(raw, _FLAT_KEYS, where)
    for key, value in raw.items():
        if key not in _BLOCKS:
            put(key, value, key)
    for block, allowed in _BLOCKS.items():
        inner = raw.get(block)
        if inner is None:
            continue
        if not isinstance(inner, dict):
            raise UsageError(f"{where}`{block}:` must be a mapping")
        _known(inner, allowed, where, block)
        for key, value in inner.items():
            put(key, value, f"{block}.{key}")
    container = fields.get("container")
    if isinstance(container, dict):
        _known(container, _CONTAINER_KEYS, where, "container")
    return fields


def _known(raw: Mapping[Any, Any], allowed: Collection[str], where: str, block: str = "") -> None:
    for key in raw:
        if key in allowed:
            continue
        key = str(key)
        under = f" under `{block}:`" if block else ""
        home = _home(key)
        if home is not None and block in _BLOCKS and home != block:
            place = "on the job" if home == "job" else f"on the job or under `{home}:`"
            raise UsageError(f"{where}`{key}` does not go{under}; put it {place}")
        near = _nearest(key, list(allowed))
        hint = f" (did you mean `{near}`?)" if near else ""
        raise UsageError(f"{where}unknown key `{shown(key)}`{under}{hint}")


def _home(key: str) -> str | None:
    for block, keys in _BLOCKS.items():
        if key in keys:
            return block
    return "job" if key in _JOB_KEYS else None


_M = TypeVar("_M", bound=BaseModel)


def _validated(model: type[_M], data: dict[str, Any], where: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as err:
        e = err.errors()[0]
        msg = str(e["msg"]).removeprefix("Value error, ")
        loc = ".".join(str(p) for p in e["loc"])
        raise UsageError(f"{where}`{loc}`: {msg}" if loc else f"{where}{msg}") from None


def _check_templates(job: JobSpec, where: str) -> None:
    """Jinja syntax is checked at load; undefined variables only once the args are known."""
    from jinja2 import TemplateSyntaxError

    for label, source in template_strings(job):
        try:
            template_env().parse(source)
        except TemplateSyntaxError as e:
            raise UsageError(f"{where}{syntax_error(label, e)}") from None
    if isinstance(job.command, str) and _inside_quotes(job.command):
        raise UsageError(
            f"{where}`command`: write `{{{{ ... }}}}` without quotes around it: the bot "
            "shell-quotes every value it puts in"
        )


def _inside_quotes(line: str) -> bool:
    """Whether a `{{ }}` of the shell line sits inside '...' or "...": its quoted value
    would then close the user's quotes instead of staying one word."""
    quote, i = "", 0
    while i < len(line):
        if line.startswith(_TEMPLATE_MARKS, i):
            if line.startswith("{{", i) and quote:
                return True
            end = line.find(_CLOSERS[line[i : i + 2]], i + 2)
            i = len(line) if end < 0 else end + 2
            continue
        ch = line[i]
        if ch == "\\" and quote != "'":
            i += 2
            continue
        if ch in "'\"" and quote in ("", ch):
            quote = "" if quote else ch
        i += 1
    return False


def syntax_error(label: str, e: Exception) -> str:
    lineno = getattr(e, "lineno", None)
    line = f" (line {lineno})" if lineno and lineno > 1 else ""
    return (
        f"`{label}` is not a valid template{line}: {getattr(e, 'message', e)}; put a literal "
        "`{{`, `{%` or `{#` inside {% raw %}...{% endraw %}"
    )


def template_strings(job: JobSpec) -> Iterator[tuple[str, str]]:
    """Every string of the job that jinja renders, with its field as the user wrote it."""
    data = job.model_dump(exclude={"name", "depends_on", "retry", "retry_delay"})

    def walk(value: object, label: str) -> Iterator[tuple[str, str]]:
        if isinstance(value, str):
            if is_template(value):
                yield label, value
        elif isinstance(value, dict):
            for k, v in value.items():
                yield from walk(v, f"{label}.{k}")
        elif isinstance(value, list):
            for v in value:
                yield from walk(v, label)

    for key, value in data.items():
        yield from walk(value, key)


def is_template(value: str) -> bool:
    return any(mark in value for mark in _TEMPLATE_MARKS)


@cache
def template_env(quoted: bool = False) -> SandboxedEnvironment:
    """The sandbox job scripts render in (bot.core.script), for the workflow's own strings.
    `quoted`: every `{{ }}` output is shell-quoted, for a command line."""
    from jinja2 import StrictUndefined
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(
        autoescape=False,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        finalize=(lambda v: shlex.quote(as_text(v))) if quoted else None,
    )


def _check_graph(jobs: list[JobSpec]) -> None:
    names = [j.name for j in jobs]
    for job in jobs:
        seen: set[str] = set()
        for parent in job.parents:
            if parent == job.name:
                raise UsageError(f"job `{job.name}` depends on itself")
            if parent not in names:
                near = _nearest(parent, names)
                hint = f"did you mean `{near}`? " if near else ""
                raise UsageError(
                    f"job `{job.name}` depends on `{shown(parent)}`, which is not a job here; "
                    f"{hint}jobs: {', '.join(names)}"
                )
            if parent in seen:
                raise UsageError(f"job `{job.name}` depends on `{parent}` twice")
            seen.add(parent)
    _, stuck = _kahn(jobs)
    if stuck:
        cycle = " -> ".join(_cycle(jobs, stuck))
        raise UsageError(f"the jobs depend on each other in a cycle: {cycle}")


def _kahn(jobs: list[JobSpec]) -> tuple[list[str], list[str]]:
    """Topological order, YAML order among the jobs ready at once; and the jobs a cycle
    holds back (in YAML order)."""
    index = {j.name: i for i, j in enumerate(jobs)}
    waiting = {j.name: len(j.parents) for j in jobs}
    children: dict[str, list[str]] = {j.name: [] for j in jobs}
    for j in jobs:
        for p in j.parents:
            children[p].append(j.name)
    ready = [index[n] for n, w in waiting.items() if w == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = jobs[heapq.heappop(ready)].name
        order.append(name)
        for child in children[name]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, index[child])
    done = set(order)
    return order, [j.name for j in jobs if j.name not in done]


def _cycle(jobs: list[JobSpec], stuck: list[str]) -> list[str]:
    """One cycle among the held-back jobs, parent first: every held-back job has a held-back
    parent, so walking up parents from any of them must come back round."""
    parents = {j.name: [p for p in j.parents if p in stuck] for j in jobs if j.name in stuck}
    path, at = [stuck[0]], stuck[0]
    while True:
        at = parents[at][0]
        if at in path:
            loop = path[path.index(at) :][::-1]  # parent first
            first = min(range(len(loop)), key=lambda i: stuck.index(loop[i]))
            loop = loop[first:] + loop[:first]  # from its job written first
            return [*loop, loop[0]]
        path.append(at)


def topological(spec: WorkflowSpec, keep: Collection[str] | None = None) -> list[str]:
    """The jobs parents first, YAML order among jobs ready at once (only `keep`'s, if given)."""
    order, _ = _kahn(spec.jobs)
    return order if keep is None else [n for n in order if n in keep]


def levels(spec: WorkflowSpec, keep: Collection[str] | None = None) -> dict[str, int]:
    """Each job's longest chain of parents (0: starts at once), within `keep` if given."""
    level: dict[str, int] = {}
    for name in topological(spec, keep):
        parents = [p for p in spec.job(name).parents if p in level]
        level[name] = max((level[p] + 1 for p in parents), default=0)
    return level


def _parse_yaml(text: str) -> object:
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506  # a SafeLoader subclass
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = f" (line {mark.line + 1})" if mark else ""
        raise UsageError(f"the workflow is not valid YAML{line}: {e.problem or e}") from None
    except yaml.YAMLError as e:
        raise UsageError(f"the workflow is not valid YAML: {e}") from None


class _Loader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (YAML keeps the last one,
    silently) and reads `4:00:00` as the time it is, not YAML 1.1's base-60 number."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[object] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may be overridden
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                twice = key in seen
            except TypeError:  # unhashable: SafeLoader says so below
                continue
            if twice:
                raise yaml.constructor.ConstructorError(
                    None, None, f"`{shown(str(key))}` is given twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_sexagesimal(self, node: yaml.ScalarNode) -> object:
        value = self.construct_scalar(node)
        if ":" in value:
            return value
        if node.tag.endswith(":int"):
            return self.construct_yaml_int(node)
        return self.construct_yaml_float(node)


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_sexagesimal)
_Loader.add_constructor("tag:yaml.org,2002:float", _Loader.construct_sexagesimal)
