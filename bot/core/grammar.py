"""The one command grammar for `/srunx`, mentions, DMs and the console.

Built on shlex + argparse with sbatch's flag names. Every mistake becomes a UsageError with
one actionable line; argparse never prints or exits.
"""

from __future__ import annotations

import argparse
import difflib
import io
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import NoReturn

from pydantic import ValidationError

from bot.config import Defaults
from bot.core import commands as c
from bot.core.ids import ID_PATTERN
from bot.core.models import (
    ContainerResource,
    Job,
    JobEnvironment,
    JobResource,
    shown,
    validate_job_id,
    validate_memory,
    validate_time,
)
from bot.errors import UsageError

# What Slack's and phones' autocorrect makes of quotes, `--` and spaces in the bot's flags.
_SMART = {
    "\u201c": '"',
    "\u201d": '"',
    "\u2018": "'",
    "\u2019": "'",
    "\u00a0": " ",
    "\u2013": "--",
    "\u2014": "--",
}
# Every pattern is matched with fullmatch and ASCII: `$` lets a trailing newline through, and
# `\d` (like str.isdigit) takes digits such as '٣'.
_SINCE_RE = re.compile(r"([0-9]{1,9})([smhdw])", re.ASCII)
_SINCE_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?)?", re.ASCII)
_NUMBER_RE = re.compile(r"[0-9]{1,9}", re.ASCII)
_VAR_KEY_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*", re.ASCII)  # --var and --env keys
MAX_TAIL_LINES = 500


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(_friendly(self.prog, message, list(self._option_string_actions)))

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or f"see `help {self.prog}`")


def _friendly(prog: str, message: str, options: list[str] | None = None) -> str:
    usage = f"usage: `{COMMANDS[prog].usage}`"
    if message.startswith("unrecognized arguments:"):
        bad = message.split(":", 1)[1].split()[0]
        if bad.startswith("-"):
            near = _nearest(bad.split("=", 1)[0], options or [])
            hint = f"did you mean `{near}`?" if near else usage
            return f"unknown option `{bad}` for `{prog}`; {hint}"
        return f"unexpected `{bad}` for `{prog}`; {usage}"
    if message.startswith("the following arguments are required:"):
        what = message.split(":", 1)[1].strip()
        what = {"ID": "a job id"}.get(what, what)
        return f"`{prog}` needs {what}; {usage}"
    m = re.match(r"argument (\S+): (.*)", message)
    if m:
        flag, detail = m.group(1).split("/")[-1], m.group(2)
        other = re.match(r"not allowed with argument (\S+)", detail)
        if other:
            return f"`{flag}` and `{other.group(1).split('/')[-1]}` cannot be used together"
        if detail.startswith("expected one argument"):
            return f"`{flag}` needs a value; {usage}"
        if detail.startswith("invalid ") and not detail.startswith("invalid choice"):
            return detail
        return f"`{flag}`: {detail}"
    return f"{message}; {usage}"


def _typed(fn: Callable[[str], object]) -> Callable[[str], object]:
    """Turn a validator's ValueError into argparse's message, keeping our wording."""

    def inner(text: str) -> object:
        try:
            return fn(text)
        except ValueError as e:
            raise argparse.ArgumentTypeError(str(e)) from None

    inner.__name__ = fn.__name__
    return inner


def _whole(text: str, least: int) -> int:
    if not _NUMBER_RE.fullmatch(text) or int(text) < least:
        raise ValueError(f"invalid number `{shown(text)}`: use a whole number of {least} or more")
    return int(text)


def _positive(text: str) -> int:
    return _whole(text, 1)


def _count(text: str) -> int:
    return _whole(text, 0)


def _env_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"invalid --env `{shown(text)}`: use KEY=VALUE")
    return key, value


def _var_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not _VAR_KEY_RE.fullmatch(key):
        raise ValueError(f"invalid --var `{shown(text)}`: use KEY=VALUE, KEY a name like `epochs`")
    return key, value


def _flow_pair(flag: str, example: str) -> Callable[[str], tuple[str, str]]:
    def pair(text: str) -> tuple[str, str]:
        key, sep, value = text.partition("=")
        if not sep or not _VAR_KEY_RE.fullmatch(key):
            raise ValueError(f"invalid {flag} `{shown(text)}`: use KEY=VALUE, e.g. `{example}`")
        return key, value

    return pair


def _lines(text: str) -> int:
    n = _positive(text)
    if n > MAX_TAIL_LINES:
        raise ValueError(f"invalid line count `{text}`: at most {MAX_TAIL_LINES}")
    return n


REPORT_PARTS = ("resources", "jobs", "user", "running")
_EVERY_RE = re.compile(r"([0-9]+)([smhd])", re.ASCII)
_EVERY_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_EVERY_DAYS = 366
MAX_EVERY = MAX_EVERY_DAYS * 86400
CRON_HORIZON_YEARS = 5  # a crontab must fire within this long (29 February does)
MAX_CRONTAB = 100
_CHANNEL_RE = re.compile(r"<#([CG][A-Z0-9]+)(?:\|[^>]*)?>|([CG][A-Z0-9]{2,})", re.ASCII)
_WATCH_ID_RE = re.compile(rf"w(?:{ID_PATTERN})|[0-9]+(?:_[0-9]+)?", re.ASCII)
_REPORT_ID_RE = re.compile(rf"r(?:{ID_PATTERN})", re.ASCII)
_FLOW_ID_RE = re.compile(rf"f(?:{ID_PATTERN})", re.ASCII)


