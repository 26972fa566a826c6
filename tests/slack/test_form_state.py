"""The way back from a submitted submit-form view to where it goes and the form's fields."""

from __future__ import annotations

from bot.core import replies as r
from bot.core.forms import FormErrors, SubmitFields
from bot.render.modals import submit_view
from bot.slack.form_state import errors_for, fields_from_state, metadata

FORM = r.SubmitFormReply(
    cluster="lab", partitions=["cpu", "gpu"], default_partition="gpu", templates=["base"]
)


def test_private_metadata_round_trips() -> None:
    assert metadata(submit_view(FORM, "C1")) == ("C1", "lab")
    assert metadata(submit_view(FORM, None)) == (None, "lab")
    assert metadata({"private_metadata": "not json"}) == (None, None)


def test_a_submitted_state_gives_the_fields_back() -> None:
    view = submit_view(FORM, None)
    view["state"] = {
        "values": {
            "partition": {
                "partition": {"type": "static_select", "selected_option": {"value": "cpu"}}
            },
            "gpus_per_node": {"gpus_per_node": {"type": "number_input", "value": "2"}},
            "time": {"time": {"type": "plain_text_input", "value": "10"}},
            "memory": {"memory": {"type": "plain_text_input", "value": None}},
            "name": {"name": {"type": "plain_text_input", "value": "x"}},
            "command": {"command": {"type": "plain_text_input", "value": "echo hi"}},
            "env": {"env": {"type": "plain_text_input", "value": "A=1"}},
        }
    }
    assert metadata(view) == (None, "lab")
    assert fields_from_state(view) == SubmitFields(
        partition="cpu",
        gpus_per_node="2",
        time="10",
        name="x",
        command="echo hi",
        env="A=1",
        cluster="lab",
    )


def test_errors_are_keyed_by_block_id_and_short() -> None:
    errors = errors_for(FormErrors({"time": "invalid time `x`" + "!" * 300}))
    assert list(errors) == ["time"] and len(errors["time"]) <= 150
    view = submit_view(FORM, "C1")
    assert {b.get("block_id") for b in view["blocks"]} >= set(SubmitFields.model_fields) - {
        "cluster"
    }
