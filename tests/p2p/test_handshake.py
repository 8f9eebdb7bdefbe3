"""The version/verack handshake: admission rules, negotiation, ordering, timeout."""

from __future__ import annotations

import pytest

from aureond.p2p.actions import Action, Disconnect, HandshakeCompleted, Send
from aureond.p2p.events import PeerId
from aureond.p2p.handshake import (
    HANDSHAKE_TIMEOUT,
    Handshake,
    HandshakeConfig,
    HandshakeState,
)
from aureond.store.peers import PeerAddress
from aureond.wire import (
    FeeFilter,
    Message,
    NetAddress,
    Ping,
    Protoconf,
    SendAddrV2,
    SendCmpct,
    SendHeaders,
    ServiceFlags,
    Unknown,
    Verack,
    Version,
    WtxidRelay,
)

PEER = PeerId(1, PeerAddress("127.0.0.1", 18444))
OUR_NONCE = 0xA0A0
NET = int(ServiceFlags.NODE_NETWORK)


def version(v: int = 70016, services: int = NET | 0x24, nonce: int = 7,
            start_height: int = 120) -> Version:
    me = NetAddress.from_host("127.0.0.1", 18444)
    return Version(v, services, 1_700_000_000, me, me, nonce, "/Bitcoin SV:1.0.13/",
                   start_height, True, b"\x00")


def make(inbound: bool = False, config: HandshakeConfig | None = None) -> Handshake:
    return Handshake(PEER, config or HandshakeConfig(), OUR_NONCE, inbound=inbound,
                     is_own_nonce=lambda n: n == OUR_NONCE)


def sent(actions: list[Action]) -> list[type]:
    return [type(a.message) for a in actions if isinstance(a, Send)]


def test_outbound_sends_version_first_with_our_fields() -> None:
    hs = make()
    out = hs.start(1000.0, start_height=42)
    assert len(out) == 1
    assert isinstance(out[0], Send)
    v = out[0].message
    assert isinstance(v, Version)
    assert (v.version, v.services, v.relay, v.start_height, v.nonce) == (70016, 0, False, 42,
                                                                         OUR_NONCE)
    assert v.user_agent.startswith("/aureond:")
    assert v.user_agent.endswith("/")
    assert v.receiver.host == "127.0.0.1"
    assert v.receiver.port == 18444
    assert hs.state is HandshakeState.VERSION_SENT


def test_host_name_peer_gets_a_zero_receiver_address() -> None:
    hs = Handshake(PeerId(2, PeerAddress("node.example", 8333)), HandshakeConfig(), 1,
                   inbound=False, is_own_nonce=lambda n: False)
    v = hs.start(0.0, 0)[0]
    assert isinstance(v, Send)
    assert isinstance(v.message, Version)
    assert v.message.receiver.ip == bytes(16)


@pytest.mark.parametrize(("their_version", "expected"), [
    (70016, [WtxidRelay, SendAddrV2, Verack]),
    (70015, [Verack]),
    (70001, [Verack]),
])
def test_feature_negotiation_only_before_verack_and_only_if_supported(
        their_version: int, expected: list[type]) -> None:
    hs = make()
    hs.start(0.0, 0)
    out = hs.on_message(version(their_version), 1.0)
    assert sent(out) == expected
    assert hs.state is HandshakeState.AWAIT_VERACK


def test_negotiation_can_be_turned_off() -> None:
    hs = make(config=HandshakeConfig(send_wtxidrelay=False, send_addrv2=False))
    hs.start(0.0, 0)
    assert sent(hs.on_message(version(), 1.0)) == [Verack]


def test_completion_sends_sendheaders_and_reports_the_peer() -> None:
    hs = make()
    hs.start(0.0, 0)
    hs.on_message(version(start_height=777), 1.0)
    out = hs.on_message(Verack(), 2.0)
    assert hs.is_established()
    done = [a for a in out if isinstance(a, HandshakeCompleted)]
    assert done
    assert done[0].start_height == 777
    assert done[0].version == 70016
    assert sent(out) == [SendHeaders]


