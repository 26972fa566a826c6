"""A button's value: a job's cluster and id, or a run's id, as data, and nothing else read
back from it."""

from __future__ import annotations

import pytest

from bot.errors import UsageError
from bot.render.buttons import read_job_value, read_run_value, run_value


def test_button_value_of_an_old_card_still_works() -> None:
    assert read_job_value("lab|4121_3", ["lab", "other"]) == ("lab", "4121_3")


@pytest.mark.parametrize(
    "value",
    [
        "lab|5000 -n 500 --cluster other",
        "lab|5000 --cluster other",
        "nope|5000",
        '{"c": "lab", "j": "5000 -n 500"}',
        '{"c": "other", "j": "5000"}',
        '{"c": "lab", "j": 5000}',
        '{"c": "lab"}',
        '{"c": "lab", "j": "5000"',
        '["lab", "5000"]',
        "5000",
        "",
    ],
)
def test_forged_button_value_is_refused(value: str) -> None:
    with pytest.raises(UsageError, match="this button is not one the bot made"):
        read_job_value(value, ["lab"])


def test_a_run_buttons_value_is_its_id_as_data() -> None:
    assert run_value("f0123456789ab") == '{"r":"f0123456789ab"}'
    assert read_run_value(run_value("f0123456789ab")) == "f0123456789ab"
    assert read_run_value(run_value("f0a1b")) == "f0a1b"  # a 4-digit id of an older version


@pytest.mark.parametrize(
    "value",
    [
        '{"r": "f0123456789ab; scancel -u alice"}',
        '{"r": "w0123456789ab"}',
        '{"r": "F0123456789AB"}',
        '{"r": ["f0123456789ab"]}',
        '{"c": "lab", "j": "5000"}',
        '"f0123456789ab"',
        "f0123456789ab",
        "{",
        "",
    ],
)
def test_forged_run_button_value_is_refused(value: str) -> None:
    with pytest.raises(UsageError, match="this button is not one the bot made"):
        read_run_value(value)
