"""A job button's value: cluster and job as data, and nothing else read back from it."""

from __future__ import annotations

import pytest

from bot.errors import UsageError
from bot.render.buttons import read_job_value


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
