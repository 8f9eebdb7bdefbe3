"""Logging: JSON lines for machines, a readable console for people, one renderer for
structlog and the standard library alike."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

from aureond.service.logging import configure_logging


class _Stdout(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    access_level = logging.getLogger("aiohttp.access").level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(access_level)


def _configured(monkeypatch: pytest.MonkeyPatch, *, tty: bool, level: str = "info",
                fmt: Any = "auto") -> _Stdout:
    out = _Stdout(tty)
    monkeypatch.setattr("sys.stdout", out)
    configure_logging(level, fmt)
    return out


def _json_lines(out: _Stdout) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.getvalue().splitlines()]


@pytest.mark.parametrize(("tty", "fmt", "as_json"), [
    (False, "auto", True), (True, "auto", False), (True, "json", True),
    (False, "console", False)])
def test_format_follows_the_terminal_unless_told(monkeypatch: pytest.MonkeyPatch, tty: bool,
                                                 fmt: str, as_json: bool) -> None:
    out = _configured(monkeypatch, tty=tty, fmt=fmt)
    structlog.get_logger("aureond.node").info("node.ready", height=300, peers=1)
    text = re.sub(r"\x1b\[[0-9;]*m", "", out.getvalue())  # colour codes on a terminal
    if as_json:
        (line,) = _json_lines(out)
        assert (line["event"], line["height"], line["peers"], line["level"]) == (
            "node.ready", 300, 1, "info")
        assert line["timestamp"].endswith("Z")
    else:
        assert not text.lstrip().startswith("{")
        assert "node.ready" in text
        assert "height=300" in text
        assert "peers=1" in text


def test_console_has_colour_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    piped = _configured(monkeypatch, tty=False, fmt="console")
    structlog.get_logger().warning("chain.reorg", depth=2)
    assert "\x1b[" not in piped.getvalue()
    terminal = _configured(monkeypatch, tty=True, fmt="console")
    structlog.get_logger().warning("chain.reorg", depth=2)
    assert "\x1b[" in terminal.getvalue()


def test_standard_library_loggers_render_the_same_way(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _configured(monkeypatch, tty=False)
    logging.getLogger("asyncio").error("Task was destroyed but it is pending!")
    (line,) = _json_lines(out)
    assert (line["event"], line["level"]) == ("Task was destroyed but it is pending!", "error")


def test_level_filters_both_kinds_of_logger(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _configured(monkeypatch, tty=False, level="warning")
    log = structlog.get_logger("aureond.node")
    log.info("chain.tip", height=1)
    log.debug("p2p.message", command="ping")
    logging.getLogger("aiohttp.server").info("dropped")
    log.warning("chain.stale_tip", age_seconds=9000)
    assert [line["event"] for line in _json_lines(out)] == ["chain.stale_tip"]


def test_debug_level_lets_debug_through(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _configured(monkeypatch, tty=False, level="debug")
    structlog.get_logger().debug("store.flush_skipped", error="closed")
    assert [line["level"] for line in _json_lines(out)] == ["debug"]


def test_access_log_is_quiet_below_warning(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _configured(monkeypatch, tty=False, level="debug")
    logging.getLogger("aiohttp.access").info("GET /metrics 200")
    assert out.getvalue() == ""


def test_bound_context_reaches_every_line(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _configured(monkeypatch, tty=False)
    structlog.contextvars.bind_contextvars(peer="127.0.0.1:18444")
    structlog.get_logger().info("p2p.connected", user_agent="/node:1/")
    logging.getLogger("aureond.http").info("plain stdlib line")
    lines = _json_lines(out)
    assert [line["peer"] for line in lines] == ["127.0.0.1:18444", "127.0.0.1:18444"]


def test_exceptions_are_rendered_into_the_line(monkeypatch: pytest.MonkeyPatch) -> None:
    out = _configured(monkeypatch, tty=False)
    try:
        raise RuntimeError("disk on fire")
    except RuntimeError as exc:
        structlog.get_logger().error("node.fatal", error=repr(exc), exc_info=exc)
    (line,) = _json_lines(out)
    assert line["event"] == "node.fatal"
    assert "RuntimeError: disk on fire" in line["exception"]
