"""HTTP load generator for ``api-load``, run as its own process (``python -m``).

Open-loop: requests to each endpoint start at a fixed rate whatever the answers do, so
a slow server shows up as latency, not as a lower request rate. At most
``max_outstanding`` requests are in flight; a start that would exceed it is counted as
``skipped``. Reads one JSON object on stdin::

    {"base": "http://127.0.0.1:PORT", "seconds": S, "max_outstanding": N,
     "rates": {"health": R, "metrics": R, "proof": R}, "proofs": [{...}, ...]}

Once its first ``/health`` request has been answered (server up, connection open) it
writes ``ready`` and a newline to stdout, and only then starts the clock and the
load: the caller starts what it wants measured on that line. At the end it writes one
JSON object to the file named by its one argument:
``{"samples": [[kind, start, seconds, status, ok, height], ...], "skipped": N}``.
``start`` is ``time.monotonic()`` (the same clock in every process of this machine);
``ok`` says the body had the expected form (for a proof: ``"valid": true``);
``height`` is the proof's block height (0 otherwise).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

__all__ = ["main"]

REQUEST_TIMEOUT = 5.0
Sample = tuple[str, float, float, int, bool, int]


class _Load:
    def __init__(self, session: aiohttp.ClientSession, config: dict[str, Any]) -> None:
        self._session = session
        self._base = str(config["base"])
        self._proofs: list[dict[str, Any]] = list(config.get("proofs", []))
        self._max = int(config.get("max_outstanding", 256))
        self._outstanding = 0
        self._next_proof = 0
        self.samples: list[Sample] = []
        self.skipped = 0
        self._tasks: set[asyncio.Task[None]] = set()

    async def _one(self, kind: str) -> None:
        height = 0
        start = time.monotonic()
        status, ok = 0, False
        try:
            async with asyncio.timeout(REQUEST_TIMEOUT):
                if kind == "proof":
                    proof = self._proofs[self._next_proof % len(self._proofs)]
                    self._next_proof += 1
                    height = int(proof["block_height"])
                    async with self._session.post(f"{self._base}/v1/proofs/verify",
                                                  json=proof) as resp:
                        status = resp.status
                        body = await resp.json(content_type=None)
                        ok = isinstance(body, dict) and body.get("valid") is True
                else:
                    path = "/health" if kind == "health" else "/metrics"
                    async with self._session.get(self._base + path) as resp:
                        status = resp.status
                        text = await resp.text()
                        ok = ('"status"' in text) if kind == "health" else (
                            "aureond_" in text)
        except (aiohttp.ClientError, TimeoutError, ValueError):
            status, ok = 0, False
        finally:
            self._outstanding -= 1
        self.samples.append((kind, start, time.monotonic() - start, status, ok, height))

    async def _pace(self, kind: str, rate: float, until: float) -> None:
        if rate <= 0 or (kind == "proof" and not self._proofs):
            return
        interval = 1.0 / rate
        due = time.monotonic()
        while due < until:
            if self._outstanding >= self._max:
                self.skipped += 1
            else:
                self._outstanding += 1
                task = asyncio.create_task(self._one(kind))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            due += interval
            delay = due - time.monotonic()
            await asyncio.sleep(max(0.0, delay))

    async def warm_up(self) -> None:
        """One unrecorded ``/health`` request, retried until the server answers."""
        deadline = time.monotonic() + REQUEST_TIMEOUT
        while True:
            try:
                async with asyncio.timeout(REQUEST_TIMEOUT), \
                        self._session.get(self._base + "/health") as resp:
                    await resp.read()
                    return
            except (aiohttp.ClientError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.01)

    async def run(self, seconds: float, rates: dict[str, float]) -> None:
        until = time.monotonic() + seconds
        async with asyncio.TaskGroup() as group:
            for kind, rate in rates.items():
                group.create_task(self._pace(kind, float(rate), until))
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=REQUEST_TIMEOUT + 1)


async def _main(config: dict[str, Any]) -> dict[str, Any]:
    connector = aiohttp.TCPConnector(limit=int(config.get("max_outstanding", 256)))
    async with aiohttp.ClientSession(connector=connector) as session:
        load = _Load(session, config)
        await load.warm_up()
        os.write(sys.stdout.fileno(), b"ready\n")  # one short line, before the load
        await load.run(float(config["seconds"]), dict(config["rates"]))
    return {"samples": load.samples, "skipped": load.skipped}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m aureond.stress.loadgen OUT_FILE < config.json\n")
        return 2
    config = json.loads(sys.stdin.read())
    result = uvloop.run(_main(config))
    # A file, not stdout: the event loop may have left the stdout pipe non-blocking.
    Path(args[0]).write_text(json.dumps(result), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
