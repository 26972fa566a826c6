"""The submit form's view JSON: Slack's limits and the cluster's partitions."""

from __future__ import annotations

from typing import Any

from bot.core import replies as r
from bot.core.forms import SubmitFields
from bot.render.modals import CALLBACK, notice_view, open_failed, submit_view
from slack_standin import MAX_VIEW_BLOCKS, check_blocks

FORM = r.SubmitFormReply(
    cluster="lab",
    partitions=["cpu", "gpu"],
    default_partition="gpu",
    templates=["advanced", "base"],
)


def _block(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b for b in view["blocks"] if b.get("block_id") == block_id)


def test_the_form_is_within_slacks_limits() -> None:
    view = submit_view(FORM, "C1", "python train.py")
    assert view["type"] == "modal" and view["callback_id"] == CALLBACK
    assert len(view["title"]["text"]) <= 24 and len(view["private_metadata"]) <= 3000
    assert not check_blocks(view["blocks"], limit=MAX_VIEW_BLOCKS)
    assert "*lab*" in view["blocks"][0]["elements"][0]["text"]


def test_partitions_come_from_the_cluster_with_the_default_chosen() -> None:
    select = _block(submit_view(FORM, "C1"), "partition")["element"]
    assert select["type"] == "static_select"
    assert [o["value"] for o in select["options"]] == ["cpu", "gpu"]
    assert select["initial_option"]["value"] == "gpu"


def test_without_partitions_the_form_asks_for_one_as_text() -> None:
    form = r.SubmitFormReply(cluster="lab", partitions=[], default_partition="gpu")
    element = _block(submit_view(form, "C1"), "partition")["element"]
    assert element["type"] == "plain_text_input" and element["initial_value"] == "gpu"


def test_inputs_are_named_after_the_fields() -> None:
    inputs = [b for b in submit_view(FORM, "C1")["blocks"] if b["type"] == "input"]
    assert {b["block_id"] for b in inputs} == set(SubmitFields.model_fields) - {"cluster"}
    assert all(b["element"]["action_id"] == b["block_id"] for b in inputs)
    optional = {b["block_id"] for b in inputs if b["optional"]}
    assert optional == set(SubmitFields.model_fields) - {"cluster", "partition", "command"}
    gpus = _block(submit_view(FORM, "C1"), "gpus_per_node")["element"]
    assert gpus["is_decimal_allowed"] is False and gpus["min_value"] == "0"


def test_the_message_text_is_the_initial_command_and_required() -> None:
    command = _block(submit_view(FORM, "C1", initial_command="echo hi"), "command")
    assert command["element"]["initial_value"] == "echo hi" and command["optional"] is False
    assert command["element"]["multiline"] is True


def test_a_long_message_still_fits_the_input() -> None:
    command = _block(submit_view(FORM, "C1", "x" * 5000), "command")
    assert len(command["element"]["initial_value"]) == 3000


def test_open_failed_says_what_to_type_instead() -> None:
    assert "expired_trigger_id" in open_failed("expired_trigger_id")
    assert "/srunx submit -p PARTITION -- COMMAND" in open_failed("x")


def test_notice_view_escapes() -> None:
    view = notice_view("<!channel> not mapped")
    assert "&lt;!channel&gt;" in view["blocks"][0]["text"]["text"]


def test_fields_start_at_the_callers_defaults() -> None:
    initial = {"partition": "cpu", "gpus_per_node": "2", "time": "4:00:00", "memory": "8G"}
    initial |= {"conda": "ml", "template": "advanced"}
    view = submit_view(FORM.model_copy(update={"initial": initial}), "C1")
    assert _block(view, "gpus_per_node")["element"]["initial_value"] == "2"
    assert _block(view, "time")["element"]["initial_value"] == "4:00:00"
    assert _block(view, "memory")["element"]["initial_value"] == "8G"
    assert _block(view, "conda")["element"]["initial_value"] == "ml"
    assert "initial_value" not in _block(view, "venv")["element"]
    assert _block(view, "template")["element"]["initial_option"]["value"] == "advanced"
    assert not check_blocks(view["blocks"], limit=MAX_VIEW_BLOCKS)


def test_the_template_select_lists_every_template() -> None:
    select = _block(submit_view(FORM, "C1"), "template")["element"]
    assert [o["value"] for o in select["options"]] == ["advanced", "base"]
    assert "initial_option" not in select