def _include(text: str) -> tuple[str, ...]:
    parts = tuple(dict.fromkeys(p.strip().lower() for p in text.split(",") if p.strip()))
    bad = [p for p in parts if p not in REPORT_PARTS]
    if bad or not parts:
        raise ValueError(
            f"invalid --include `{shown(text)}`: use a comma list of {', '.join(REPORT_PARTS)}"
        )
    return parts


def channel_id(text: str) -> str:
    """A channel link as Slack sends it (`<#C123|name>`) or a bare id (`C123`)."""
    m = _CHANNEL_RE.fullmatch(text)
    if m:
        return m.group(1) or m.group(2)
    raise ValueError(
        f"invalid --channel `{shown(text)}`: pick the channel with `#` so Slack sends its link, "
        "or give its id (C0123ABC)"
    )


def parse_every(text: str) -> tuple[int | None, str | None]:
    """`30m`, `1h`, `1d` -> (seconds, None); a crontab line -> (None, the line)."""
    m = _EVERY_RE.fullmatch(text.strip())
    if m:
        return _interval(text, m.group(1), m.group(2)), None
    line = " ".join(text.split())
    if len(line.split(" ")) != 5:
        raise ValueError(
            f"invalid schedule `{shown(text)}`: use an interval (30m, 1h, 1d) or a quoted "
            'crontab line with 5 fields, e.g. "0 9 * * 1-5"'
        )
    _check_crontab(line)
    return None, line


def _interval(text: str, digits: str, unit: str) -> int:
    # Checked by length first: int() of thousands of digits is an error of its own.
    seconds = int(digits) * _EVERY_SECONDS[unit] if len(digits) <= 9 else MAX_EVERY + 1
    if seconds < 1:
        raise ValueError(f"invalid interval `{shown(text)}`: use e.g. 30m, 1h or 1d")
    if seconds > MAX_EVERY:
        raise ValueError(f"invalid interval `{shown(text)}`: at most {MAX_EVERY_DAYS}d")
    return seconds


def _check_crontab(line: str) -> None:
    from bot.core.schedules import crontab_trigger  # APScheduler's own crontab parser

    if len(line) > MAX_CRONTAB:
        raise ValueError(f"invalid crontab: at most {MAX_CRONTAB} characters")
    bad = f"invalid crontab `{shown(line)}`"
    if not line.isascii():
        raise ValueError(f"{bad}: use the digits 0-9, `*`, `-`, `,`, `/` and day names")
    try:
        trigger = crontab_trigger(line, "UTC")
    except ValueError as e:
        raise ValueError(f"{bad}: {e}") from None
    now = datetime.now(UTC)
    # An end date stops APScheduler's search there, instead of at the year 9999.
    trigger.end_date = now + timedelta(days=366 * CRON_HORIZON_YEARS)
    if trigger.get_next_fire_time(None, now) is None:
        raise ValueError(
            f"{bad}: it never fires within {CRON_HORIZON_YEARS} years; check the day of the "
            "month against the month (there is no 31 February)"
        )


def since_to_slurm(text: str) -> str:
    """`1d`, `12h`, `2w` or a date -> a Slurm `-S` value."""
    m = _SINCE_RE.fullmatch(text)
    if m:
        return f"now-{m.group(1)}{_SINCE_UNITS[m.group(2)]}"
    if _DATE_RE.fullmatch(text):
        return text
    raise ValueError(f"invalid --since `{shown(text)}`: use e.g. 30m, 12h, 1d, 2w or 2026-11-01")


def _cluster_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--cluster", metavar="NAME", help="cluster to use (default: the first)")


def _new(prog: str) -> _Parser:
    return _Parser(prog=prog, add_help=False, allow_abbrev=False)


# ---------------------------------------------------------------- per-command parsers
def _submit_parser() -> _Parser:
    p = _new("submit")
    p.add_argument("-J", "--name", "--job-name", dest="name", default="job")
    p.add_argument("-N", "--nodes", type=_typed(_positive), default=1)
    p.add_argument("--gpus-per-node", type=_typed(_count), default=0)
    p.add_argument("--ntasks-per-node", type=_typed(_positive), default=1)
    p.add_argument("-c", "--cpus-per-task", type=_typed(_positive), default=1)
    p.add_argument("--mem", type=_typed(validate_memory))
    p.add_argument("-t", "--time", type=_typed(validate_time))
    p.add_argument("-p", "--partition")
    p.add_argument("-w", "--nodelist")
    env = p.add_mutually_exclusive_group()
    env.add_argument("--conda", metavar="ENV")
    env.add_argument("--venv", metavar="PATH")
    env.add_argument("--container", metavar="IMAGE")
    p.add_argument(
        "--container-runtime", choices=["pyxis", "apptainer", "singularity"], default="pyxis"
    )
    p.add_argument(
        "--env", type=_typed(_env_pair), action="append", default=[], metavar="KEY=VALUE"
    )
    p.add_argument("--template", metavar="NAME")
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--notify-channel", action="store_true")
    p.add_argument("--script", metavar="PATH")
    p.add_argument(
        "--var", type=_typed(_var_pair), action="append", default=[], metavar="KEY=VALUE"
    )
    _cluster_arg(p)
    return p


