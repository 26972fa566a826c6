"""The delimited formats asked of Slurm: unpadded fields, free text always last."""

from __future__ import annotations

import pytest

from bot.core.slurm import formats as f


def test_output_format_is_unpadded_and_separated_but_not_after_the_last() -> None:
    assert f.output_format(("JobID", "State", "Name")) == "JobID:0|,State:0|,Name:0"


@pytest.mark.parametrize(
    ("fields", "last"),
    [
        (f.SQUEUE_FIELDS, "Name"),
        (f.QUEUE_FIELDS, "Name"),
        (f.SACCT_STATUS_FIELDS, "JobName"),
        (f.SACCT_HISTORY_FIELDS, "JobName"),
    ],
)
def test_a_job_name_is_the_last_field_so_a_bar_in_it_shifts_nothing(
    fields: tuple[str, ...], last: str
) -> None:
    assert fields[-1] == last and last not in fields[:-1]


def test_the_formats_are_built_from_their_field_lists() -> None:
    assert f.SQUEUE_FORMAT.endswith(",Name:0") and f.SQUEUE_FORMAT.count("|") == 15
    assert f.SINFO_NODE_FORMAT == "NodeList:0|,PartitionName:0|,StateComplete:0|,Gres:0|,GresUsed:0"
