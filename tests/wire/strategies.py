"""Hypothesis strategies: one per wire message type, producing valid values."""

from __future__ import annotations

from hypothesis import strategies as st

from aureond.chain.header import BlockHeader
from aureond.wire import (
    Addr,
    AddrEntry,
    AddrV2,
    AddrV2Entry,
    FeeFilter,
    FilterAdd,
    FilterClear,
    FilterLoad,
    GetAddr,
    GetData,
    GetHeaders,
    Headers,
    Inv,
    InvVector,
    Mempool,
    MerkleBlock,
    Message,
    NetAddress,
    NotFound,
    Ping,
    Pong,
    Protoconf,
    Reject,
    SendAddrV2,
    SendCmpct,
    SendHeaders,
    Tx,
    Unknown,
    Verack,
    Version,
    WtxidRelay,
)
from aureond.wire.constants import (
    COMMAND_SIZE,
    MAX_BLOOM_FILTER_SIZE,
    MAX_BLOOM_HASH_FUNCS,
    MAX_FILTERADD_DATA_SIZE,
    MAX_LOCATOR_SIZE,
    MAX_REJECT_MESSAGE_LENGTH,
    MAX_USER_AGENT_LENGTH,
)
from aureond.wire.netaddr import ADDR_V2_ADDRESS_LENGTHS

u8 = st.integers(0, 2**8 - 1)
u16 = st.integers(0, 2**16 - 1)
u32 = st.integers(0, 2**32 - 1)
u64 = st.integers(0, 2**64 - 1)
i32 = st.integers(-(2**31), 2**31 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
hashes = st.binary(min_size=32, max_size=32)


def _bounded_text(max_bytes: int) -> st.SearchStrategy[str]:
    return st.text(max_size=max_bytes).filter(lambda s: len(s.encode()) <= max_bytes)


block_headers = st.builds(BlockHeader, version=i32, prev_hash=hashes, merkle_root=hashes,
                          time=u32, bits=u32, nonce=u32)
net_addresses = st.builds(NetAddress, services=u64, ip=st.binary(min_size=16, max_size=16),
                          port=u16)


@st.composite
def addr_v2_entries(draw: st.DrawFn) -> AddrV2Entry:
    network = draw(u8)
    length = ADDR_V2_ADDRESS_LENGTHS.get(network)
    if length is None:
        addr = draw(st.binary(max_size=64))
    else:
        addr = draw(st.binary(min_size=length, max_size=length))
    return AddrV2Entry(draw(u32), draw(u64), network, addr, draw(u16))


@st.composite
def versions(draw: st.DrawFn) -> Version:
    relay = draw(st.none() | st.booleans())
    extra = b"" if relay is None else draw(st.binary(max_size=8))
    return Version(draw(i32), draw(u64), draw(i64), draw(net_addresses), draw(net_addresses),
                   draw(u64), draw(_bounded_text(MAX_USER_AGENT_LENGTH)), draw(i32), relay,
                   extra)


@st.composite
def protoconfs(draw: st.DrawFn) -> Protoconf:
    fields = draw(st.integers(0, 2**64 - 1) | st.integers(0, 3))
    max_recv = draw(u32) if fields >= 1 else None
    return Protoconf(fields, max_recv, draw(st.binary(max_size=40)))


inv_vectors = st.builds(InvVector, type=st.sampled_from([0, 1, 2, 3, 4, 5, 7]) | u32,
                        hash=hashes)
_inv_lists = st.lists(inv_vectors, max_size=20).map(tuple)
commands = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E),
                   min_size=1, max_size=COMMAND_SIZE)

MESSAGE_STRATEGIES: dict[str, st.SearchStrategy[Message]] = {
    "version": versions(),
    "verack": st.just(Verack()),
    "ping": st.builds(Ping, u64),
    "pong": st.builds(Pong, u64),
    "sendheaders": st.just(SendHeaders()),
    "sendcmpct": st.builds(SendCmpct, st.booleans(), u64),
    "wtxidrelay": st.just(WtxidRelay()),
    "sendaddrv2": st.just(SendAddrV2()),
    "feefilter": st.builds(FeeFilter, i64),
    "getaddr": st.just(GetAddr()),
    "mempool": st.just(Mempool()),
    "reject": st.builds(Reject, _bounded_text(COMMAND_SIZE), u8,
                        _bounded_text(MAX_REJECT_MESSAGE_LENGTH),
                        st.sampled_from([b""]) | hashes),
    "protoconf": protoconfs(),
    "getheaders": st.builds(GetHeaders, st.lists(hashes, max_size=MAX_LOCATOR_SIZE).map(tuple),
                            hashes, u32),
    "headers": st.builds(Headers, st.lists(block_headers, max_size=30).map(tuple)),
    "merkleblock": st.builds(MerkleBlock, block_headers, u32,
                             st.lists(hashes, max_size=20).map(tuple), st.binary(max_size=20)),
    "tx": st.builds(Tx, st.binary(min_size=1, max_size=300)),
    "inv": st.builds(Inv, _inv_lists),
    "getdata": st.builds(GetData, _inv_lists),
    "notfound": st.builds(NotFound, _inv_lists),
    "filterload": st.builds(FilterLoad, st.binary(max_size=MAX_BLOOM_FILTER_SIZE // 100),
                            st.integers(0, MAX_BLOOM_HASH_FUNCS), u32, u8),
    "filteradd": st.builds(FilterAdd, st.binary(max_size=MAX_FILTERADD_DATA_SIZE)),
    "filterclear": st.just(FilterClear()),
    "addr": st.builds(Addr, st.lists(st.builds(AddrEntry, u32, net_addresses),
                                     max_size=20).map(tuple)),
    "addrv2": st.builds(AddrV2, st.lists(addr_v2_entries(), max_size=20).map(tuple)),
}

unknown_messages = st.builds(
    Unknown, commands.filter(lambda c: c not in MESSAGE_STRATEGIES), st.binary(max_size=64))

any_message: st.SearchStrategy[Message] = st.one_of(
    *MESSAGE_STRATEGIES.values(), unknown_messages)
