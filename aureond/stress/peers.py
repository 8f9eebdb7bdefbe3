"""``concurrent-peers``: many loopback peers, some faulty, feeding one real node at once.

Honest peers serve one synthetic regtest chain; faulty ones misbehave on every
connection (:mod:`aureond.stress.fakepeer`: bad proof of work, garbage bytes, stalled
``getheaders``). The node (:mod:`aureond.stress.nodestack`) dials them all, syncs the
chain from whichever peer it picks, then every honest peer announces each new header
at the same moment. The node's clock runs faster than real time so that the 60-second
stall timeout fires within the run.

Operations and their failures:

* each header of the initial chain (fails if the node does not reach the tip in time);
* each announced header (fails if the node's tip does not move to it in time);
* each honest peer (fails if the node ever dropped it).

Every fault a faulty peer delivered must be accounted for by the node's matching
reaction: a ``high-hash`` rejection and ban, a ``protocol-error`` disconnect, a
``headers-timeout`` drop. The latency samples are the real time from an announcement
to the node's new tip.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from aureond.chain.params import REGTEST
from aureond.clock import SeededRandom
from aureond.p2p.syncpeer import HEADERS_TIMEOUT
from aureond.store.peers import PeerAddress
from aureond.stress.chaingen import mine_raw
from aureond.stress.context import RunContext
from aureond.stress.fakepeer import Behaviour, FakePeer, ServedChain
from aureond.stress.measure import Progress
from aureond.stress.nodestack import AcceleratedClock, NodeStack, Recorder
from aureond.stress.report import Outcome

__all__ = ["FAULT_SIGNS", "count_accounted", "run_concurrent_peers", "spacing_until_now"]

FAULT_SIGNS: dict[Behaviour, tuple[str, str]] = {
    Behaviour.BAD_POW: ("rejections", "high-hash"),
    Behaviour.GARBAGE: ("disconnects", "protocol-error"),
    Behaviour.STALL: ("disconnects", "headers-timeout"),
}
"""How the node shows it handled each kind of fault: a counter of its record and a key."""

SETTLE_MARGIN = 5.0


def spacing_until_now(count: int, now: float, lead: float = 3600.0) -> int:
    """Seconds between ``count`` headers after genesis so the last is ``lead`` before now."""
    return max(1, int((now - lead - REGTEST.genesis.time) // max(1, count)))


def count_accounted(peers: Sequence[FakePeer], recorder: Recorder) -> int:
    total = 0
    for peer in peers:
        sign = FAULT_SIGNS.get(peer.behaviour)
        if sign is None:
            continue
        rec = recorder.by_address.get(PeerAddress("127.0.0.1", peer.port))
        seen = 0 if rec is None else getattr(rec, sign[0])[sign[1]]
        total += min(seen, peer.faults)
    return total


def _behaviours(honest: int, faulty_per_kind: int) -> list[Behaviour]:
    faulty = [b for b in (Behaviour.STALL, Behaviour.BAD_POW, Behaviour.GARBAGE)
              for _ in range(faulty_per_kind)]
    # Faulty peers take the first slots, so the node tries them first for its sync.
    return faulty + [Behaviour.HONEST] * honest


async def _settle(peers: Sequence[FakePeer], recorder: Recorder, deadline: float) -> int:
    injected = sum(p.faults for p in peers)
    while True:
        accounted = count_accounted(peers, recorder)
        if accounted >= injected or time.monotonic() > deadline:
            return accounted
        await asyncio.sleep(0.05)


async def _run(ctx: RunContext) -> Outcome:
    sizes = ctx.sizes
    clock = AcceleratedClock(sizes.clock_speed)
    served = ServedChain(REGTEST.genesis)
    spacing = spacing_until_now(sizes.peer_chain + sizes.announcements, clock.wall())
    raw, _ = mine_raw(REGTEST.genesis, sizes.peer_chain, spacing=spacing)
    served.extend(raw)
    peers = [FakePeer(REGTEST, served, b, nonce=i + 1)
             for i, b in enumerate(_behaviours(sizes.honest_peers, sizes.faulty_per_kind))]
    honest = [p for p in peers if p.behaviour is Behaviour.HONEST]
    ops = failures = 0
    notes: list[str] = []
    latencies: list[float] = []
    try:
        for peer in peers:
            await peer.start()
        addresses = [PeerAddress("127.0.0.1", p.port) for p in peers]
        stack = NodeStack(REGTEST, ctx.work_dir / "node", addresses, SeededRandom(ctx.seed),
                          clock=clock)
        async with stack:
            started = time.monotonic()
            deadline = started + 30.0 + sizes.peer_chain / 2_000
            ops += sizes.peer_chain
            if not await stack.wait_for_tip(served.tip_hash, deadline):
                missing = sizes.peer_chain - stack.chain.tip_height
                failures += max(1, missing)
                notes.append(f"initial sync stopped at {stack.chain.tip_height:,} of "
                             f"{sizes.peer_chain:,}")
            sync_seconds = time.monotonic() - started
            progress = Progress(ctx.progress, "concurrent-peers", sizes.announcements)
            try:
                for _ in range(sizes.announcements):
                    gap = max(1, int(clock.wall()) - int.from_bytes(served.tip_raw[68:72],
                                                                    "little"))
                    new, _ = mine_raw(served.tip_raw, 1, spacing=gap)
                    if ctx.inject_failure:
                        new = new[:10] + bytes([new[10] ^ 1]) + new[11:]  # unlinked
                    served.extend(new)
                    sent = time.monotonic()
                    for peer in honest:
                        peer.announce(new)
                    ops += 1
                    if await stack.wait_for_tip(served.tip_hash, sent + sizes.announce_timeout):
                        latencies.append(time.monotonic() - sent)
                    else:
                        failures += 1
                        if len(notes) < 5:
                            notes.append(f"announcement at height {served.tip_height:,} "
                                         "did not become the tip")
                        break
                    progress.advance()
            finally:
                progress.close()
            for peer in peers:
                await peer.stop_accepting()
            settle_by = time.monotonic() + HEADERS_TIMEOUT / clock.speed + SETTLE_MARGIN
            accounted = await _settle(peers, stack.recorder, settle_by)
            injected = sum(p.faults for p in peers)
            for peer in honest:
                ops += 1
                rec = stack.recorder.by_address.get(PeerAddress("127.0.0.1", peer.port))
                dropped = {} if rec is None else dict(rec.disconnects)
                if dropped:
                    failures += 1
                    notes.append(f"honest peer {peer.port} was dropped: {dropped}")
            details = {
                "honest_peers": len(honest), "faulty_peers": len(peers) - len(honest),
                "initial_sync_s": sync_seconds,
                "initial_sync_headers_per_s": sizes.peer_chain / sync_seconds
                if sync_seconds > 0 else 0.0,
                "clock_speed": clock.speed,
                "getheaders_round_trips": len(stack.recorder.request_seconds),
                "faults_by_kind": {str(b): sum(p.faults for p in peers if p.behaviour is b)
                                   for b in FAULT_SIGNS},
                "connections_accepted": sum(p.connections for p in peers),
            }
    finally:
        for peer in peers:
            await peer.close()
    return Outcome(ops, failures, latencies, latency_unit="announcement to new tip",
                   faults_injected=injected, faults_accounted=accounted, details=details,
                   failure_notes=tuple(notes))


def run_concurrent_peers(ctx: RunContext) -> Outcome:
    return asyncio.run(_run(ctx))
