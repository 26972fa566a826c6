"""The submit form: a modal whose fields are `submit`'s options, filled from the cluster.
Reading a submitted form back is the Slack layer's (bot/slack/form_state.py)."""

from __future__ import annotations

import json

from bot.core import replies as r
from bot.render.kit import Block, context, section
from bot.render.mrkdwn import escape

CALLBACK = "submit_job_form"


def _text(label: str) -> dict[str, str]:
    return {"type": "plain_text", "text": label}


def _input(
    block_id: str, label: str, element: Block, *, optional: bool = True, hint: str = ""
) -> Block:
    # block_id and action_id are both the SubmitFields name: the state maps straight back.
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": {**element, "action_id": block_id},
        "optional": optional,
    }
    if hint:
        block["hint"] = _text(hint)
    return block


def _plain(placeholder: str, *, initial: str = "", multiline: bool = False) -> Block:
    element: Block = {"type": "plain_text_input", "placeholder": _text(placeholder)}
    if multiline:
        element["multiline"] = True
    if initial:
        element["initial_value"] = initial[:3000]
    return element


def _partition(reply: r.SubmitFormReply) -> Block:
    if not reply.partitions:  # Slurm didn't answer in time: type it (checked on submit)
        return _input(
            "partition",
            "Partition",
            _plain(reply.default_partition or "gpu", initial=reply.default_partition or ""),
            optional=not reply.default_partition,
        )
    options = [{"text": _text(p[:75]), "value": p} for p in reply.partitions[:100]]
    select: Block = {"type": "static_select", "options": options}
    default = next((o for o in options if o["value"] == reply.default_partition), None)
    if default is not None:
        select["initial_option"] = default
    return _input("partition", "Partition", select, optional=False)


def _template(reply: r.SubmitFormReply) -> Block:
    options = [{"text": _text(t[:75]), "value": t} for t in reply.templates[:100]]
    select: Block = {"type": "static_select", "options": options}
    chosen = reply.initial.get("template")
    initial = next((o for o in options if o["value"] == chosen), None)
    if initial is not None:
        select["initial_option"] = initial
    return _input("template", "Template", select, hint="`/srunx templates` describes each")


def submit_view(reply: r.SubmitFormReply, channel: str | None, initial_command: str = "") -> Block:
    """The modal for `views.open`; `channel` is where the job's card will go (None: DM).
    Fields start at the caller's effective defaults; a field left blank gets them too."""
    meta = json.dumps({"channel": channel, "cluster": reply.cluster})
    given = reply.initial
    gpus: Block = {"type": "number_input", "is_decimal_allowed": False, "min_value": "0"}
    if "gpus_per_node" in given:
        gpus["initial_value"] = given["gpus_per_node"]
    blocks = [
        context(
            f"Runs on *{escape(reply.cluster)}* as your own cluster account. "
            "Filled in from your defaults (`/srunx defaults`)."
        ),
        _partition(reply),
        _input("gpus_per_node", "GPUs per node", gpus),
        _input(
            "time",
            "Time limit",
            _plain("2:00:00", initial=given.get("time", "")),
            hint="minutes, HH:MM:SS or D-HH",
        ),
        _input("memory", "Memory per node", _plain("16G", initial=given.get("memory", ""))),
        _input("name", "Job name", _plain("job")),
        _input(
            "command",
            "Command",
            _plain("python train.py --epochs 10", initial=initial_command, multiline=True),
            optional=False,
            hint="runs inside the job, as after `--` in /srunx submit",
        ),
        _input("conda", "Conda environment", _plain("ml", initial=given.get("conda", ""))),
        _input("venv", "Virtualenv", _plain("~/venvs/ml", initial=given.get("venv", ""))),
        _input(
            "container",
            "Container image",
            _plain("nvcr.io/nvidia/pytorch:24.01-py3", initial=given.get("container", "")),
            hint="fill at most one of conda, virtualenv and container",
        ),
        _input("env", "Environment variables", _plain("KEY=VALUE, one per line", multiline=True)),
    ]
    if reply.templates:
        blocks.append(_template(reply))
    return {
        "type": "modal",
        "callback_id": CALLBACK,
        "private_metadata": meta,
        "title": _text("Submit a Slurm job"),
        "submit": _text("Submit"),
        "close": _text("Cancel"),
        "blocks": blocks,
    }


def notice_view(text: str) -> Block:
    """A modal that only says something (the form could not be opened, and why)."""
    return {
        "type": "modal",
        "title": _text("srunx"),
        "close": _text("OK"),
        "blocks": [section(f":warning: {escape(text)}")],
    }


def open_failed(error: str) -> str:
    """Why the form did not open (views.open failed, e.g. its 3 s trigger expired), and the
    command line that does the same."""
    return (
        f"could not open the submit form ({error}); type "
        "`/srunx submit -p PARTITION -- COMMAND` instead"
    )
