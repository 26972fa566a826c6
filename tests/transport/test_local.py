"""LocalTransport: argv only, stdin, timeouts, and acting as another account."""

from __future__ import annotations

import getpass
import os
import pwd

import pytest

from bot.errors import TransportError
from bot.transport.local import LocalTransport, current_account
from labkit import Lab


async def test_runs_argv_without_a_shell() -> None:
    t = LocalTransport()
    res = await t.run(["printf", "%s", "$(echo no) ; rm -rf /nonexistent"])
    assert res.ok and res.stdout == "$(echo no) ; rm -rf /nonexistent"


async def test_stdin_and_exit_status() -> None:
    res = await LocalTransport().run(["sh", "-c", "cat; exit 4"], stdin="hello\n")
    assert res.exit_status == 4 and res.stdout == "hello\n"


async def test_timeout_and_missing_program() -> None:
    with pytest.raises(TransportError, match="did not answer within 1 s"):
        await LocalTransport().run(["sleep", "5"], timeout=1)
    with pytest.raises(TransportError, match="not installed"):
        await LocalTransport().run(["no-such-program-srunx"])


async def test_another_account_is_never_taken_for_us_because_of_user_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # getpass trusts $LOGNAME/$USER; who runs the command is the effective uid.
    for var in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        monkeypatch.setenv(var, "srunx-nobody")
    res = await LocalTransport("srunx-nobody").run(["id", "-un"])
    assert res.stdout.strip() != pwd.getpwuid(os.geteuid()).pw_name
    assert not res.ok


async def test_current_account_is_the_effective_user(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "srunx-nobody")
    monkeypatch.setenv("LOGNAME", "srunx-nobody")
    assert current_account() == pwd.getpwuid(os.geteuid()).pw_name
    res = await LocalTransport(current_account()).run(["id", "-un"])
    assert res.stdout.strip() == current_account()


async def test_same_user_runs_directly() -> None:
    res = await LocalTransport(getpass.getuser()).run(["id", "-un"])
    assert res.stdout.strip() == getpass.getuser()


@pytest.mark.lab
@pytest.mark.skipif(os.geteuid() != 0, reason="acting as another account needs root here")
async def test_acts_as_the_mapped_account(lab: Lab) -> None:
    os.environ["SLURM_CONF"] = str(lab.slurm_conf)
    res = await LocalTransport("alice").run(["id", "-un"])
    assert res.stdout.strip() == "alice"
    sinfo = await LocalTransport("alice").run(["sinfo", "-h", "-o", "%R"])
    assert set(sinfo.stdout.split()) == {"gpu", "cpu"}
