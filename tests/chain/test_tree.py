"""The header tree: fork choice by most work, first seen on ties, typed results."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from aureond.chain.context import anchor_context, genesis_context
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.params import MAINNET, REGTEST, TESTNET3
from aureond.chain.tree import HeaderTree, TipChanged, TipUnchanged
from aureond.errors import HeaderRejectedError, UnconnectedHeadersError
from tests.chain.helpers import FAR_FUTURE, chain_of, easy_params, mine, read_run

START = 822528


def _mainnet_tree(data_dir: Path, upto: int | None = None) -> tuple[HeaderTree, bytes]:
    raw, _ = read_run(data_dir, "mainnet_822528-830592")
    anchor = BlockHeader.parse(raw[:HEADER_SIZE])
    tree = HeaderTree(MAINNET, anchor_context(MAINNET, anchor, START), raw[:HEADER_SIZE])
    end = len(raw) if upto is None else (upto - START + 1) * HEADER_SIZE
    result = tree.add(raw[HEADER_SIZE:end], FAR_FUTURE)
    assert isinstance(result, TipChanged)
    assert not result.is_reorg
    return tree, raw


def _stale(data_dir: Path) -> list[dict[str, object]]:
    doc = json.loads((data_dir / "headers" / "mainnet_stale_headers.json").read_text())
    return sorted(doc["entries"], key=lambda e: e["height"])


def test_real_run_extends_tip(data_dir: Path) -> None:
    tree, raw = _mainnet_tree(data_dir)
    assert tree.tip.height == 830592
    assert tree.tip.raw == raw[-HEADER_SIZE:]
    assert tree.best_at(830000) is not None


def test_real_stale_header_after_main_keeps_first_seen(data_dir: Path) -> None:
    tree, _ = _mainnet_tree(data_dir)
    tip = tree.tip
    for entry in _stale(data_dir):
        stale = BlockHeader.from_hex(str(entry["stale_header"]))
        result = tree.add([stale], FAR_FUTURE)
        assert isinstance(result, TipUnchanged)
        assert result.added[0].height == entry["height"]
        assert tree.tip is tip
        assert not tree.on_best_chain(stale.hash)


def test_real_stale_first_then_main_branch_wins_by_work(data_dir: Path) -> None:
    entry = _stale(data_dir)[0]
    height = int(entry["height"])  # type: ignore[call-overload]
    tree, raw = _mainnet_tree(data_dir, upto=height - 1)
    stale = BlockHeader.from_hex(str(entry["stale_header"]))
    first = tree.add([stale], FAR_FUTURE)
    assert isinstance(first, TipChanged)
    assert first.tip.hash == stale.hash
    main = raw[(height - START) * HEADER_SIZE:(height - START + 1) * HEADER_SIZE]
    tie = tree.add(main, FAR_FUTURE)
    assert isinstance(tie, TipUnchanged)          # equal work: the stale one was first
    assert tree.tip.hash == stale.hash
    nxt = raw[(height - START + 1) * HEADER_SIZE:(height - START + 3) * HEADER_SIZE]
    reorg = tree.add(nxt, FAR_FUTURE)
    assert isinstance(reorg, TipChanged)
    assert reorg.depth == 1
    assert [n.hash for n in reorg.reverted] == [stale.hash]
    assert [n.height for n in reorg.connected] == [height, height + 1, height + 2]
    assert reorg.fork_height == height - 1
    assert not tree.on_best_chain(stale.hash)


def test_testnet3_low_work_fork_at_genesis(data_dir: Path) -> None:
    raw, _ = read_run(data_dir, "testnet3_000000-009999")
    doc = json.loads((data_dir / "headers" / "testnet3_fork_headers.json").read_text())
    forks = [BlockHeader.from_hex(e["header"]) for e in doc["entries"]]
    tree = HeaderTree(TESTNET3, genesis_context(TESTNET3), raw[:HEADER_SIZE])
    tree.add(raw[HEADER_SIZE:4 * HEADER_SIZE], FAR_FUTURE)  # heights 1..3
    result = tree.add(forks, FAR_FUTURE)
    assert isinstance(result, TipUnchanged)
    assert tree.tip.height == 3
    # Once the chain is past the checkpoint at 546, forks below it are refused.
    tree.add(raw[4 * HEADER_SIZE:600 * HEADER_SIZE], FAR_FUTURE)
    fresh = HeaderTree(TESTNET3, genesis_context(TESTNET3), raw[:HEADER_SIZE])
    fresh.add(raw[HEADER_SIZE:600 * HEADER_SIZE], FAR_FUTURE)
    with pytest.raises(HeaderRejectedError) as info:
        fresh.add(forks, FAR_FUTURE)
    assert info.value.reason == "fork-before-checkpoint"


def test_unconnected_headers_raise_typed_error(data_dir: Path) -> None:
    tree, raw = _mainnet_tree(data_dir, upto=START + 10)
    orphan = raw[20 * HEADER_SIZE:21 * HEADER_SIZE]
    with pytest.raises(UnconnectedHeadersError) as info:
        tree.add(orphan, FAR_FUTURE)
    assert info.value.prev_hash == orphan[4:36]


def test_overlapping_resend_is_idempotent(data_dir: Path) -> None:
    tree, raw = _mainnet_tree(data_dir, upto=START + 100)
    again = tree.add(raw[50 * HEADER_SIZE:101 * HEADER_SIZE], FAR_FUTURE)
    assert isinstance(again, TipUnchanged)
    assert again.added == ()
    more = tree.add(raw[90 * HEADER_SIZE:111 * HEADER_SIZE], FAR_FUTURE)
    assert isinstance(more, TipChanged)
    assert [n.height for n in more.connected] == list(range(START + 101, START + 111))


def test_invalid_batch_adds_nothing(data_dir: Path) -> None:
    tree, raw = _mainnet_tree(data_dir, upto=START + 10)
    bad = bytearray(raw[11 * HEADER_SIZE:20 * HEADER_SIZE])
    bad[5 * HEADER_SIZE + 76] ^= 1  # nonce of the 6th header
    size = len(tree)
    with pytest.raises(HeaderRejectedError) as info:
        tree.add(bytes(bad), FAR_FUTURE)
    assert info.value.height == START + 16
    assert len(tree) == size
    assert tree.tip.height == START + 10


def _regtest_tree(window: int | None = None) -> tuple[HeaderTree, BlockHeader]:
    params = easy_params(REGTEST, retarget_interval=16)
    anchor = mine(b"\x01" * 32, 1_600_000_000, REGTEST.pow_limit_bits)
    return (HeaderTree(params, anchor_context(params, anchor, 32), anchor.serialize(),
                       window=window), anchor)


def test_longer_side_branch_reorgs_with_reverted_and_connected() -> None:
    tree, anchor = _regtest_tree()
    main = chain_of(tree.params, anchor, 5, salt=1)
    tree.add(main, FAR_FUTURE)
    side = chain_of(tree.params, main[1], 5, salt=2)  # forks at main[1], reaches +7
    result = tree.add(side[:3], FAR_FUTURE)
    assert isinstance(result, TipUnchanged)  # 5 vs 5 headers: equal work, first seen
    result = tree.add(side[3:], FAR_FUTURE)
    assert isinstance(result, TipChanged)
    assert [n.hash for n in result.reverted] == [h.hash for h in reversed(main[2:])]
    assert [n.hash for n in result.connected] == [h.hash for h in side]
    assert result.fork_height == 32 + 2
    assert tree.tip.height == 32 + 7
    assert [n.height for n in tree.best_chain()] == list(range(32, 40))


def test_window_prunes_and_forks_in_the_middle_still_validate() -> None:
    window = 16 + 11
    tree, anchor = _regtest_tree(window=window)
    headers = chain_of(tree.params, anchor, 200, spacing=30, salt=3)
    for i in range(0, 200, 7):
        tree.add(headers[i:i + 7], FAR_FUTURE)
    assert tree.tip.height == 232
    assert len(tree) <= window + 1
    assert tree.base_height == 232 - window
    # A fork from the middle of the window validates against a rebuilt context.
    parent = headers[185]
    fork = chain_of(tree.params, parent, 20, spacing=31, salt=4)
    result = tree.add(fork, FAR_FUTURE)
    assert isinstance(result, TipChanged)
    assert result.depth == 200 - 186
    # A header on a pruned ancestor no longer connects.
    stale = chain_of(tree.params, headers[10], 1, salt=5)
    with pytest.raises(UnconnectedHeadersError):
        tree.add(stale, FAR_FUTURE)


def test_locator_shape() -> None:
    tree, anchor = _regtest_tree()
    headers = chain_of(tree.params, anchor, 100, spacing=30, salt=6)
    tree.add(headers, FAR_FUTURE)
    loc = tree.locator()
    heights = [tree.get(h).height for h in loc]  # type: ignore[union-attr]
    assert heights[:10] == list(range(132, 122, -1))
    assert heights[-1] == 32
    steps = [a - b for a, b in itertools.pairwise(heights)]
    assert steps[:9] == [1] * 9
    body = steps[:-1]  # the last step lands on the root, whatever its size
    assert all(s2 >= s1 for s1, s2 in itertools.pairwise(body))
    assert len(loc) < 25


@pytest.mark.parametrize("step", [250, 2000])
def test_slack_pruning_keeps_the_same_chain_and_contexts_on_real_retargets(
        data_dir: Path, step: int) -> None:
    """Four real mainnet retargets go through a tree that prunes to retarget
    boundaries (window of one period, slack) and one that never prunes: every add
    gives the same result and the same tip context, the pruned tree stays bounded,
    and after the last prune a fork below the old tip still validates the same."""
    raw, meta = read_run(data_dir, "mainnet_822528-830592")
    start = int(meta["start_height"])
    anchor = BlockHeader.parse(raw[:HEADER_SIZE])
    ctx = anchor_context(MAINNET, anchor, start)
    window = MAINNET.retarget_interval + 11
    pruned = HeaderTree(MAINNET, ctx, raw[:HEADER_SIZE], window=window, prune_slack=300)
    full = HeaderTree(MAINNET, ctx, raw[:HEADER_SIZE])
    body = raw[HEADER_SIZE:]
    roots = set()
    for offset in range(0, len(body), step * HEADER_SIZE):
        chunk = body[offset:offset + step * HEADER_SIZE]
        a, b = pruned.add(chunk, FAR_FUTURE), full.add(chunk, FAR_FUTURE)
        assert type(a) is type(b)
        assert a.tip.hash == b.tip.hash
        assert pruned.tip_context == full.tip_context
        assert len(pruned) <= window + 300 + MAINNET.retarget_interval + step + 1
        roots.add(pruned.base_height)
    assert pruned.tip.height == int(meta["end_height"])
    # it did prune, always to retarget boundaries
    assert len(roots) >= 3
    assert all(r == start or r % MAINNET.retarget_interval == 0 for r in roots)
    assert pruned.base_height >= pruned.tip.height - window - 300 - MAINNET.retarget_interval
    # a context rebuilt from the pruned root equals the unpruned one
    middle = pruned.tip.height - 1000
    node = pruned.best_at(middle)
    assert node is not None
    assert pruned.context_of(node.hash) == full.context_of(node.hash)
