"""Hostile HTTP clients against the real daemon, and what a monitoring probe sees.

Run by hand: ``.venv/bin/python -m bench.bench_http_abuse [--flood-seconds S] ...``.

Starts a regtest reference node on loopback, mines a few blocks, and runs
``python -m aureond run`` following it with the open-file limit of the systemd unit
(``LimitNOFILE=4096``) and the shipped defaults. Then, one after the other:

1. *aborts*: 100 ``POST /v1/proofs/verify`` that hang up halfway through the body
   (half with FIN, half with RST); then ``/health``'s status, its ``errors:rate``
   check, the 5xx answers in ``/metrics`` and the tracebacks in the log;
2. *flood*: 8 keep-alive connections sending ``GET /v1/status`` as fast as answered
   for ``--flood-seconds`` while a probe fetches ``/health`` every 50 ms on a fresh
   connection; the probe's answers by status and latency quantiles;
3. *slowloris*: 200 connections sending a request head one header line every 0.2 s,
   never finished; how many the daemon closed within ``--slowloris-seconds``;
4. *idle*: ``--idle`` (5,000) connections that send nothing, held while the probe
   fetches ``/health`` 20 times; how many it got answered;
5. *malformed*: 25 broken request lines; the log's error lines with a traceback;
6. *expect*: ``Expect: 100-continue`` with ``Content-Length: 100000000``: the interim
   and final status.

The load is bounded: counts and deadlines above, loopback only. Numbers depend on the
machine (two shared cores here); compare runs of the same machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from aureond.devnet import RegtestNode, ensure_node_binaries
from tests.integration.daemon import DaemonProcess, wait_for
from tests.integration.hostile import (
    abort_post,
    exchange,
    flood,
    hold_idle,
    parse_metric,
    probe,
    probe_during,
    slowloris,
)

UNIT_NOFILE = 4096
MALFORMED = (
    b"GARBAGE\r\n\r\n",
    b"GET /\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
    b"GET " + b"a" * 10_000 + b" HTTP/1.1\r\n\r\n",
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(32) + b"\r\n\r\n",
)


def _tracebacks(daemon: DaemonProcess) -> int:
    return sum(1 for line in daemon.log_lines() if "exception" in line)


async def _aborts(port: int, count: int = 100) -> dict[str, Any]:
    for i in range(count):
        await abort_post(port, reset=i % 2 == 1)
    await asyncio.sleep(0.5)
    health = await probe(port)
    metrics = await probe(port, "/metrics")
    doc = json.loads(health.body) if health is not None else {}
    errors = doc.get("checks", {}).get("errors:rate", [{}])[0]
    text = metrics.body.decode() if metrics is not None else ""
    return {"health": None if health is None else health.status,
            "status": doc.get("status"), "errors_check": errors.get("status"),
            "error_ratio": errors.get("observedValue"),
            "http_5xx": parse_metric(text, "aureond_http_requests_total",
                                     {"status_class": "5xx"}),
            "client_aborts": parse_metric(text, "aureond_http_client_aborts_total")}


async def _flood(port: int, seconds: float) -> dict[str, Any]:
    stop = asyncio.Event()
    prober = asyncio.create_task(probe_during(port, stop))
    counts = await flood(port, seconds)
    stop.set()
    log = await prober
    return {"flood_answers": dict(sorted(counts.items())), "probe": log.statuses,
            "probe_p50_ms": round(log.quantile(0.5) * 1000, 1),
            "probe_p99_ms": round(log.quantile(0.99) * 1000, 1)}


async def _idle(port: int, connections: int) -> dict[str, Any]:
    async with hold_idle(port, connections) as opened:
        answers = [await probe(port, within=2.0) for _ in range(20)]
    return {"opened": opened,
            "probe_answered": sum(1 for a in answers if a is not None),
            "probe_200": sum(1 for a in answers if a is not None and a.status == 200)}


async def _malformed(port: int, daemon: DaemonProcess) -> dict[str, Any]:
    before = _tracebacks(daemon)
    statuses = []
    for i in range(25):
        answer = await exchange(port, MALFORMED[i % len(MALFORMED)], within=2.0)
        statuses.append(None if answer is None else answer.status)
    await asyncio.sleep(0.3)
    return {"answers": sorted({str(s) for s in statuses}),
            "tracebacks_logged": _tracebacks(daemon) - before}


async def _expect(port: int) -> dict[str, Any]:
    head = (b"POST /v1/proofs/verify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
            b"\r\nContent-Length: 100000000\r\nExpect: 100-continue\r\n\r\n")
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(head)
        line = await asyncio.wait_for(reader.readline(), 5)
        return {"first_status_line": line.decode().strip()}
    finally:
        writer.close()


async def scenarios(daemon: DaemonProcess, args: argparse.Namespace) -> dict[str, Any]:
    port = daemon.http_port
    out: dict[str, Any] = {}
    out["aborts"] = await _aborts(port)
    out["flood"] = await _flood(port, args.flood_seconds)
    started = time.monotonic()
    closed, last = await slowloris(port, 200, args.slowloris_seconds)
    out["slowloris"] = {"connections": 200, "closed": closed,
                        "last_closed_s": round(last, 2), "window_s": args.slowloris_seconds,
                        "took_s": round(time.monotonic() - started, 1)}
    out["idle"] = await _idle(port, args.idle)
    out["malformed"] = await _malformed(port, daemon)
    out["expect"] = await _expect(port)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood-seconds", type=float, default=8.0)
    parser.add_argument("--slowloris-seconds", type=float, default=15.0)
    parser.add_argument("--idle", type=int, default=5000)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aureond-bench-http-") as tmp:
        work = Path(tmp)
        node = RegtestNode(ensure_node_binaries(), work / "node").start()
        try:
            node.generate(10)
            host, p2p = node.p2p_addr
            with DaemonProcess(work / "aureond", connect=[f"{host}:{p2p}"],
                               nofile=UNIT_NOFILE) as daemon:
                daemon.start()
                daemon.wait_height(10)
                wait_for(lambda: (daemon.get("/health") or (0,))[0] == 200, 20,
                         "/health 200")
                results = asyncio.run(scenarios(daemon, args))
        finally:
            node.close()
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
