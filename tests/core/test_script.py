"""Job scripts: directives stay safe, shell values stay quoted, the user command stays last."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest

from bot.core.grammar import parse
from bot.core.models import ContainerResource, Job, JobEnvironment, JobResource
from bot.core.script import ScriptRenderer
from bot.errors import ConfigError, UsageError

MARKER = ": srunx-bot job script: directives end here"
SAFE_DIRECTIVE = re.compile(r"^#SBATCH --[a-z-]+=[\w.,:+@/%\[\]-]+$")

# Each would touch ~/pwned if it ever reached the shell unquoted.
HOSTILE_VALUES = {
    "SUBST": "$(touch ~/pwned)",
    "BACKTICK": "`touch ~/pwned`",
    "SQUOTE": "'; touch ~/pwned; '",
    "DQUOTE": '"; touch ~/pwned; "',
    "SEMI": "x; touch ~/pwned",
    "AMP": "x && touch ~/pwned || touch ~/pwned",
    "PIPE": "x | touch ~/pwned",
    "REDIR": "> ~/pwned",
    "VAR": "$HOME ${HOME} $((1+1))",
    "BACKSLASH": "a\\'b\\",
    "TAB": "a\tb",
    "EMPTY": "",
    "GLOB": "* ~",
}


@pytest.fixture(scope="module")
def renderer() -> ScriptRenderer:
    return ScriptRenderer()


def _job(text: str) -> Job:
    cmd = parse(text)
    assert cmd.kind == "submit"
    return cmd.job


def _header(script: str) -> list[str]:
    lines = script.splitlines()
    return lines[: lines.index(MARKER)]


def _sbatch_directives(script: str) -> list[str]:
    """The `#SBATCH` lines sbatch would honour: those before the first command line."""
    found = []
    for line in script.splitlines()[1:]:
        if not line.strip():
            continue
        if not line.startswith("#"):
            break
        if line.startswith("#SBATCH"):
            found.append(line)
    return found


def _hostile_job(template: str = "advanced") -> Job:
    return Job(
        name="evil",
        command="echo done",
        resources=JobResource(partition="gpu", memory="1G", time_limit="1-12:30"),
        environment=JobEnvironment(env_vars=HOSTILE_VALUES),
        template=template,
    )


# ---------------------------------------------------------------- rendering
def test_builtin_templates(renderer: ScriptRenderer) -> None:
    assert renderer.names == ["advanced", "base"]


def test_render_advanced(renderer: ScriptRenderer) -> None:
    job = _job(
        "submit -J train -N 2 --gpus-per-node 4 --ntasks-per-node 2 -c 8 --mem 32G -t 2:00:00 "
        "-p gpu -w node[1-2] --conda ml --env A=1 -- python train.py"
    )
    script = renderer.render(job)
    assert script.startswith("#!/bin/bash\n")
    assert script.endswith("\n")
    assert _header(script)[1:] == [
        "#SBATCH --job-name=train",
        "#SBATCH --nodes=2",
        "#SBATCH --ntasks-per-node=2",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --partition=gpu",
        "#SBATCH --gpus-per-node=4",
        "#SBATCH --mem=32G",
        "#SBATCH --time=2:00:00",
        "#SBATCH --nodelist=node[1-2]",
    ]
    body = script.split(MARKER + "\n", 1)[1]
    assert body == (
        'export A=1\neval "$(conda shell.bash hook)" && conda activate ml\npython train.py\n'
    )


def test_render_advanced_dirs(renderer: ScriptRenderer) -> None:
    job = Job(command="true", log_dir="/home/alice/logs", work_dir="/home/alice/run")
    header = _header(renderer.render(job))
    assert "#SBATCH --chdir=/home/alice/run" in header
    assert "#SBATCH --output=/home/alice/logs/%x_%j.out" in header
    assert "#SBATCH --error=/home/alice/logs/%x_%j.err" in header


def test_render_base(renderer: ScriptRenderer) -> None:
    job = _job("submit --template base -p cpu --mem 1G -t 30 --venv /home/a/venv -- make all")
    script = renderer.render(job)
    assert _header(script)[1:] == [
        "#SBATCH --job-name=job",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks-per-node=1",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --partition=cpu",
        "#SBATCH --mem=1G",
        "#SBATCH --time=30",
    ]
    assert script.split(MARKER + "\n", 1)[1] == "source /home/a/venv/bin/activate\nmake all\n"


def test_minimal_script(renderer: ScriptRenderer) -> None:
    script = renderer.render(Job(command="hostname"))
    assert "--partition" not in script
    assert "--gpus-per-node" not in script
    assert script.splitlines()[-2:] == [MARKER, "hostname"]


@pytest.mark.parametrize("template", ["advanced", "base"])
def test_rendered_scripts_pass_bash_syntax_check(
    renderer: ScriptRenderer, tmp_path: Path, template: str
) -> None:
    path = tmp_path / "job.sh"
    path.write_text(renderer.render(_hostile_job(template)), encoding="utf-8")
    done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


# ---------------------------------------------------------------- injection
@pytest.mark.parametrize("template", ["advanced", "base"])
def test_env_values_are_single_quoted_and_inert(
    renderer: ScriptRenderer, tmp_path: Path, template: str
) -> None:
    script = renderer.render(_hostile_job(template))
    exports = [line for line in script.splitlines() if line.startswith("export ")]
    assert len(exports) == len(HOSTILE_VALUES)
    for line in exports:
        key, _, value = line.removeprefix("export ").partition("=")
        assert key in HOSTILE_VALUES
        assert shlex.split(value) == [HOSTILE_VALUES[key]]
        if not re.fullmatch(r"[\w@%+=:,./-]+", HOSTILE_VALUES[key]):
            assert value.startswith("'")  # anything shell-significant is single-quoted

    home = tmp_path / "home"
    home.mkdir()
    printers = [f"printf '%s\\0' \"${key}\"" for key in HOSTILE_VALUES]
    probe = "\n".join([*exports, *printers])
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-c", probe],
        capture_output=True,
        env={"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    values = done.stdout.decode().split("\0")[:-1]
    assert dict(zip(HOSTILE_VALUES, values, strict=True)) == HOSTILE_VALUES
    assert not (home / "pwned").exists()
    assert not (tmp_path / "pwned").exists()
    assert list(home.iterdir()) == []


def test_sbatch_lines_hold_only_safe_characters(renderer: ScriptRenderer) -> None:
    job = _job(
        "submit -J a.b+c:d@e -N 2 --gpus-per-node 1 --mem 2G -t 1-12:30:15 -p gpu_a-1 "
        "-w node[1-3],node7 --env 'A=$(touch ~/pwned)' --env 'B=x\t#SBATCH --uid=0' "
        "-- echo hi\n#SBATCH --uid=0"
    )
    script = renderer.render(job)
    header = _header(script)
    assert header[0] == "#!/bin/bash"
    assert len(header) == 10
    for line in header[1:]:
        assert SAFE_DIRECTIVE.match(line), line
    assert _sbatch_directives(script) == header[1:]


def test_sbatch_line_inside_the_command_is_not_a_directive(renderer: ScriptRenderer) -> None:
    command = "#SBATCH --uid=0\n#SBATCH --partition=admin\necho hi"
    for template in ("advanced", "base"):
        script = renderer.render(Job(command=command, template=template))
        lines = script.splitlines()
        assert lines.index(MARKER) < lines.index("#SBATCH --uid=0")
        assert script.endswith(MARKER + "\n" + command + "\n")
        directives = _sbatch_directives(script)
        assert all("--uid" not in d and "admin" not in d for d in directives)
        assert directives == _header(script)[1:]


def test_user_text_is_never_template_source(renderer: ScriptRenderer) -> None:
    command = "echo {{ 7 * 7 }} {% raw %} {# x #} ${HOME}"
    job = Job(command=command, environment=JobEnvironment(env_vars={"T": "{{ job.name }}"}))
    script = renderer.render(job)
    assert script.endswith("\n" + command + "\n")
    assert "export T='{{ job.name }}'" in script
    assert "49" not in script


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "x y"),
        ("name", "$(touch ~/pwned)"),
        ("name", "x\n#SBATCH --uid=0"),
        ("partition", "'; rm -rf ~; '"),
        ("partition", "gpu\n#SBATCH --uid=0"),
        ("memory", "1G --uid=0"),
        ("time_limit", "10\n#SBATCH --uid=0"),
        ("nodelist", "node1 --uid=0"),
        ("log_dir", "/tmp/$(id)"),
        ("work_dir", '"/tmp"'),
    ],
)
def test_directive_filter_refuses_unsafe_values_when_the_model_is_bypassed(
    renderer: ScriptRenderer, field: str, value: str
) -> None:
    resources = JobResource.model_construct()
    job = Job.model_construct(command="true", resources=resources)
    if field in {"name", "log_dir", "work_dir"}:
        setattr(job, field, value)
    else:
        setattr(resources, field, value)
    with pytest.raises(UsageError, match="cannot go into an #SBATCH line"):
        renderer.render(job)


@pytest.mark.parametrize("key", ["A;touch ~/pwned;B", "1A", "A B", "A=B"])
def test_envname_filter_refuses_bad_names_when_the_model_is_bypassed(
    renderer: ScriptRenderer, key: str
) -> None:
    env = JobEnvironment.model_construct(env_vars={key: "1"})
    job = Job.model_construct(command="true", environment=env)
    with pytest.raises(UsageError, match="is not a valid environment variable name"):
        renderer.render(job)


@pytest.mark.parametrize("where", ["partition", "env-name"])
def test_filters_refuse_a_trailing_newline(renderer: ScriptRenderer, where: str) -> None:
    if where == "partition":
        job = Job.model_construct(
            command="true", resources=JobResource.model_construct(partition="gpu\n")
        )
    else:
        job = Job.model_construct(
            command="true", environment=JobEnvironment.model_construct(env_vars={"A\n": "1"})
        )
    with pytest.raises(UsageError):
        renderer.render(job)


def test_trailing_newline_never_splits_a_directive(renderer: ScriptRenderer) -> None:
    try:
        script = renderer.render(Job(command="true", log_dir="logs\n"))
    except (ValueError, UsageError):
        return  # refused: fine
    assert _sbatch_directives(script) == _header(script)[1:]
    assert all(SAFE_DIRECTIVE.match(line) for line in _header(script)[1:])


# ---------------------------------------------------------------- templates
def test_unknown_template_lists_templates(renderer: ScriptRenderer) -> None:
    with pytest.raises(UsageError, match=r"unknown template `nope`; templates: advanced, base"):
        renderer.render(Job(command="true", template="nope"))


@pytest.mark.parametrize(
    ("text", "option"),
    [
        ("submit --template base --container img -- true", "--container"),
        ("submit --template base -w node1 -- true", "--nodelist"),
    ],
)
def test_base_template_refuses_what_it_cannot_honour(
    renderer: ScriptRenderer, text: str, option: str
) -> None:
    with pytest.raises(UsageError) as info:
        renderer.render(_job(text))
    assert str(info.value) == f"this template does not support {option}; use --template advanced"


def test_base_template_refuses_dirs(renderer: ScriptRenderer) -> None:
    with pytest.raises(UsageError, match="does not support log and work dirs"):
        renderer.render(Job(command="true", template="base", log_dir="logs"))


def test_extra_template(tmp_path: Path) -> None:
    path = tmp_path / "mine.slurm.jinja"
    path.write_text(
        "#!/bin/bash\n#SBATCH --job-name={{ job.name | directive }}\n"
        ": srunx-bot job script: directives end here\n{{ job.command }}",
        encoding="utf-8",
    )
    renderer = ScriptRenderer(extra={"mine": path})
    assert renderer.names == ["advanced", "base", "mine"]
    script = renderer.render(Job(name="x", command="echo hi", template="mine"))
    assert script == f"#!/bin/bash\n#SBATCH --job-name=x\n{MARKER}\necho hi\n"


@pytest.mark.parametrize("content", [None, "{% if %}"])
def test_broken_extra_template_is_a_config_error(tmp_path: Path, content: str | None) -> None:
    path = tmp_path / "broken.slurm.jinja"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    renderer = ScriptRenderer(extra={"broken": path})
    with pytest.raises(ConfigError, match="template `broken`"):
        renderer.render(Job(command="true", template="broken"))


# ---------------------------------------------------------------- containers
COMMAND = "python train.py --name 'my run' \"$HOME\" | tee log; echo $((1+1))"


def _container_job(runtime: str, mounts: list[str], workdir: str | None) -> Job:
    container = ContainerResource(
        runtime=runtime,
        image="nvcr.io/nvidia/pytorch:24.01-py3",
        mounts=mounts,
        workdir=workdir,
    )
    return Job(command=COMMAND, environment=JobEnvironment(container=container))


def test_pyxis_line(renderer: ScriptRenderer) -> None:
    job = _container_job("pyxis", ["/data:/data", "/my dir:/w"], "/w")
    last = renderer.render(job).splitlines()[-1]
    assert shlex.split(last) == [
        "srun",
        "--container-image=nvcr.io/nvidia/pytorch:24.01-py3",
        "--container-mounts=/data:/data,/my dir:/w",
        "--container-workdir=/w",
        "bash",
        "-c",
        COMMAND,
    ]
    assert last.endswith(" bash -c " + shlex.quote(COMMAND))


@pytest.mark.parametrize("runtime", ["apptainer", "singularity"])
def test_apptainer_line(renderer: ScriptRenderer, runtime: str) -> None:
    job = _container_job(runtime, ["/data:/data", "/my dir:/w"], "/w")
    last = renderer.render(job).splitlines()[-1]
    assert shlex.split(last) == [
        runtime,
        "exec",
        "--bind",
        "/data:/data",
        "--bind",
        "/my dir:/w",
        "--pwd",
        "/w",
        "nvcr.io/nvidia/pytorch:24.01-py3",
        "bash",
        "-c",
        COMMAND,
    ]
    assert last.endswith(" bash -c " + shlex.quote(COMMAND))


@pytest.mark.parametrize("runtime", ["pyxis", "apptainer"])
def test_container_script_passes_bash_syntax_check(
    renderer: ScriptRenderer, tmp_path: Path, runtime: str
) -> None:
    path = tmp_path / "job.sh"
    path.write_text(renderer.render(_container_job(runtime, [], None)), encoding="utf-8")
    done = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert COMMAND not in path.read_text(encoding="utf-8").splitlines()  # never bare


# ---------------------------------------------------------------- the user's own scripts
def test_a_user_script_gets_its_vars_as_plain_text() -> None:
    out = ScriptRenderer().render_user_script(
        "#SBATCH -p cpu\necho '{{ v }}' {{ n }}", {"v": "$(touch /tmp/x); `id`", "n": "3"}
    )
    assert out == "#SBATCH -p cpu\necho '$(touch /tmp/x); `id`' 3\n"


def test_a_user_script_names_every_variable_without_a_var() -> None:
    with pytest.raises(UsageError, match="the script uses `a`, `b`, which have no --var"):
        ScriptRenderer().render_user_script("{{ b }} {{ a }} {{ c }}", {"c": "1"})


def test_a_user_script_that_is_not_a_template_says_how_to_keep_it_literal() -> None:
    with pytest.raises(UsageError, match=r"not a valid template \(line 2\).*raw"):
        ScriptRenderer().render_user_script("#!/bin/bash\necho ${#arr[@]}\n", {})
    ok = ScriptRenderer().render_user_script("{% raw %}echo ${#arr[@]}{% endraw %}", {})
    assert ok == "echo ${#arr[@]}\n"


def test_a_user_script_stays_in_the_sandbox() -> None:
    with pytest.raises(UsageError, match="not a valid template"):
        ScriptRenderer().render_user_script("{{ ''.__class__.__mro__ }}", {})
