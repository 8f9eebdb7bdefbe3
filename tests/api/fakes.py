"""A fake NodeView over the real mainnet header run 822528..830592.

The best chain is the real run (so block 830000 and its real header are on it, 593
blocks deep at the tip 830592); one real stale header (826263) is held as a side
branch. Sync state, peers and component health are plain attributes a test sets.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aureond.api import HeaderInfo, PeerInfo, SyncInfo, SyncState, TipInfo
from aureond.chain.header import BlockHeader, iter_raw_headers
from aureond.chain.target import work_from_bits
from aureond.clock import FakeClock
from aureond.monitoring.checks import evaluate_peers, evaluate_store, evaluate_sync
from aureond.monitoring.health import ComponentCheck, HealthDashboard, HealthReport, HealthStatus

RUN_START = 822528
BLOCK_830000 = "000000000000000000011d55599ed27d7efca05f5849b755319c89eb2cffbc1f"
STALE_HEIGHT = 826263
# Chain work of mainnet up to and including height 822527 is not in the data set; any
# base works for the API, which only prints it.
BASE_WORK = 0x52A8B9C1E3D5F7


@dataclass(frozen=True, slots=True)
class RealChain:
    """The real header run, parsed once per session."""

    headers: tuple[BlockHeader, ...]
    chainwork: tuple[int, ...]
    stale: BlockHeader

    @property
    def tip_height(self) -> int:
        return RUN_START + len(self.headers) - 1


def load_chain(data_dir: Path) -> RealChain:
    raw = (data_dir / "headers" / "mainnet_822528-830592.bin").read_bytes()
    headers = tuple(BlockHeader.parse(r) for r in iter_raw_headers(raw))
    work, total = [], BASE_WORK
    for h in headers:
        total += work_from_bits(h.bits)
        work.append(total)
    stale_doc = json.loads((data_dir / "headers" / "mainnet_stale_headers.json").read_text())
    entry = next(e for e in stale_doc["entries"] if e["height"] == STALE_HEIGHT)
    stale = BlockHeader.from_hex(entry["stale_header"])
    return RealChain(headers, tuple(work), stale)


def peer(slot: int, state: str = "connected", **extra: object) -> PeerInfo:
    fields: dict[str, object] = {"slot": slot, "address": f"192.0.2.{slot + 1}:8333",
                                 "state": state, "breaker": "closed", "score": 1.0,
                                 "user_agent": "/Satoshi:27.0.0/", "start_height": 830592,
                                 "connected_since": 1_700_000_000.0}
    fields.update(extra)
    return PeerInfo(**fields)  # type: ignore[arg-type]


@dataclass
class FakeView:
    """A NodeView whose answers tests steer through attributes."""

    chain: RealChain
    clock: FakeClock
    network: str = "mainnet"
    version: str = "0.1.0-test"
    best_peer: int | None = 830592
    sync_info: SyncInfo = field(default_factory=lambda: SyncInfo(SyncState.SYNCED, 1.0))
    peer_list: list[PeerInfo] = field(default_factory=lambda: [peer(0), peer(1)])
    store_writable: bool = True
    extra_checks: dict[str, ComponentCheck] = field(default_factory=dict)
    lookups: list[object] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_hash = {h.hash: i for i, h in enumerate(self.chain.headers)}

    def uptime_seconds(self) -> float:
        return 1234.5

    def tip(self) -> TipInfo:
        h = self.chain.headers[-1]
        return TipInfo(self.chain.tip_height, h.hash, self.chain.chainwork[-1], h.time)

    def header_at(self, height: int) -> HeaderInfo | None:
        self.lookups.append(height)
        index = height - RUN_START
        if not 0 <= index < len(self.chain.headers):
            return None
        return HeaderInfo(self.chain.headers[index], height, True)

    def header_by_hash(self, block_hash: bytes) -> HeaderInfo | None:
        self.lookups.append(block_hash)
        if block_hash == self.chain.stale.hash:
            return HeaderInfo(self.chain.stale, STALE_HEIGHT, False)
        index = self._by_hash.get(block_hash)
        if index is None:
            return None
        return HeaderInfo(self.chain.headers[index], RUN_START + index, True)

    def best_peer_height(self) -> int | None:
        return self.best_peer

    def sync(self) -> SyncInfo:
        return self.sync_info

    def peers(self) -> Sequence[PeerInfo]:
        return list(self.peer_list)

    def health(self) -> HealthReport:
        dashboard = HealthDashboard(self.clock, service_id="aureond-mainnet",
                                    version=self.version)
        tip = self.tip()
        connected = sum(1 for p in self.peer_list if p.state == "connected")
        dashboard.register("sync", "blocksBehind", lambda: evaluate_sync(
            tip.height, self.best_peer, self.clock.wall() - tip.time))
        dashboard.register("peers", "connections", lambda: evaluate_peers(connected))
        dashboard.register("store", "writable", lambda: evaluate_store(self.store_writable))
        for key, check in self.extra_checks.items():
            component, _, measurement = key.partition(":")
            dashboard.register(component, measurement, _constant(check))
        return dashboard.evaluate()


def _constant(check: ComponentCheck) -> Callable[[], ComponentCheck]:
    return lambda: check


def passing(value: float = 0.0, unit: str = "s") -> ComponentCheck:
    return ComponentCheck(HealthStatus.HEALTHY, value, unit)
