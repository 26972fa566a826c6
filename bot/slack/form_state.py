"""A submitted submit-form view read back: where its card goes, its fields, and errors
keyed the way Slack shows them under each input (block ids are the field names)."""

from __future__ import annotations

import json
from typing import Any

from bot.core.forms import FormErrors, SubmitFields


def metadata(view: dict[str, Any]) -> tuple[str | None, str | None]:
    """(channel, cluster) from a submitted view's private_metadata."""
    try:
        meta = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        meta = {}
    return meta.get("channel"), meta.get("cluster")


def fields_from_state(view: dict[str, Any]) -> SubmitFields:
    """A submitted view (its state.values and, for the cluster, private_metadata) as fields."""
    values: dict[str, Any] = view.get("state", {}).get("values", {})
    found: dict[str, str] = {}
    for block_id, actions in values.items():
        if block_id not in SubmitFields.model_fields or block_id == "cluster":
            continue
        element = actions.get(block_id) or {}
        option = element.get("selected_option") or {}
        value = option.get("value") if option else element.get("value")
        found[block_id] = str(value or "")
    return SubmitFields(cluster=metadata(view)[1], **found)


def errors_for(err: FormErrors) -> dict[str, str]:
    """`response_action: errors` wants block_id -> message (a short one each)."""
    return {field: message[:150] for field, message in err.errors.items()}