def _job_id_parser(prog: str) -> _Parser:
    p = _new(prog)
    p.add_argument("job_id", metavar="ID", type=_typed(validate_job_id))
    _cluster_arg(p)
    return p


def _tail_parser() -> _Parser:
    p = _job_id_parser("tail")
    p.add_argument("-n", "--lines", type=_typed(_lines), default=20)
    return p


def _list_parser() -> _Parser:
    p = _new("list")
    p.add_argument("--all", "-a", action="store_true")
    p.add_argument("--gpus", action="store_true")
    _cluster_arg(p)
    return p


def _resources_parser() -> _Parser:
    p = _new("resources")
    p.add_argument("-p", "--partition")
    _cluster_arg(p)
    return p


def _history_parser() -> _Parser:
    p = _new("history")
    p.add_argument("--since", default="1d")
    _cluster_arg(p)
    return p


def _plain_parser(prog: str) -> _Parser:
    p = _new(prog)
    _cluster_arg(p)
    return p


def _watch_parser() -> _Parser:
    p = _new("watch")
    p.add_argument("what", choices=["job", "mine", "gpus"])
    p.add_argument("target", metavar="ID|N", nargs="?")
    p.add_argument("-p", "--partition")
    p.add_argument("--continuous", action="store_true")
    _cluster_arg(p)
    return p


def _report_parser() -> _Parser:
    p = _new("report")
    p.add_argument("action", choices=["now", "every", "stop"])
    p.add_argument("spec", metavar="WHEN|ID", nargs="?")
    p.add_argument("-p", "--partition")
    p.add_argument("--include", type=_typed(_include), metavar="LIST")
    p.add_argument("--channel", type=_typed(channel_id), metavar="#CHANNEL")
    _cluster_arg(p)
    return p


def _use_parser() -> _Parser:
    p = _new("use")
    p.add_argument("name", metavar="CLUSTER")
    return p


def _defaults_parser() -> _Parser:
    p = _new("defaults")
    p.add_argument("action", nargs="?", choices=["set", "unset"])
    p.add_argument("keys", nargs="*", metavar="KEY")
    # SUPPRESS: the namespace holds only the flags typed (the keys `defaults set` changes).
    none = argparse.SUPPRESS
    p.add_argument("-p", "--partition", default=none)
    p.add_argument("-N", "--nodes", type=_typed(_positive), default=none)
    p.add_argument("--gpus-per-node", type=_typed(_count), default=none)
    p.add_argument("--ntasks-per-node", type=_typed(_positive), default=none)
    p.add_argument("-c", "--cpus-per-task", type=_typed(_positive), default=none)
    p.add_argument("--mem", dest="memory", type=_typed(validate_memory), default=none)
    p.add_argument("-t", "--time", dest="time_limit", type=_typed(validate_time), default=none)
    env = p.add_mutually_exclusive_group()
    env.add_argument("--conda", metavar="ENV", default=none)
    env.add_argument("--venv", metavar="PATH", default=none)
    env.add_argument("--container", metavar="IMAGE", default=none)
    p.add_argument(
        "--env", dest="env_vars", type=_typed(_env_pair), action="append", default=none,
        metavar="KEY=VALUE",
    )  # fmt: skip
    p.add_argument("--log-dir", metavar="PATH", default=none)
    p.add_argument("--work-dir", metavar="PATH", default=none)
    p.add_argument("--all", action="store_true")
    _cluster_arg(p)
    return p


def _defaults(ns: argparse.Namespace) -> c.Command:
    usage = f"usage: `{COMMANDS['defaults'].usage}`"
    action, keys, every, cluster = ns.action, ns.keys, ns.all, ns.cluster
    given = {k: v for k, v in vars(ns).items() if k not in ("action", "keys", "all", "cluster")}
    if action != "unset" and (keys or every):
        raise UsageError(f"`{shown((keys or ['--all'])[0])}` is for `defaults unset`; {usage}")
    if action is None:
        if given:
            raise UsageError(f"to change your defaults use `defaults set`; {usage}")
        return c.ShowDefaults(cluster=cluster)
    if action == "set":
        if not given:
            raise UsageError(f"`defaults set` needs a flag, e.g. `--conda ml`; {usage}")
        if "env_vars" in given:
            given["env_vars"] = dict(given["env_vars"])
        try:
            return c.SetDefaults(values=Defaults(**given), cluster=cluster)
        except ValidationError as e:
            raise UsageError(first_error(e)) from None
    if given:
        raise UsageError(f"`defaults unset` takes key names, not flags; {usage}")
    if every == bool(keys):
        raise UsageError(f"`defaults unset` takes KEY... or `--all`; {usage}")
    names = []
    for key in keys:
        name = _UNSET_ALIASES.get(key.lower(), key.lower().replace("-", "_"))
        if name not in Defaults.model_fields and not (
            name.startswith("env:") and _VAR_KEY_RE.fullmatch(key[4:])
        ):
            raise UsageError(
                f"unknown key `{shown(key)}`; keys: {', '.join(Defaults.model_fields)}, env:NAME"
            )
        names.append("env:" + key[4:] if name.startswith("env:") else name)  # NAME as typed
    return c.UnsetDefaults(keys=tuple(names), all=every, cluster=cluster)


