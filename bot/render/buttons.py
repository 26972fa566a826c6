"""The buttons of a job and of a workflow run: their value carries what they are about as
data (a job's cluster and id, a run's id), never command text, and reading it back refuses
any value the bot did not make."""

from __future__ import annotations

import json
import re
from collections.abc import Collection

from bot.core.ids import ID_PATTERN
from bot.core.models import validate_job_id
from bot.errors import UsageError
from bot.render.kit import Block
from bot.render.mrkdwn import escape


def job_value(cluster: str, job_id: str) -> str:
    """A job button's value: the cluster and the job as data, never command text."""
    return json.dumps({"c": cluster, "j": job_id}, separators=(",", ":"))


def read_job_value(value: str, clusters: Collection[str]) -> tuple[str, str]:
    """(cluster, job id) from a job button's value, or from an old card's `cluster|job`;
    anything else (a forged or mangled value) is refused."""
    cluster: object
    job_id: object
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            data = None
        cluster, job_id = (data.get("c"), data.get("j")) if isinstance(data, dict) else ("", "")
    else:
        cluster, _, job_id = value.partition("|")
    try:
        if isinstance(cluster, str) and cluster in clusters and isinstance(job_id, str):
            return cluster, validate_job_id(job_id)
    except ValueError:
        pass
    raise UsageError(
        "this button is not one the bot made (or is from an old message); "
        "type the command instead, e.g. `/srunx status JOB_ID`"
    )


def button(action_id: str, value: str, text: str, confirm: Block | None = None) -> Block:
    """A button; with `confirm` (see `confirm`), red and asking first."""
    block: Block = {
        "type": "button",
        "action_id": action_id,
        "value": value,
        "text": {"type": "plain_text", "text": text},
    }
    if confirm is not None:
        block.update(style="danger", confirm=confirm)
    return block


def confirm(title: str, text: str, yes: str, no: str) -> Block:
    """A confirmation dialog; `text` is mrkdwn, escaped already."""
    return {
        "title": {"type": "plain_text", "text": title},
        "text": {"type": "mrkdwn", "text": text},
        "confirm": {"type": "plain_text", "text": yes},
        "deny": {"type": "plain_text", "text": no},
    }


def job_buttons(cluster: str, job_id: str, *, running: bool) -> Block:
    """Refresh, Tail, and (while it runs) Cancel, with a confirmation dialog."""
    value = job_value(cluster, job_id)
    buttons = [button("job_refresh", value, "Refresh"), button("job_tail", value, "Tail")]
    if running:
        buttons.append(cancel_button(cluster, job_id))
    return {"type": "actions", "block_id": "job_actions", "elements": buttons}


def cancel_button(cluster: str, job_id: str, action_id: str = "job_cancel") -> Block:
    """A red Cancel button (value: `job_value`) that asks for confirmation first."""
    ask = confirm(
        "Cancel this job?",
        f"Job {job_id} on {escape(cluster)} will be stopped by Slurm.",
        "Cancel job",
        "Keep it",
    )
    return button(action_id, job_value(cluster, job_id), "Cancel", ask)


# A workflow run's buttons: their value is the run's id alone (the run knows its cluster).
FLOW_REFRESH = "flow_refresh"
FLOW_CANCEL = "flow_cancel"
_RUN_ID_RE = re.compile(rf"f(?:{ID_PATTERN})", re.ASCII)


def run_value(run_id: str) -> str:
    return json.dumps({"r": run_id}, separators=(",", ":"))


def read_run_value(value: str) -> str:
    """The run id of a run button's value; a forged or mangled value is refused."""
    try:
        data = json.loads(value)
    except ValueError:
        data = None
    run_id = data.get("r") if isinstance(data, dict) else None
    if isinstance(run_id, str) and _RUN_ID_RE.fullmatch(run_id):
        return run_id
    raise UsageError(
        "this button is not one the bot made (or is from an old message); "
        "type the command instead, e.g. `/srunx flow status RUN`"
    )


def run_buttons(run_id: str, name: str, *, active: bool) -> Block:
    """Refresh, and while the run goes on, Cancel run (it asks first)."""
    value = run_value(run_id)
    buttons = [button(FLOW_REFRESH, value, "Refresh")]
    if active:
        ask = confirm(
            "Cancel this run?",
            f"Every job of workflow *{escape(name[:100])}* still queued or running will be "
            "cancelled.",
            "Cancel run",
            "Keep it",
        )
        buttons.append(button(FLOW_CANCEL, value, "Cancel run", ask))
    return {"type": "actions", "block_id": "flow_actions", "elements": buttons}
