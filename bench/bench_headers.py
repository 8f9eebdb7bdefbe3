"""Header validation throughput on the real header runs, next to a hashlib floor.

Run: ``.venv/bin/python -m bench.bench_headers`` (single process, one core).
The floor is a bare double-SHA256 loop over the same bytes with no checks at all.
"""

from __future__ import annotations

from hashlib import sha256

from aureond.chain.batch import validate_batch
from aureond.chain.context import anchor_context
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.params import get_network
from bench.common import data_dir, markdown_table, median_rate

RUNS = [("mainnet_000000-010236", "mainnet", 0),
        ("mainnet_822528-830592", "mainnet", 822528),
        ("testnet3_000000-009999", "testnet3", 0),
        ("signet_000000-002015", "signet", 0)]
BATCH = 2000  # headers per P2P `headers` message
NOW = 4_000_000_000


def _floor(body: bytes) -> int:
    s = sha256
    mv = memoryview(body)
    for o in range(0, len(body), HEADER_SIZE):
        s(s(mv[o:o + HEADER_SIZE]).digest()).digest()
    return len(body) // HEADER_SIZE


def main() -> None:
    rows = []
    total_rate, total_floor = [], []
    for name, network, start in RUNS:
        raw = (data_dir() / "headers" / f"{name}.bin").read_bytes()
        params = get_network(network)
        ctx0 = anchor_context(params, BlockHeader.parse(raw[:HEADER_SIZE]), start)
        body = raw[HEADER_SIZE:]

        def validate(body: bytes = body, params: object = params,
                     ctx0: object = ctx0) -> int:
            ctx = ctx0
            for o in range(0, len(body), BATCH * HEADER_SIZE):
                ctx = validate_batch(params, ctx, body[o:o + BATCH * HEADER_SIZE],  # type: ignore[arg-type]
                                     NOW).context
            return len(body) // HEADER_SIZE

        rate, _ = median_rate(validate)
        floor, _ = median_rate(lambda body=body: _floor(body))  # type: ignore[misc]
        total_rate.append(rate)
        total_floor.append(floor)
        rows.append((name, f"{len(body) // HEADER_SIZE:,}", f"{rate:,.0f}", f"{floor:,.0f}",
                     f"{floor / rate:.2f}x"))
    print(markdown_table(["run", "headers", "aureond full validation (headers/s)",
                          "hashlib dSHA256 floor (headers/s)", "floor / aureond"], rows))


if __name__ == "__main__":
    main()
