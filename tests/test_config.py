"""Config loading: the example loads; every mistake is one ConfigError naming file and key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.config import Config, load_config, login_node_config, parse_config
from bot.errors import ConfigError

EXAMPLE = Path(__file__).resolve().parents[1] / "srunx-bot.example.yaml"
NOISE = ("Traceback", "pydantic", "errors.pydantic.dev", "For further information")


def _load_error(tmp_path: Path, text: str) -> tuple[str, str]:
    path = tmp_path / "srunx-bot.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    message = str(info.value)
    for noise in NOISE:
        assert noise not in message
    assert str(path) in message
    return str(path), message


def test_example_file_loads() -> None:
    config = load_config(str(EXAMPLE))
    assert config.cluster_names == ["lab", "lab-via-bastion"]
    lab = config.cluster(None)
    assert lab.name == "lab"
    assert lab.host == "127.0.0.1"
    assert lab.port == 2222
    assert lab.default_partition == "gpu"
    assert not lab.is_local
    assert config.cluster("lab-via-bastion").proxy_jump == "127.0.0.1:2223"
    assert config.access.users["U0ALICE"].account == "alice"
    assert config.is_admin("U0ALICE")
    assert not config.is_admin("U0BOB")


def test_env_var_names_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SRUNX_BOT_CONFIG", str(EXAMPLE))
    assert load_config().cluster_names == ["lab", "lab-via-bastion"]


def test_defaults() -> None:
    config = parse_config({"clusters": [{"name": "local"}]})
    cluster = config.cluster(None)
    assert cluster.is_local
    assert cluster.port == 22
    assert config.access.users == {}
    assert config.templates == {}
    assert config.state.retention == 30 * 86400  # finished job threads: kept 30 days


@pytest.mark.parametrize(("text", "seconds"), [("12h", 43200), ("2w", 1209600), (90, 90)])
def test_state_retention_takes_a_duration(text: str | int, seconds: int) -> None:
    config = parse_config({"clusters": [{"name": "a"}], "state": {"retention": text}})
    assert config.state.retention == seconds


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_config(str(path))
    message = str(info.value)
    assert message == (
        f"config file {path} not found; copy srunx-bot.example.yaml there or set SRUNX_BOT_CONFIG"
    )


def test_unreadable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=f"cannot read config {tmp_path}"):
        load_config(str(tmp_path))  # a directory


def test_bad_yaml(tmp_path: Path) -> None:
    path, message = _load_error(tmp_path, "clusters:\n  - name: a\n    port: [1\n")
    assert message.startswith(f"config {path} is not valid YAML at line ")


@pytest.mark.parametrize(
    ("text", "key", "detail"),
    [
        ("clusters:\n  - name: a\n    hots: x\n", "clusters.0.hots", "unknown key"),
        ("clusters:\n  - name: a\nfoo: 1\n", "foo", "unknown key"),
        ("clusters:\n  - name: a\n    port: abc\n", "clusters.0.port", "valid integer"),
        ("clusters:\n  - name: a\n  - name: b\n    port: 70000\n", "clusters.1.port", "65535"),
        ("clusters:\n  - name: 'a b'\n", "clusters.0.name", "use letters, digits"),
        ("clusters:\n  - name: a\n    max_sessions: 20\n", "clusters.0.max_sessions", "9"),
        ("clusters: []\n", "clusters", "at least 1 item"),
        (
            "clusters:\n  - name: a\naccess:\n  users:\n    U1: {account: 'Bad Name'}\n",
            "access.users.U1.account",
            "not a valid Unix user name",
        ),
        (
            "clusters:\n  - name: a\naccess:\n  users:\n    U1: {account: 'root;id'}\n",
            "access.users.U1.account",
            "not a valid Unix user name",
        ),
        ("clusters:\n  - name: a\naccess:\n  admins: U1\n", "access.admins", "valid list"),
        ("clusters:\n  - name: a\nstate:\n  retention: 1 month\n", "state.retention", "30d"),
        ("clusters:\n  - name: a\nstate:\n  retention: 0\n", "state.retention", "than 0"),
        ("clusters:\n  - name: a\nstore: mysql://u:pw@db/x\n", "store", "a PostgreSQL URL"),
    ],
)
def test_invalid_values_name_file_and_key(tmp_path: Path, text: str, key: str, detail: str) -> None:
    path, message = _load_error(tmp_path, text)
    lines = message.splitlines()
    assert lines[0] == f"invalid config {path}:"
    assert any(line.startswith(f"  {key}: ") and detail in line for line in lines[1:]), message


def test_duplicate_cluster_names(tmp_path: Path) -> None:
    _, message = _load_error(tmp_path, "clusters:\n  - name: a\n  - name: b\n  - name: a\n")
    assert "cluster names must be unique; repeated: a" in message


def test_duplicate_cluster_names_name_the_key(tmp_path: Path) -> None:
    _, message = _load_error(tmp_path, "clusters:\n  - name: a\n  - name: a\n")
    assert "  clusters: " in message


@pytest.mark.parametrize("text", ["", "just a string\n", "- a\n- b\n"])
def test_not_a_mapping(tmp_path: Path, text: str) -> None:
    path, message = _load_error(tmp_path, text)
    assert message == f"invalid config {path}: expected a mapping with `clusters:` at the top"


@pytest.mark.parametrize("data", [None, [], "x"])
def test_parse_config_names_the_path(data: Any) -> None:
    with pytest.raises(ConfigError, match=r"invalid config cfg\.yaml: expected a mapping"):
        parse_config(data, "cfg.yaml")


def test_cluster_lookup() -> None:
    config: Config = parse_config({"clusters": [{"name": "one"}, {"name": "two", "host": "h"}]})
    assert config.cluster(None).name == "one"
    assert config.cluster("two").host == "h"
    with pytest.raises(ConfigError) as info:
        config.cluster("three")
    assert str(info.value) == "unknown cluster `three`; clusters: one, two"


def test_login_node_default_maps_the_account_to_itself_as_its_admin() -> None:
    config = login_node_config("alice")
    cluster = config.cluster(None)
    assert config.cluster_names == ["local"] and cluster.is_local
    assert config.access.users["alice"].account == "alice"
    assert config.is_admin("alice") and list(config.access.users) == ["alice"]


def test_login_node_default_refuses_an_account_it_cannot_map() -> None:
    with pytest.raises(ConfigError) as info:
        login_node_config("Bad Name")
    assert str(info.value) == (
        "your account `Bad Name` is not a Unix user name srunx-bot accepts; "
        "copy srunx-bot.example.yaml to ./srunx-bot.yaml and map a user there"
    )
