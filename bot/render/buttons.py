"""The buttons of a job: their value carries the cluster and the job as data (never command
text), and reading it back refuses any value the bot did not make."""

from __future__ import annotations

import json
from collections.abc import Collection

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


def job_buttons(cluster: str, job_id: str, *, running: bool) -> Block:
    """Refresh, Tail, and (while it runs) Cancel, with a confirmation dialog."""
    value = job_value(cluster, job_id)
    buttons: list[Block] = [
        {
            "type": "button",
            "action_id": "job_refresh",
            "value": value,
            "text": {"type": "plain_text", "text": "Refresh"},
        },
        {
            "type": "button",
            "action_id": "job_tail",
            "value": value,
            "text": {"type": "plain_text", "text": "Tail"},
        },
    ]
    if running:
        buttons.append(cancel_button(cluster, job_id))
    return {"type": "actions", "block_id": "job_actions", "elements": buttons}


def cancel_button(cluster: str, job_id: str, action_id: str = "job_cancel") -> Block:
    """A red Cancel button (value: `job_value`) that asks for confirmation first."""
    return {
        "type": "button",
        "action_id": action_id,
        "value": job_value(cluster, job_id),
        "style": "danger",
        "text": {"type": "plain_text", "text": "Cancel"},
        "confirm": {
            "title": {"type": "plain_text", "text": "Cancel this job?"},
            "text": {
                "type": "mrkdwn",
                "text": f"Job {job_id} on {escape(cluster)} will be stopped by Slurm.",
            },
            "confirm": {"type": "plain_text", "text": "Cancel job"},
            "deny": {"type": "plain_text", "text": "Keep it"},
        },
    }
