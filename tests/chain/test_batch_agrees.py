"""The fast batch validator agrees with the reference rules on any mutated real run."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aureond.chain.batch import _slow, validate_batch
from aureond.chain.context import anchor_context
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.params import get_network
from aureond.errors import EncodingError, HeaderRejectedError
from tests.chain.helpers import FAR_FUTURE, read_run

RUNS = {"mainnet": ("mainnet_822528-830592", 822528),
        "testnet3": ("testnet3_000000-009999", 0)}


def _outcome(fn: object, *args: object) -> tuple[object, ...]:
    try:
        result = fn(*args)  # type: ignore[operator]
    except HeaderRejectedError as exc:
        return ("rejected", exc.height, exc.reason, exc.field)
    except EncodingError as exc:
        return ("encoding", str(exc))
    return ("ok", result.context, tuple(result.hashes), tuple(result.works))


@pytest.mark.parametrize("network", sorted(RUNS))
def test_batch_agrees_with_reference_under_mutation(data_dir: Path, network: str) -> None:
    name, start = RUNS[network]
    raw, _ = read_run(data_dir, name)
    params = get_network(network)
    ctx0 = anchor_context(params, BlockHeader.parse(raw[:HEADER_SIZE]), start)
    # A context a little way in, so windows are full and boundaries can be crossed.
    skip = 4000 if network == "testnet3" else 2000
    ctx = validate_batch(params, ctx0, raw[HEADER_SIZE:(skip + 1) * HEADER_SIZE],
                         FAR_FUTURE).context
    body = raw[(skip + 1) * HEADER_SIZE:(skip + 1 + 300) * HEADER_SIZE]

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(index=st.integers(0, 299), offset=st.integers(0, 79), xor=st.integers(1, 255),
           now_back=st.sampled_from([0, 10**9]))
    def check(index: int, offset: int, xor: int, now_back: int) -> None:
        mutated = bytearray(body)
        mutated[index * HEADER_SIZE + offset] ^= xor
        now = FAR_FUTURE - now_back
        data = bytes(mutated)
        assert _outcome(validate_batch, params, ctx, data, now) == \
            _outcome(_slow, params, ctx, data, now)

    check()


def test_truncated_input_is_an_encoding_error(data_dir: Path) -> None:
    raw, _ = read_run(data_dir, "mainnet_000000-010236")
    params = get_network("mainnet")
    ctx = anchor_context(params, BlockHeader.parse(raw[:HEADER_SIZE]), 0)
    with pytest.raises(EncodingError, match="multiple of 80"):
        validate_batch(params, ctx, raw[HEADER_SIZE:HEADER_SIZE * 30 - 1], FAR_FUTURE)