_UNSET_ALIASES = {"mem": "memory", "time": "time_limit", "env": "env_vars"}


def _unwatch_parser() -> _Parser:
    p = _new("unwatch")
    p.add_argument("target", metavar="ID|mine")
    _cluster_arg(p)
    return p


def _config_parser() -> _Parser:
    p = _new("config")
    p.add_argument("action", choices=["show", "paths"])
    return p


def _templates_parser() -> _Parser:
    return _new("templates")


def _template_parser() -> _Parser:
    p = _new("template")
    p.add_argument("action", choices=["show"])
    p.add_argument("name", metavar="NAME")
    return p


def _flow_parser() -> _Parser:
    p = _new("flow")
    p.add_argument("action", choices=["run", "validate", "status", "cancel"])
    p.add_argument("target", nargs="?", metavar="SRC|RUN")
    arg, sweep = _flow_pair("--arg", "--arg lr=0.1"), _flow_pair("--sweep", "--sweep lr=0.1,0.01")
    p.add_argument("--arg", type=_typed(arg), action="append", default=[], metavar="K=V")
    p.add_argument("--sweep", type=_typed(sweep), action="append", default=[], metavar="K=a,b")
    p.add_argument("--from", dest="start", metavar="JOB")
    p.add_argument("--to", dest="stop", metavar="JOB")
    p.add_argument("--job", dest="only", metavar="JOB")
    p.add_argument("--dry-run", action="store_true")
    _cluster_arg(p)
    return p


def _flows_parser() -> _Parser:
    p = _new("flows")
    p.add_argument("--all", action="store_true")
    _cluster_arg(p)
    return p


def _help_parser() -> _Parser:
    p = _new("help")
    p.add_argument("topic", nargs="?")
    return p


@dataclass(frozen=True)
class Spec:
    usage: str
    summary: str
    parser: Callable[[], _Parser]


COMMANDS: dict[str, Spec] = {
    "submit": Spec(
        "submit [-J NAME] [-N NODES] [--gpus-per-node N] [--ntasks-per-node N] [-c CPUS] "
        "[--mem SIZE] [-t TIME] [-p PARTITION] [-w NODELIST] [--conda ENV|--venv PATH|"
        "--container IMAGE] [--env K=V]... [--template NAME] [--cluster NAME] [--dry-run] "
        "[--notify-channel] "
        "-- COMMAND...",
        "submit a job; everything after `--` runs inside the job (or an existing script: "
        "`--script PATH|- [--var K=V]...`)",
        _submit_parser,
    ),
    "status": Spec(
        "status ID [--cluster NAME]", "state of a job or array", lambda: _job_id_parser("status")
    ),
    "list": Spec(
        "list [--all] [--gpus] [--cluster NAME]", "your queued and running jobs", _list_parser
    ),
    "cancel": Spec(
        "cancel ID [--cluster NAME]", "cancel one of your jobs", lambda: _job_id_parser("cancel")
    ),
    "tail": Spec(
        "tail ID [-n LINES] [--cluster NAME]", "last lines of a job's output", _tail_parser
    ),
    "resources": Spec(
        "resources [-p PARTITION] [--cluster NAME]",
        "GPUs free/total per partition and node",
        _resources_parser,
    ),
    "history": Spec(
        "history [--since 1d] [--cluster NAME]",
        "your finished jobs with exit codes and usage",
        _history_parser,
    ),
    "clusters": Spec("clusters", "configured clusters", lambda: _plain_parser("clusters")),
    "watch": Spec(
        "watch job ID | watch mine | watch gpus N [-p PARTITION] [--continuous] [--cluster NAME]",
        "follow a job (or all your jobs) in its own thread, or wait for N free GPUs",
        _watch_parser,
    ),
    "watches": Spec("watches", "your watches, with their ids", lambda: _plain_parser("watches")),
    "unwatch": Spec("unwatch ID|mine", "stop a watch (a watch id or a job id)", _unwatch_parser),
    "report": Spec(
        'report now | report every 1h|30m|"0 9 * * 1-5" | report stop ID '
        "[-p PARTITION] [--include resources,jobs,user,running] [--channel #CHANNEL] "
        "[--cluster NAME]",
        "a cluster report now, or on a schedule into a channel",
        _report_parser,
    ),
    "reports": Spec(
        "reports", "scheduled reports, with their ids", lambda: _plain_parser("reports")
    ),
    "use": Spec("use CLUSTER", "make CLUSTER your default cluster", _use_parser),
    "defaults": Spec(
        "defaults [--cluster NAME] | defaults set [-p PARTITION] [-N NODES] "
        "[--gpus-per-node N] [--ntasks-per-node N] [-c CPUS] [--mem SIZE] [-t TIME] "
        "[--conda ENV|--venv PATH|--container IMAGE] [--env K=V]... [--log-dir PATH] "
        "[--work-dir PATH] [--cluster NAME] | defaults unset KEY...|--all [--cluster NAME]",
        "your job defaults and where each comes from; set or unset your own (per cluster)",
        _defaults_parser,
    ),
    "config": Spec(
        "config show|paths",
        "the bot's configuration, or where its config, state and templates live (admins only)",
        _config_parser,
    ),
    "templates": Spec("templates", "the job script templates, one line each", _templates_parser),
    "template": Spec("template show NAME", "a job script template's text", _template_parser),
    "flow": Spec(
        "flow validate SRC | flow run SRC [--arg K=V]... [--sweep K=a,b]... [--from JOB] "
        "[--to JOB] [--job JOB] [--dry-run] [--cluster NAME] | flow status RUN | "
        "flow cancel RUN  (SRC: a YAML path on the cluster, `-` with a ```fenced block```, "
        "or an attached .yaml file)",
        "check or run a workflow (YAML) on Slurm's own dependencies, one live thread per run",
        _flow_parser,
    ),
    "flows": Spec("flows [--all]", "your workflow runs, newest first", _flows_parser),
    "help": Spec("help [COMMAND]", "this help, or one command's", _help_parser),
}


