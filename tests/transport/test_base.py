"""A command's result: ok on exit 0; its error is the most telling line of stderr."""

from __future__ import annotations

from bot.transport.base import CommandResult


def test_ok_is_exit_status_zero() -> None:
    assert CommandResult(("squeue",), 0, "", "").ok
    assert not CommandResult(("squeue",), 1, "", "").ok


def test_the_error_is_the_last_line_slurm_printed() -> None:
    err = (
        "sbatch: warning: x\n  sbatch: error: Batch job submission failed: Invalid partition  \n\n"
    )
    assert CommandResult(("sbatch",), 1, "", err).error_text() == (
        "sbatch: error: Batch job submission failed: Invalid partition"
    )


def test_without_stderr_the_error_names_the_exit_status() -> None:
    assert CommandResult(("tail",), 137, "", " \n").error_text() == "exit status 137"
