"""Shared test fixtures: where the real chain data is.

Real data lives outside the repository. Tests find it through ``AUREOND_TEST_DATA``
(default ``../shared/data`` from the project root). Without it they skip with the reason;
with ``AUREOND_REQUIRE_DATA=1`` (set by ``.ci/run``) its absence is a failure.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _data_dir() -> Path:
    env = os.environ.get("AUREOND_TEST_DATA")
    return Path(env) if env else (ROOT.parent / "shared" / "data")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real chain data directory; skips (or fails under CI) when absent."""
    path = _data_dir()
    if not (path / "README.md").is_file():
        message = (f"real chain data not found at {path}; set AUREOND_TEST_DATA to the "
                   "shared data directory")
        if os.environ.get("AUREOND_REQUIRE_DATA") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path