@dataclass(frozen=True)
class Words:
    """A command line read as shell words up to a bare `--`.

    The words are read from `text`, the line with smart quotes, dashes and NBSP normalised
    (Slack's autocorrect); the command after `--` is cut from `raw`, the line as typed, so the
    job gets it exactly as written. `raw_at` maps each position in `text` to one in `raw`.
    """

    raw: str
    text: str
    raw_at: list[int]
    tokens: list[str]
    starts: list[int]  # where each token starts in `text`
    command: str | None = None  # the raw text after a bare `--`, if there is one
    unreadable: int | None = None  # where `text` stops being readable (an open quote)
    error: str = ""

    def raw_from(self, start: int) -> str:
        return self.raw[self.raw_at[start] :]


def _normalised(raw: str) -> tuple[str, list[int]]:
    parts: list[str] = []
    raw_at: list[int] = []
    for i, ch in enumerate(raw):
        part = _SMART.get(ch, ch)
        parts.append(part)
        raw_at += [i] * len(part)
    raw_at.append(len(raw))
    return "".join(parts), raw_at


def split_words(raw: str) -> Words:
    """Shell words up to a bare `--` (see Words); never raises."""
    text, raw_at = _normalised(raw)
    stream = io.StringIO(text)
    lexer = shlex.shlex(stream, posix=True, punctuation_chars=False)
    lexer.whitespace_split = True
    lexer.commenters = ""
    tokens: list[str] = []
    starts: list[int] = []
    words = Words(raw, text, raw_at, tokens, starts)  # the lists grow as the words are read
    while True:
        start = stream.tell()
        while start < len(text) and text[start] in lexer.whitespace:
            start += 1
        try:
            tok = lexer.get_token()
        except ValueError as e:  # "No closing quotation"
            return replace(words, unreadable=start, error=str(e.args[0]).lower())
        if tok is None or tok == lexer.eof:
            return words
        if tok == "--":
            return replace(words, command=words.raw_from(stream.tell()).strip())
        tokens.append(tok)
        starts.append(start)


def normalize(text: str) -> str:
    return _normalised(text)[0].strip()


def _nearest(word: str, choices: list[str]) -> str | None:
    """The valid word a typo most likely meant: a unique one it abbreviates (`--gpu` for
    `--gpus-per-node`), else the closest by spelling; None when nothing is close."""
    word = word.lower()
    prefixed = [w for w in choices if w.startswith(word)] if len(word) > 2 else []
    if len(prefixed) == 1:
        return prefixed[0]
    close = difflib.get_close_matches(word, choices, n=1)
    return close[0] if close else None


def parse(text: str, attached: c.AttachedScript | None = None) -> c.Command:
    first = text.split(maxsplit=1)[0].lower() if text.strip() else ""
    if first == "flow":  # its YAML may be attached or in a fenced block
        return _parse_flow(text, attached)
    if attached is not None:  # a script file attached to the message: only `submit` takes it
        return _parse_attached(text, attached)
    head, block = split_fence(text) if "```" in text else (text, None)
    if block is not None:  # `submit --script -` with its script in a fenced block
        words = split_words(head)
        if words.tokens and words.tokens[0].lower() == "submit" and not words.error:
            return _parse_submit(words, block)
    words = split_words(text)
    if not words.error and not words.tokens and words.command is None:
        return c.Help()
    head = words.tokens[0] if words.tokens else "--"
    name = head.lower()
    if (words.tokens or not words.error) and name not in COMMANDS:
        near = _nearest(name, list(COMMANDS))
        if near:
            raise UsageError(f"unknown command `{shown(head)}`; did you mean `{near}`?")
        raise UsageError(f"unknown command `{shown(head)}`; commands: {', '.join(COMMANDS)}")
    if words.error:
        raise UsageError(f"cannot read the command: {words.error}")
    if name == "submit":
        return _parse_submit(words)
    if words.command is not None:
        raise UsageError(f"`{name}` takes nothing after `--`; usage: `{COMMANDS[name].usage}`")
    ns = COMMANDS[name].parser().parse_args(words.tokens[1:])
    match name:
        case "status":
            return c.Status(job_id=ns.job_id, cluster=ns.cluster)
        case "cancel":
            return c.Cancel(job_id=ns.job_id, cluster=ns.cluster)
        case "tail":
            return c.Tail(job_id=ns.job_id, lines=ns.lines, cluster=ns.cluster)
        case "list":
            return c.ListJobs(all=ns.all, gpus=ns.gpus, cluster=ns.cluster)
        case "resources":
            return c.Resources(partition=ns.partition, cluster=ns.cluster)
        case "history":
            try:
                since = since_to_slurm(ns.since)
            except ValueError as e:
                raise UsageError(str(e)) from None
            return c.History(since=since, since_text=ns.since, cluster=ns.cluster)
        case "config":
            return c.ConfigPaths() if ns.action == "paths" else c.ConfigShow()
        case "templates":
            return c.ListTemplates()
        case "template":
            return c.ShowTemplate(name=ns.name)
        case "watch":
            return _watch(ns)
        case "report":
            return _report(ns)
        case "reports":
            return c.ListReports(cluster=ns.cluster)
        case "use":
            return c.UseCluster(name=ns.name)
        case "defaults":
            return _defaults(ns)
        case "watches":
            return c.ListWatches(cluster=ns.cluster)
        case "unwatch":
            target = ns.target.lower()
            if target != "mine" and not _WATCH_ID_RE.fullmatch(target):
                raise UsageError("`unwatch` takes a watch id (see `watches`), a job id or `mine`")
            return c.Unwatch(target=target, cluster=ns.cluster)
        case "clusters":
            return c.Clusters(cluster=ns.cluster)
        case "flows":
            return c.ListFlows(all=ns.all, cluster=ns.cluster)
        case _:
            topic = ns.topic.lower() if ns.topic else None
            if topic is not None and topic not in COMMANDS:
                raise UsageError(f"no help for `{ns.topic}`; commands: {', '.join(COMMANDS)}")
            return c.Help(topic=topic)


