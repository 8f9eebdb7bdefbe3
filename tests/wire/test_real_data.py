"""Real bytes: chain headers, BIP37 proofs, and messages captured from the reference node."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from aureond.chain.hashing import hash_to_display
from aureond.chain.header import BlockHeader, iter_raw_headers
from aureond.errors import RemoteProtocolError
from aureond.wire import (
    MAX_HEADERS_RESULTS,
    Frame,
    FrameDecoder,
    Headers,
    MerkleBlock,
    NetAddress,
    Ping,
    Protoconf,
    SendCmpct,
    SendHeaders,
    Unknown,
    Verack,
    Version,
    decode_frame,
    decode_message,
    encode_message,
)

MAINNET = bytes.fromhex("f9beb4d9")
SV_REGTEST = bytes.fromhex("dab5bffa")

# Payloads received from a Bitcoin SV 1.0.13 regtest node (bitcoind -regtest) right
# after we sent our version, in the order it sent them.
SV_VERSION = bytes.fromhex(
    "80110100" "2500000000000000" "40510a6b00000000"
    "0000000000000000" "00000000000000000000000000000000" "0000"
    "2500000000000000" "00000000000000000000000000000000" "0000"
    "1e80c6733d5e0480" "13" "2f426974636f696e2053563a312e302e31332f"
    "00000000" "01" "00")
SV_HANDSHAKE = [
    ("version", SV_VERSION.hex()),
    ("verack", ""),
    ("protoconf", "020000200015426c6f636b5072696f726974792c44656661756c74"),
    ("authch", "01000000200000002325d6742b0e01a289edc109aaaf1add6956b2da7ee8ee85cf52bfede983a5d3"),
    ("sendheaders", ""),
    ("sendcmpct", "000100000000000000"),
    ("ping", "fa1adc6544d15694"),
]


def _header_files(data_dir: Path) -> list[Path]:
    files = sorted((data_dir / "headers").glob("*.bin"))
    assert files, "no header runs in the data directory"
    return files


def test_headers_messages_from_real_chains(data_dir: Path) -> None:
    for path in _header_files(data_dir):
        meta = json.loads(path.with_suffix(".json").read_text())
        raws = iter_raw_headers(path.read_bytes())
        decoded_all: list[BlockHeader] = []
        for start in range(0, len(raws), MAX_HEADERS_RESULTS):
            batch = raws[start:start + MAX_HEADERS_RESULTS]
            msg = Headers(tuple(BlockHeader.parse(r) for r in batch))
            payload = msg.encode()
            if len(batch) == MAX_HEADERS_RESULTS:
                assert payload[:3] == b"\xfd\xd0\x07"
                assert len(payload) == 3 + MAX_HEADERS_RESULTS * 81
            back = decode_message("headers", payload)
            assert back == msg
            assert isinstance(back, Headers)
            assert [h.serialize() for h in back.headers] == batch
            decoded_all.extend(back.headers)
        assert len(decoded_all) == meta["count"]
        assert decoded_all[0].hash_hex == meta["first_hash"]
        assert decoded_all[-1].hash_hex == meta["last_hash"]
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(decoded_all))


def test_full_headers_frame_byte_at_a_time(data_dir: Path) -> None:
    raws = iter_raw_headers(_header_files(data_dir)[0].read_bytes())[:MAX_HEADERS_RESULTS]
    msg = Headers(tuple(BlockHeader.parse(r) for r in raws))
    wire = encode_message(msg, MAINNET) + encode_message(Verack(), MAINNET)
    dec = FrameDecoder(MAINNET, max_payload=2_097_152)
    frames: list[Frame] = []
    for i in range(len(wire)):
        frames.extend(dec.feed(wire[i:i + 1]))
    assert [decode_frame(f) for f in frames] == [msg, Verack()]


def test_bip37_proofs_decode_as_merkleblock(data_dir: Path) -> None:
    index = json.loads((data_dir / "proofs" / "bip37" / "index.json").read_text())
    assert index["proofs"]
    for entry in index["proofs"]:
        payload = (data_dir / "proofs" / "bip37" / entry["file"]).read_bytes()
        msg = decode_message("merkleblock", payload)
        assert isinstance(msg, MerkleBlock), entry["file"]
        assert msg.header.hash_hex == entry["block_hash"]
        assert msg.total_transactions == entry["total_transactions"]
        if "hash_count" in entry:
            assert len(msg.hashes) == entry["hash_count"]
            assert len(msg.flags) == entry["flag_bytes"]
        assert msg.encode() == payload
        with pytest.raises(RemoteProtocolError, match="malformed merkleblock"):
            decode_message("merkleblock", payload + b"\x00")


def test_reference_node_version_parses() -> None:
    msg = decode_message("version", SV_VERSION)
    assert msg == Version(
        version=70016, services=0x25, timestamp=1795838272,
        receiver=NetAddress(0, bytes(16), 0), sender=NetAddress(0x25, bytes(16), 0),
        nonce=0x80045E3D73C6801E, user_agent="/Bitcoin SV:1.0.13/", start_height=0,
        relay=True, extra=b"\x00")
    assert msg.encode() == SV_VERSION


def test_reference_node_handshake_stream() -> None:
    wire = b"".join(encode_message(Unknown(c, bytes.fromhex(p)), SV_REGTEST)
                    for c, p in SV_HANDSHAKE)
    frames = FrameDecoder(SV_REGTEST, max_payload=2_097_152).feed(wire)
    msgs = [decode_frame(f) for f in frames]
    assert isinstance(msgs[0], Version)
    assert msgs[1:] == [
        Verack(),
        Protoconf(2, 2_097_152, bytes.fromhex("15426c6f636b5072696f726974792c44656661756c74")),
        Unknown("authch", bytes.fromhex(SV_HANDSHAKE[3][1])),
        SendHeaders(),
        SendCmpct(announce=False, version=1),
        Ping(0x9456D14465DC1AFA),
    ]
    protoconf = msgs[2]
    assert isinstance(protoconf, Protoconf)
    assert protoconf.stream_policies == "BlockPriority,Default"


def test_genesis_hash_survives_the_codec(data_dir: Path) -> None:
    genesis = iter_raw_headers(_header_files(data_dir)[0].read_bytes())[0]
    msg = decode_message("headers", b"\x01" + genesis + b"\x00")
    assert isinstance(msg, Headers)
    assert hash_to_display(msg.headers[0].hash).startswith("000000000019d6689c085ae165831e93")
