"""Fixtures that run a real full node in regtest, of each kind.

``node_kind`` is parametrized over the two real nodes (``aureond.devnet.kinds``): the
Bitcoin SV reference node and Litecoin Core. Every test that uses a node fixture runs
once per kind, unless it (or its module, through ``pytestmark``) is marked
``node_kinds("sv")`` or similar. The SV
binaries are fetched once per machine and cached (see ``aureond.devnet.binary``);
``litecoind`` comes from the system package. If a node cannot be had, tests that need
it skip with the reason, or fail when ``CI`` is set, where a silent skip would hide a
broken pipeline.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aureond.devnet import (
    KINDS,
    DevnetError,
    NodeBinaries,
    NodeBinaryError,
    NodeKind,
    RegtestNode,
    ensure_binaries,
)

_NODE_FIXTURES = frozenset({"node_kind", "node_binaries", "regtest_node",
                            "shared_regtest_node", "node_pair"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Any test that uses a node fixture is a ``regtest`` test, marked or not, so
    ``-m "not regtest"`` leaves out exactly the tests that need the node."""
    for item in items:
        if _NODE_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.regtest)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in {"", "0", "false", "no"}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each real-node test once per node kind (or the kinds its marker names)."""
    if "node_kind" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("node_kinds")
    names = [str(a) for a in marker.args] if marker is not None else sorted(KINDS)
    unknown = sorted(set(names) - set(KINDS))
    if unknown:
        raise pytest.UsageError(f"node_kinds: unknown kind(s) {unknown}; one of {sorted(KINDS)}")
    metafunc.parametrize("node_kind", names, indirect=True, scope="session", ids=names)


@pytest.fixture(scope="session")
def node_kind(request: pytest.FixtureRequest) -> NodeKind:
    """Which real node: ``sv`` (Bitcoin SV 1.0.13) or ``litecoin`` (Litecoin Core)."""
    return KINDS[str(request.param)]


@pytest.fixture(scope="session")
def node_binaries(node_kind: NodeKind) -> NodeBinaries:
    """The node's binaries (the SV node's downloaded on first use)."""
    try:
        return ensure_binaries(node_kind)
    except NodeBinaryError as exc:
        message = f"{node_kind.name} node unavailable: {exc}"
        if _in_ci():
            pytest.fail(message)
        pytest.skip(message)


def _start(binaries: NodeBinaries, datadir: Path) -> RegtestNode:
    return RegtestNode(binaries, datadir).start()


def _teardown(node: RegtestNode) -> None:
    if node.running:
        with contextlib.suppress(DevnetError):
            node.rpc.clearbanned()
    node.close()


@pytest.fixture
def regtest_node(node_binaries: NodeBinaries, tmp_path: Path) -> Iterator[RegtestNode]:
    """A started node with a fresh chain (genesis only); always stopped afterwards."""
    node = _start(node_binaries, tmp_path / "node")
    try:
        yield node
    finally:
        _teardown(node)


@pytest.fixture(scope="module")
def shared_regtest_node(node_binaries: NodeBinaries,
                        tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegtestNode]:
    """One node for a whole module, for tests that only read or only append blocks."""
    node = _start(node_binaries, tmp_path_factory.mktemp("shared-node"))
    try:
        yield node
    finally:
        _teardown(node)


@pytest.fixture
def node_pair(node_binaries: NodeBinaries,
              tmp_path: Path) -> Iterator[tuple[RegtestNode, RegtestNode]]:
    """Two started nodes, the first connected to the second; both at genesis."""
    first = _start(node_binaries, tmp_path / "a")
    try:
        second = _start(node_binaries, tmp_path / "b")
        try:
            first.connect(second)
            yield first, second
        finally:
            _teardown(second)
    finally:
        _teardown(first)