def _watch(ns: argparse.Namespace) -> c.Command:
    usage = f"usage: `{COMMANDS['watch'].usage}`"
    if ns.what != "gpus" and (ns.partition or ns.continuous):
        raise UsageError(f"`-p` and `--continuous` are for `watch gpus`; {usage}")
    if ns.what == "mine":
        if ns.target:
            raise UsageError("`watch mine` takes no job id; `watch job ID` follows one job")
        return c.WatchMine(cluster=ns.cluster)
    if ns.what == "gpus":
        if not ns.target:
            raise UsageError(f"`watch gpus` needs a number of GPUs, e.g. `watch gpus 4`; {usage}")
        try:
            n = _positive(ns.target)
        except ValueError as e:
            raise UsageError(str(e)) from None
        return c.WatchGpus(
            gpus=n, partition=ns.partition, continuous=ns.continuous, cluster=ns.cluster
        )
    if not ns.target:
        raise UsageError(f"`watch job` needs a job id; {usage}")
    try:
        job_id = validate_job_id(ns.target)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return c.WatchJob(job_id=job_id, cluster=ns.cluster)


def _report(ns: argparse.Namespace) -> c.Command:
    usage = f"usage: `{COMMANDS['report'].usage}`"
    opts = {
        "partition": ns.partition,
        "channel": ns.channel,
        "cluster": ns.cluster,
        **({"include": ns.include} if ns.include else {}),
    }
    if ns.action == "stop":
        if not ns.spec or not _REPORT_ID_RE.fullmatch(ns.spec.lower()):
            raise UsageError(
                "`report stop` takes a report id (see `reports`), e.g. `report stop r1a2b3c4d5e6f`"
            )
        return c.ReportStop(report_id=ns.spec.lower(), cluster=ns.cluster)
    if ns.action == "now":
        if ns.spec:
            raise UsageError(f"unexpected `{shown(ns.spec)}` after `report now`; {usage}")
        return c.ReportNow(**opts)
    if not ns.spec:
        raise UsageError(
            "`report every` needs a schedule: 30m, 1h, 1d or a quoted crontab line like "
            f'"0 9 * * 1-5"; {usage}'
        )
    try:
        interval, cron = parse_every(ns.spec)
    except ValueError as e:
        raise UsageError(str(e)) from None
    return c.ReportEvery(every=ns.spec, interval=interval, cron=cron, **opts)


def _value_flags(parser: argparse.ArgumentParser) -> frozenset[str]:
    """The flags that take a value (`-p gpu`), as against switches (`--dry-run`)."""
    return frozenset(s for a in parser._actions if a.nargs != 0 for s in a.option_strings)


_SUBMIT_VALUE_FLAGS = _value_flags(_submit_parser())


def _command_start(tokens: list[str]) -> int | None:
    """Where a command typed without `--` starts: the first word that is neither a flag nor a
    flag's value (`-p gpu`, not `--mem=1G` or `-pgpu`)."""
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("-") or tok == "-":
            return i
        i += 2 if tok in _SUBMIT_VALUE_FLAGS else 1
    return None


def _without_separator(words: Words) -> c.Command:
    """`submit` with no `--`: the form, or the command the user meant, with its `--`."""
    tokens = words.tokens[1:]
    at = _command_start(tokens)
    if at is None:
        if all(t == "--cluster" or not t.startswith("-") for t in tokens):
            # `submit` alone (or `submit --cluster NAME`): the submit form.
            ns = _plain_parser("submit").parse_args(tokens)
            return c.SubmitForm(cluster=ns.cluster)
        raise UsageError(
            "`submit` needs `--` before the command, e.g. `submit -p gpu -- python train.py`"
        )
    COMMANDS["submit"].parser().parse_args(tokens[:at])  # a bad flag is the first thing to fix
    # The flags as read (quoted again where needed), the command exactly as typed.
    flags = shlex.join(words.tokens[: at + 1])
    fixed = f"{flags} -- {words.raw_from(words.starts[at + 1]).strip()}"
    raise UsageError(f"`submit` needs `--` before the command: `{shown(fixed)}`")


