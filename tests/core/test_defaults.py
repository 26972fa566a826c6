"""Job defaults (bot/core/defaults.py): each level wins over the next (flag > you > your
account > cluster > global > template), shown by `defaults`, the caller's own kept across a
restart; offline, on scripted Slurm and dry-run submits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import parse_config
from bot.core import replies as r
from bot.errors import ConfigError
from bot.runtime import Runtime
from bot.store.state import open_state
from labkit import ALICE, BOB, Lab, Recorder
from scripted import ScriptedPool, scripted_accounts, sinfo

# The levels below the user's own, each setting memory (the key the test follows) and one
# key of its own, so a lower level still fills what the higher ones leave open.
LEVELS = {
    "global": {"memory": "1G", "conda": "base"},
    "cluster": {"memory": "2G", "time_limit": "1:00:00"},
    "your account": {"memory": "3G", "env_vars": {"A": "account"}},
}


def _config(levels: tuple[str, ...]) -> Any:
    data = Lab.from_env().config_data()
    if "global" in levels:
        data["defaults"] = LEVELS["global"]
    if "cluster" in levels:
        data["clusters"][0]["defaults"] = LEVELS["cluster"]
    if "your account" in levels:
        data["access"]["users"][ALICE]["defaults"] = LEVELS["your account"]
    return parse_config(data)


async def _runtime(state: Path, levels: tuple[str, ...]) -> Runtime:
    slurm = scripted_accounts()
    for transport in slurm.values():
        transport.answers["sinfo"] = sinfo("idle")
    return await Runtime.open(
        _config(levels), open_state(state), Recorder(), pool=ScriptedPool(slurm)
    )


async def _script(rt: Runtime, text: str, user: str = ALICE) -> str:
    reply = await rt.dispatch.handle(user, text)
    assert isinstance(reply, r.DryRun), reply
    return reply.script


async def _sources(rt: Runtime, user: str = ALICE) -> dict[str, tuple[str | None, str]]:
    reply = await rt.dispatch.handle(user, "defaults")
    assert isinstance(reply, r.DefaultsReply), reply
    return {s.key: (s.value, s.source) for s in reply.settings}


async def test_each_level_wins_over_the_next(tmp_path: Path) -> None:
    rt = await _runtime(tmp_path, ("global", "cluster", "your account"))
    try:
        done = await rt.dispatch.handle(ALICE, "defaults set --mem 4G --venv /opt/venv")
        assert isinstance(done, r.Done) and "memory 4G" in done.text
        submit = "submit --dry-run -- python train.py"
        script = await _script(rt, "submit --mem 5G --dry-run -- python train.py")
        assert "#SBATCH --mem=5G" in script  # the flag over your own
        script = await _script(rt, submit)
        assert "#SBATCH --mem=4G" in script  # your own over your account's
        # each level fills what the ones above leave open; your venv replaces the conda
        assert "#SBATCH --time=1:00:00" in script and "export A=account" in script
        assert "/opt/venv" in script and "conda activate" not in script
        assert "--mem=3G" not in await _script(rt, submit, BOB)  # another user's are not yours
        src = await _sources(rt)
        assert src["memory"] == ("4G", "you") and src["time_limit"] == ("1:00:00", "cluster")
        assert src["environment"] == ("venv /opt/venv", "you")
        assert src["env:A"] == ("account", "your account") and src["nodes"] == ("1", "template")
        await rt.dispatch.handle(ALICE, "defaults unset mem venv")
        assert "#SBATCH --mem=3G" in await _script(rt, submit)  # your account's over the cluster's
        assert "conda activate base" in await _script(rt, submit)
    finally:
        await rt.close()
    for levels, memory in (
        (("global", "cluster"), "2G"),  # the cluster's over the global
        (("global",), "1G"),  # the global over the template's
    ):
        rt = await _runtime(tmp_path / "-".join(levels), levels)
        try:
            script = await _script(rt, "submit --dry-run -- python train.py")
            assert f"#SBATCH --mem={memory}" in script
        finally:
            await rt.close()
    rt = await _runtime(tmp_path / "none", ())
    try:
        script = await _script(rt, "submit --dry-run -- python train.py")
        assert "--mem" not in script  # the template's: no memory line, Slurm's own default
        assert (await _sources(rt))["memory"] == (None, "template")
    finally:
        await rt.close()


async def test_your_defaults_are_per_cluster_and_survive_a_restart(tmp_path: Path) -> None:
    rt = await _runtime(tmp_path, ())
    try:
        await rt.dispatch.handle(ALICE, "defaults set --conda ml -t 4:00:00 --env K=v -p cpu")
        await rt.dispatch.handle(ALICE, "defaults set --env L=w --cluster jump")
    finally:
        await rt.close()
    rt = await _runtime(tmp_path, ())  # a new bot on the same state
    try:
        src = await _sources(rt)
        assert src["environment"] == ("conda ml", "you")
        assert src["time_limit"] == ("4:00:00", "you") and src["partition"] == ("cpu", "you")
        assert src["env:K"] == ("v", "you") and "env:L" not in src
        script = await _script(rt, "submit --dry-run -- python train.py")
        assert "#SBATCH --partition=cpu" in script and "conda activate ml" in script
        reply = await rt.dispatch.handle(ALICE, "defaults unset --all")
        assert isinstance(reply, r.Done)
        assert (await _sources(rt))["environment"] == ("none", "template")
        jump = await rt.dispatch.handle(ALICE, "defaults --cluster jump")
        assert isinstance(jump, r.DefaultsReply)
        assert [(s.key, s.source) for s in jump.settings if s.key.startswith("env:")] == [
            ("env:L", "you")
        ]
    finally:
        await rt.close()


@pytest.mark.parametrize(
    ("where", "value", "message"),
    [
        ("top", {"memory": "lots"}, "defaults.memory: invalid memory `lots`"),
        ("cluster", {"time_limit": "99:99"}, "clusters.0.defaults.time_limit: invalid time"),
        ("user", {"partition": "a b"}, f"access.users.{ALICE}.defaults.partition: invalid"),
        ("top", {"conda": "x", "venv": "y"}, "defaults: choose one of conda, venv, container"),
        ("top", {"gpu": 1}, "defaults.gpu: unknown key"),
    ],
)
def test_a_bad_default_in_the_config_names_its_key(
    where: str, value: dict[str, Any], message: str
) -> None:
    data = Lab.from_env().config_data()
    target = {"top": data, "cluster": data["clusters"][0], "user": data["access"]["users"][ALICE]}
    target[where]["defaults"] = value
    with pytest.raises(ConfigError, match="(?s)" + message.replace("(", r"\(")):
        parse_config(data)


async def test_bad_values_and_keys_are_refused_like_the_flags(tmp_path: Path) -> None:
    rt = await _runtime(tmp_path, ())
    try:
        for text, message in (
            ("defaults set --mem lots", "invalid memory `lots`"),
            ("defaults set --conda a --venv b", "cannot be used together"),
            ("defaults set --log-dir 'a b'", "invalid path"),
            ("defaults unset gpus", "unknown key `gpus`"),
            ("defaults set", "needs a flag"),
        ):
            reply = await rt.dispatch.handle(ALICE, text)
            assert isinstance(reply, r.ErrorReply) and message in reply.message, (text, reply)
    finally:
        await rt.close()
