"""Network addresses as they appear in ``version``, ``addr`` and ``addrv2`` (BIP155)."""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Self

from aureond.errors import LocalProtocolError
from aureond.wire._checks import check_bytes, check_uint
from aureond.wire.constants import MAX_ADDR_V2_ADDRESS_LENGTH
from aureond.wire.primitives import Reader, write_compact_size, write_var_bytes

__all__ = [
    "ADDR_V2_ADDRESS_LENGTHS",
    "AddrEntry",
    "AddrV2Entry",
    "AddrV2Network",
    "NetAddress",
]

_NETADDR = struct.Struct(">16sH")
_IPV4_MAPPED_PREFIX = bytes(10) + b"\xff\xff"


@dataclass(frozen=True, slots=True)
class NetAddress:
    """Services, a 16-byte IPv6 address (IPv4 as ``::ffff:a.b.c.d``) and a port.

    On the wire: services u64 LE, the 16 address bytes, the port big-endian (26 bytes).
    """

    services: int
    ip: bytes
    port: int

    SIZE: ClassVar[int] = 26

    def __post_init__(self) -> None:
        check_uint("services", self.services, 64)
        check_bytes("ip", self.ip, 16)
        check_uint("port", self.port, 16)

    @classmethod
    def from_host(cls, host: str, port: int, services: int = 0) -> Self:
        """From an IPv4 or IPv6 literal; IPv4 is stored IPv4-mapped."""
        try:
            addr = ipaddress.ip_address(host)
        except ValueError as exc:
            raise LocalProtocolError(f"not an IP address literal: {host!r}") from exc
        packed = addr.packed
        if addr.version == 4:
            packed = _IPV4_MAPPED_PREFIX + packed
        return cls(services, packed, port)

    @property
    def host(self) -> str:
        """The address as text: dotted IPv4 when IPv4-mapped, else IPv6."""
        v6 = ipaddress.IPv6Address(self.ip)
        return str(v6.ipv4_mapped) if v6.ipv4_mapped is not None else str(v6)

    def encode(self) -> bytes:
        return struct.pack("<Q", self.services) + _NETADDR.pack(self.ip, self.port)

    @classmethod
    def read(cls, reader: Reader) -> Self:
        services = reader.read_u64("services")
        ip = reader.read(16, "ip")
        port = reader.read_u16_be("port")
        return cls(services, ip, port)


@dataclass(frozen=True, slots=True)
class AddrEntry:
    """One ``addr`` entry: a last-seen time (u32 seconds) and the address."""

    time: int
    address: NetAddress

    SIZE: ClassVar[int] = 30

    def __post_init__(self) -> None:
        check_uint("time", self.time, 32)

    def encode(self) -> bytes:
        return struct.pack("<I", self.time) + self.address.encode()

    @classmethod
    def read(cls, reader: Reader) -> Self:
        time = reader.read_u32("time")
        return cls(time, NetAddress.read(reader))


class AddrV2Network(IntEnum):
    """BIP155 network ids."""

    IPV4 = 1
    IPV6 = 2
    TORV2 = 3
    TORV3 = 4
    I2P = 5
    CJDNS = 6


#: The address length each known BIP155 network requires.
ADDR_V2_ADDRESS_LENGTHS: dict[int, int] = {
    AddrV2Network.IPV4: 4,
    AddrV2Network.IPV6: 16,
    AddrV2Network.TORV2: 10,
    AddrV2Network.TORV3: 32,
    AddrV2Network.I2P: 32,
    AddrV2Network.CJDNS: 16,
}


@dataclass(frozen=True, slots=True)
class AddrV2Entry:
    """One BIP155 ``addrv2`` entry.

    ``network`` is kept as an int: unknown network ids are legal (receivers skip them)
    as long as the address is at most 512 bytes; known ones must have their length.
    """

    time: int
    services: int
    network: int
    addr: bytes
    port: int

    #: time(4) + services(>=1) + network(1) + length(>=1) + port(2)
    MIN_SIZE: ClassVar[int] = 9

    def __post_init__(self) -> None:
        check_uint("time", self.time, 32)
        check_uint("services", self.services, 64)
        check_uint("network", self.network, 8)
        check_uint("port", self.port, 16)
        if not isinstance(self.addr, bytes) or len(self.addr) > MAX_ADDR_V2_ADDRESS_LENGTH:
            raise LocalProtocolError(
                f"addrv2 address must be at most {MAX_ADDR_V2_ADDRESS_LENGTH} bytes")
        expected = ADDR_V2_ADDRESS_LENGTHS.get(self.network)
        if expected is not None and len(self.addr) != expected:
            raise LocalProtocolError(
                f"addrv2 network {AddrV2Network(self.network).name} needs a {expected}-byte "
                f"address, got {len(self.addr)}")

    @property
    def known_network(self) -> AddrV2Network | None:
        """The network as an enum member, or None for an id this codec does not know."""
        return AddrV2Network(self.network) if self.network in ADDR_V2_ADDRESS_LENGTHS \
            else None

    def encode(self) -> bytes:
        return b"".join((struct.pack("<I", self.time), write_compact_size(self.services),
                         bytes((self.network,)), write_var_bytes(self.addr),
                         struct.pack(">H", self.port)))

    @classmethod
    def read(cls, reader: Reader) -> Self:
        time = reader.read_u32("time")
        services = reader.read_compact_size("services")
        network = reader.read_u8("network id")
        addr = reader.read_var_bytes(MAX_ADDR_V2_ADDRESS_LENGTH, "address")
        port = reader.read_u16_be("port")
        return cls(time, services, network, addr, port)