def _parse_flow(text: str, attached: c.AttachedScript | None) -> c.Command:
    """`flow ...`: the YAML is a path on the cluster, a fenced block (`-`, or no SRC) or the
    attached file."""
    head, block = split_fence(text) if "```" in text else (text, None)
    words = split_words(head)
    if words.error:
        raise UsageError(f"cannot read the command: {words.error}")
    if words.command is not None:
        raise UsageError(f"`flow` takes nothing after `--`; usage: `{COMMANDS['flow'].usage}`")
    ns = COMMANDS["flow"].parser().parse_args(words.tokens[1:])
    if ns.action in ("status", "cancel"):
        if not ns.target or not _FLOW_ID_RE.fullmatch(ns.target.lower()):
            raise UsageError(f"`flow {ns.action}` takes a run id (see `flows`), e.g. f1a2b3c4d5e6f")
        if ns.action == "status":
            return c.FlowStatus(run_id=ns.target.lower(), cluster=ns.cluster)
        return c.FlowCancel(run_id=ns.target.lower(), cluster=ns.cluster)
    source = _flow_source(ns.target, block, attached)
    sweep = tuple((k, tuple(v.split(","))) for k, v in ns.sweep)
    if any(not all(x.strip() for x in values) for _, values in sweep):
        raise UsageError("`--sweep` takes values separated by commas, e.g. `--sweep lr=0.1,0.01`")
    opts = {"source": source, "args": tuple(ns.arg), "sweep": sweep, "cluster": ns.cluster}
    if ns.action == "validate":
        if ns.start or ns.stop or ns.only or ns.dry_run:
            raise UsageError("`--from`, `--to`, `--job` and `--dry-run` are for `flow run`")
        return c.FlowValidate(**opts)
    if ns.only and (ns.start or ns.stop):
        raise UsageError("`--job` runs one job alone: give it without `--from`/`--to`")
    return c.FlowRunCommand(start=ns.start, stop=ns.stop, only=ns.only, dry_run=ns.dry_run, **opts)


def _flow_source(
    target: str | None, block: str | None, attached: c.AttachedScript | None
) -> c.FlowSource:
    given = [s for s in (target not in (None, "-"), block is not None, attached is not None) if s]
    if len(given) > 1:
        raise UsageError("give the workflow once: a path, a ```fenced block``` or an attached file")
    if attached is not None:
        return c.FlowSource(text=attached.text, label=f"{attached.name} (attached)")
    if block is not None:
        if not block.strip():
            raise UsageError("the fenced block is empty")
        return c.FlowSource(text=block, label="fenced block")
    if target in (None, "-"):
        raise UsageError(
            "which workflow? give a YAML path on the cluster (`flow run ~/pipelines/train.yaml`), "
            "a ```fenced block```, or attach the .yaml file"
        )
    assert target is not None
    if "\x00" in target or "\n" in target:
        raise UsageError("the workflow path holds characters a path cannot have")
    return c.FlowSource(path=target, label=target)


def _parse_attached(text: str, attached: c.AttachedScript) -> c.Command:
    if "```" in text:
        raise UsageError("attach the script or put it in a fenced block, not both")
    words = split_words(text)
    if words.error:
        raise UsageError(f"cannot read the command: {words.error}")
    if not words.tokens or words.tokens[0].lower() != "submit":
        raise UsageError("an attached script goes with `submit [flags] [--var K=V]...`")
    return _parse_submit_script(words, None, attached)


def _parse_submit(words: Words, block: str | None = None) -> c.Command:
    command, tokens = words.command, words.tokens[1:]
    if block is not None or "--script" in tokens or any(t.startswith("--script=") for t in tokens):
        return _parse_submit_script(words, block)
    if command is None:
        return _without_separator(words)
    if not command:
        raise UsageError("nothing to run after `--`, e.g. `submit -p gpu -- python train.py`")
    ns = COMMANDS["submit"].parser().parse_args(tokens)
    try:
        container = (
            ContainerResource(image=ns.container, runtime=ns.container_runtime)
            if ns.container
            else None
        )
        job = Job(
            name=ns.name,
            command=command,
            resources=JobResource(
                nodes=ns.nodes,
                gpus_per_node=ns.gpus_per_node,
                ntasks_per_node=ns.ntasks_per_node,
                cpus_per_task=ns.cpus_per_task,
                memory=ns.mem,
                time_limit=ns.time,
                partition=ns.partition,
                nodelist=ns.nodelist,
            ),
            environment=JobEnvironment(
                conda=ns.conda, venv=ns.venv, container=container, env_vars=dict(ns.env)
            ),
            **({"template": ns.template} if ns.template else {}),
        )
    except ValidationError as e:
        raise UsageError(first_error(e)) from None
    return c.Submit(
        job=job,
        dry_run=ns.dry_run,
        notify_channel=ns.notify_channel,
        cluster=ns.cluster,
        given=_given_fields(tokens),
    )


# Submit's flags (argparse dests) -> the job fields bot/core/defaults.py resolves.
_GIVEN_FIELD = {"mem": "memory", "time": "time_limit", "env": "env_vars"}


