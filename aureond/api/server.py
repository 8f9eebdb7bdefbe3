"""The listener: aiohttp's runner behind the connection guard, and its server log.

:class:`GuardedSite` is aiohttp's ``TCPSite`` with every accepted socket wrapped in a
:class:`~aureond.api.connections.GuardedConnection` and a task that sweeps the guard's
deadlines while the site runs.

:class:`ServerLog` is the logger aiohttp's request handler reports to. A request that
cannot be parsed (a broken request line, a header too long, TLS on the plain port) is
the client's mistake: one ``http.bad_request`` line at info, no traceback (aiohttp
itself files non-HTTP bytes on a fresh connection under debug and the rest under error
with a traceback). A client that hung up is a debug line. Anything else stays an error
with its traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from aiohttp import web
from aiohttp.http import HttpProcessingError

from aureond.api.connections import ConnectionGuard, GuardedConnection, sweep_forever
from aureond.clock import Clock

__all__ = ["LINGER_SECONDS", "GuardedSite", "ServerLog", "runner_options"]

_log = structlog.get_logger("aureond.api")

_MAX_ECHO = 120
LINGER_SECONDS = 2.0
"""Longest drain of an unread request body before closing (so the client still gets
our answer instead of a reset)."""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(getattr(exc, "message", "") or exc).split())
    return text if len(text) <= _MAX_ECHO else text[:_MAX_ECHO] + "..."


class ServerLog(logging.LoggerAdapter[logging.Logger]):
    """aiohttp's ``aiohttp.server`` logger, with client mistakes made one line each.

    ``on_bad_request`` is called for every request aiohttp could not parse (it answers
    400 and closes the connection).
    """

    def __init__(self, on_bad_request: Callable[[], None] | None = None) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self._on_bad_request = on_bad_request

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if isinstance(exc, HttpProcessingError):
            if self._on_bad_request is not None:
                self._on_bad_request()
            _log.info("http.bad_request", status=exc.code or 400, error=type(exc).__name__,
                      detail=_one_line(exc), remote=_remote(args))
            return
        if isinstance(exc, ConnectionError):
            _log.debug("http.client_aborted", remote=_remote(args))
            return
        super().log(level, msg, *args, **kwargs)

    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        return msg, kwargs  # no adapter context: pass through as aiohttp logged it


def _remote(args: tuple[object, ...]) -> str | None:
    """aiohttp logs "Error handling request from %s" with the peer address."""
    return str(args[0]) if args else None


class GuardedSite(web.BaseSite):
    """Listen on ``host:port`` with ``guard`` in front of every connection."""

    __slots__ = ("_clock", "_guard", "_host", "_port", "_sweeper")

    def __init__(self, runner: web.BaseRunner, host: str, port: int, *,
                 guard: ConnectionGuard, clock: Clock, backlog: int = 128) -> None:
        super().__init__(runner, backlog=backlog)
        self._host = host
        self._port = port
        self._guard = guard
        self._clock = clock
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def guard(self) -> ConnectionGuard:
        return self._guard

    @property
    def name(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        server = self._runner.server
        if server is None:
            raise RuntimeError("call runner.setup() before starting the site")
        guard = self._guard

        def connection() -> GuardedConnection:
            return GuardedConnection(guard, server)

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(connection, self._host, self._port,
                                                backlog=self._backlog)
        self._sweeper = loop.create_task(sweep_forever(guard, self._clock),
                                         name="http-connection-sweeper")

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        await super().stop()


def runner_options(*, idle_timeout: float, body_timeout: float,
                   on_bad_request: Callable[[], None] | None) -> Mapping[str, Any]:
    """aiohttp's own request-handler options that go with the guard.

    aiohttp's keep-alive close stays on as a backstop at twice ``idle_timeout`` (the
    guard closes first and counts it); an unread request body is drained for at most
    ``min(2 s, body_timeout)`` before the connection closes.
    """
    return {"keepalive_timeout": 2 * idle_timeout,
            "lingering_time": min(LINGER_SECONDS, body_timeout),
            "logger": ServerLog(on_bad_request)}
