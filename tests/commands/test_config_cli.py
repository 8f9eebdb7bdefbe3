"""``aureond config check`` (and ``run``, ``headers verify``) on a bad configuration:
the error names the key, guesses what was meant, lists what there is, and says how to
load a network that is not built in, in words that work when followed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from aureond.chain.params import network_names
from aureond.cli import main
from aureond.service import config as config_module
from aureond.service.config import HttpConfig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "config" / "networks" / "example.toml"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.upper().startswith("AUREOND_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(config_module, "DEFAULT_CONFIG", tmp_path / "absent.toml")


def _check(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["config", "check", *argv])
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    return code, doc


def test_a_misspelt_key_is_named_guessed_and_the_section_listed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "aureond.toml"
    path.write_text('[http]\nlistn = "127.0.0.1:8787"\n')
    code, doc = _check(capsys, "--config", str(path))
    assert (code, doc["ok"], doc["key"]) == (3, False, "http.listn")
    assert "did you mean http.listen?" in doc["error"]
    assert doc["error"].endswith("[http] takes " + ", ".join(sorted(HttpConfig.model_fields)))


def test_a_misspelt_variable_is_named_as_the_variable(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUREOND_HTTP__LISTN", "127.0.0.1:8787")
    code, doc = _check(capsys)
    assert (code, doc["key"]) == (3, "AUREOND_HTTP__LISTN")
    assert "did you mean AUREOND_HTTP__LISTEN?" in doc["error"]


def test_an_unknown_network_lists_the_built_in_ones_and_how_to_load_another(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUREOND_NETWORK", "aureon-dev")
    code, doc = _check(capsys)
    assert (code, doc["key"]) == (3, "network")
    error = doc["error"]
    assert f"built in: {', '.join(network_names())}." in error
    assert 'network_profile = "path.toml" in the config file' in error
    assert "AUREOND_NETWORK_PROFILE=path.toml" in error
    assert "config/networks/example.toml" in error


def test_following_the_advice_with_the_variable_loads_the_profile(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUREOND_NETWORK", "aureon-dev")
    monkeypatch.setenv("AUREOND_NETWORK_PROFILE", str(EXAMPLE))
    code, doc = _check(capsys)
    assert (code, doc["ok"], doc["network"]) == (0, True, "aureon-dev")


def test_following_the_advice_with_the_config_file_loads_the_profile(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "aureond.toml"
    path.write_text(f'network = "aureon-dev"\nnetwork_profile = "{EXAMPLE}"\n')
    code, doc = _check(capsys, "--config", str(path))
    assert (code, doc["network"]) == (0, "aureon-dev")


def test_a_near_miss_is_guessed(capsys: pytest.CaptureFixture[str],
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUREOND_NETWORK", "testnet")
    _, doc = _check(capsys)
    assert "unknown network 'testnet' (did you mean testnet" in doc["error"]


def test_run_says_the_same(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--network", "aureon-dev", "--data-dir", str(tmp_path)]) == 3
    err = capsys.readouterr().err
    assert err.startswith("aureond: configuration error: network: unknown network")
    assert "AUREOND_NETWORK_PROFILE=path.toml" in err


def test_headers_verify_points_at_its_profile_option(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blob = tmp_path / "headers.bin"
    blob.write_bytes(bytes(80))
    assert main(["headers", "verify", "--network", "aureon-dev", str(blob)]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert f"built in: {', '.join(network_names())}." in error
    assert error.endswith("then pass it with --profile FILE")