def _given_fields(tokens: list[str]) -> frozenset[str]:
    """The job fields the user typed a flag for: the rest come from the defaults."""
    p = COMMANDS["submit"].parser()
    for action in p._actions:  # no defaults: the namespace holds only what was typed
        action.default = argparse.SUPPRESS
    return frozenset(_GIVEN_FIELD.get(k, k) for k in vars(p.parse_args(tokens)))


# The submit flags an existing script can take, as sbatch options; the rest are refused.
_SBATCH_OPTION = {
    "name": "--job-name",
    "nodes": "--nodes",
    "gpus_per_node": "--gpus-per-node",
    "ntasks_per_node": "--ntasks-per-node",
    "cpus_per_task": "--cpus-per-task",
    "mem": "--mem",
    "time": "--time",
    "partition": "--partition",
    "nodelist": "--nodelist",
}
_BOT_SIDE = {"script", "var", "dry_run", "notify_channel", "cluster", "env"}


def split_fence(text: str) -> tuple[str, str | None]:
    """The line before a ```fenced block``` and the block (None without one). A first line
    that is only a word (```bash) is the block's language, not part of the script."""
    start = text.find("```")
    if start < 0:
        return text, None
    end = text.rfind("```")
    if end == start:
        raise UsageError("the fenced block has no closing ```")
    block = text[start + 3 : end]
    first, nl, rest = block.partition("\n")
    if nl and re.fullmatch(r"[\w+-]*", first.strip()):
        block = rest
    return text[:start], block


def _parse_submit_script(
    words: Words, block: str | None, attached: c.AttachedScript | None = None
) -> c.Command:
    """`submit [flags] --script PATH|-`: only the flags given become sbatch options, so the
    script's own `#SBATCH` lines stand unless a flag overrides them (sbatch: command line wins)."""
    if words.command is not None:
        raise UsageError("`--script` runs the script; it takes no `--` command")
    p = COMMANDS["submit"].parser()
    for action in p._actions:  # no defaults: the namespace holds only what was typed
        action.default = argparse.SUPPRESS
    given = vars(p.parse_args(words.tokens[1:]))
    path = given.get("script")
    if attached is not None:  # the attached file is the script, as a fenced block would be
        if path not in (None, "-"):
            raise UsageError("give the script as a path or attach it, not both")
        path, block = "-", attached.text
    if path is None:
        raise UsageError("a fenced block is the script of `submit --script -`; add `--script -`")
    if path == "-":
        if block is None:
            raise UsageError(
                "`--script -` needs the script in a ```fenced block``` after the flags "
                "(or give a path on the cluster: `--script ~/train.sh`)"
            )
        if not block.strip():
            raise UsageError(f"the {'attached script' if attached else 'fenced block'} is empty")
        if "\x00" in block:
            raise UsageError("the script must not contain NUL bytes")
    elif block is not None:
        raise UsageError("give the script as a path or as a fenced block (`--script -`), not both")
    elif not path or "\x00" in path or "\n" in path:
        raise UsageError("`--script` needs a path on the cluster, e.g. `--script ~/train.sh`")
    refused = sorted(set(given) - set(_SBATCH_OPTION) - _BOT_SIDE)
    if refused:
        flag = "--" + refused[0].replace("_", "-")
        raise UsageError(f"{flag} is not for `--script`: the script sets up its own environment")
    options = [f"{_SBATCH_OPTION[k]}={given[k]}" for k in _SBATCH_OPTION if k in given]
    if given.get("name") is not None:
        _check_name(given["name"])
    env = given.get("env", [])
    for key, value in env:
        if not _VAR_KEY_RE.fullmatch(key):
            raise UsageError(f"invalid --env `{shown(key)}`: not a valid variable name")
        if "," in value or "\n" in value:
            raise UsageError(f"--env {key}: with `--script`, a value cannot hold `,` or newlines")
    if env:
        options.append("--export=ALL," + ",".join(f"{k}={v}" for k, v in env))
    return c.SubmitScript(
        path=None if path == "-" else path,
        source=block if path == "-" else None,
        attached=attached.name if attached is not None else None,
        variables=tuple(dict(given.get("var", [])).items()),
        options=tuple(options),
        name=given.get("name"),
        partition=given.get("partition"),
        dry_run=given.get("dry_run", False),
        notify_channel=given.get("notify_channel", False),
        cluster=given.get("cluster"),
    )


def _check_name(name: str) -> None:
    try:
        Job(name=name, command="true")
    except ValidationError as e:
        raise UsageError(first_error(e)) from None


def first_error(err: ValidationError) -> str:
    e = err.errors()[0]
    msg = str(e["msg"]).removeprefix("Value error, ")
    if msg.startswith("invalid") or e["type"] == "value_error":
        return msg
    field = str(e["loc"][-1]).replace("_", "-") if e["loc"] else "value"
    return f"invalid --{field}: {msg}"


def help_text(topic: str | None = None) -> str:
    if topic:
        spec = COMMANDS[topic]
        return f"{spec.summary}\nusage: {spec.usage}"
    lines = [f"{name:<10} {spec.summary}" for name, spec in COMMANDS.items()]
    return "commands:\n" + "\n".join(lines) + "\n`help COMMAND` shows a command's options."