def test_old_peer_without_bip130_gets_no_sendheaders() -> None:
    hs = make()
    hs.start(0.0, 0)
    hs.on_message(version(70011), 1.0)
    assert sent(hs.on_message(Verack(), 2.0)) == []


@pytest.mark.parametrize(("msg", "reason"), [
    (version(70000), "obsolete-version"),
    (version(services=int(ServiceFlags.NODE_BLOOM)), "missing-services"),
    (version(services=int(ServiceFlags.NODE_NETWORK_LIMITED)), "missing-services"),
    (version(nonce=OUR_NONCE), "self-connection"),
    (Verack(), "verack-before-version"),
])
def test_refusals(msg: Message, reason: str) -> None:
    hs = make()
    hs.start(0.0, 0)
    out = hs.on_message(msg, 1.0)
    assert out == [Disconnect(PEER, reason)]
    assert hs.state is HandshakeState.FAILED
    assert hs.on_message(Verack(), 2.0) == []  # a failed handshake stays failed


@pytest.mark.parametrize("noise", [
    Protoconf(1, 2_097_152), Unknown("authch", b"\x01"), SendCmpct(False, 1),
    FeeFilter(1000), Ping(5), SendHeaders(),
])
def test_other_messages_before_completion_are_ignored(noise: Message) -> None:
    hs = make()
    hs.start(0.0, 0)
    assert hs.on_message(noise, 0.5) == []
    hs.on_message(version(), 1.0)
    assert hs.on_message(noise, 1.5) == []
    assert hs.state is HandshakeState.AWAIT_VERACK


def test_duplicate_version_is_ignored() -> None:
    hs = make()
    hs.start(0.0, 0)
    hs.on_message(version(), 1.0)
    assert hs.on_message(version(), 1.5) == []
    assert hs.state is HandshakeState.AWAIT_VERACK


def test_inbound_waits_for_their_version_then_answers_with_ours() -> None:
    hs = make(inbound=True)
    assert hs.start(0.0, 5) == []
    assert hs.state is HandshakeState.AWAIT_VERSION
    assert sent(hs.on_message(version(), 1.0)) == [Version, WtxidRelay, SendAddrV2, Verack]


@pytest.mark.parametrize("stop_at", ["version_sent", "await_verack"])
def test_timeout(stop_at: str) -> None:
    hs = make()
    hs.start(100.0, 0)
    if stop_at == "await_verack":
        hs.on_message(version(), 101.0)
    assert hs.tick(100.0 + HANDSHAKE_TIMEOUT - 0.5) == []
    assert hs.tick(100.0 + HANDSHAKE_TIMEOUT) == [Disconnect(PEER, "handshake-timeout")]


def test_the_configured_timeout_is_the_one_that_counts() -> None:
    hs = make(config=HandshakeConfig(timeout=2.5))
    hs.start(100.0, 0)
    assert hs.tick(102.4) == []
    assert hs.tick(102.5) == [Disconnect(PEER, "handshake-timeout")]
    long = make(config=HandshakeConfig(timeout=3 * HANDSHAKE_TIMEOUT))
    long.start(0.0, 0)
    assert long.tick(HANDSHAKE_TIMEOUT + 1) == []


@pytest.mark.parametrize("seconds", [0.0, -1.0, float("nan")])
def test_a_timeout_that_is_not_positive_is_refused(seconds: float) -> None:
    with pytest.raises(ValueError, match="handshake timeout"):
        HandshakeConfig(timeout=seconds)


def test_no_timeout_once_established() -> None:
    hs = make()
    hs.start(0.0, 0)
    hs.on_message(version(), 1.0)
    hs.on_message(Verack(), 2.0)
    assert hs.tick(10 * HANDSHAKE_TIMEOUT) == []
