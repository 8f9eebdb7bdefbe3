"""Network profiles: a network aureond does not have built in, from a TOML file.

A profile is validated field by field on load, and a bad one is refused with the
field named (``ConfigError.field``). See ``config/networks/example.toml`` for every
field; only ``name``, ``magic``, ``default_port``, ``genesis_header`` and
``pow_limit`` are required.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from aureond.chain.hashing import hash_from_display
from aureond.chain.header import BlockHeader
from aureond.chain.params import NETWORKS, RETARGET_VARIANTS, Checkpoint, NetworkParams
from aureond.chain.pow import POW_HASHES, reference_hasher
from aureond.chain.target import bits_to_target
from aureond.errors import ConfigError, EncodingError

__all__ = ["params_from_mapping", "params_from_toml"]

_REQUIRED = ("name", "magic", "default_port", "genesis_header", "pow_limit")
_INT_FIELDS = ("retarget_interval", "target_timespan", "target_spacing",
               "max_payload", "max_future_seconds", "max_timewarp_seconds")
_BOOL_FIELDS = ("allow_min_difficulty", "no_retargeting", "enforce_bip94")
_HEIGHT_FIELDS = ("bip34_height", "bip66_height", "bip65_height", "versionbits_height")
_CHOICE_FIELDS: Mapping[str, tuple[str, ...]] = {"pow_hash": POW_HASHES,
                                                 "retarget_variant": RETARGET_VARIANTS}
_KNOWN = frozenset((*_REQUIRED, *_INT_FIELDS, *_BOOL_FIELDS, *_HEIGHT_FIELDS,
                    *_CHOICE_FIELDS, "checkpoints", "minimum_chain_work", "dns_seeds"))


def _int(raw: Mapping[str, Any], key: str, lo: int, hi: int) -> int:
    value = raw[key]
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be an integer, got {type(value).__name__}")
    if not lo <= value <= hi:
        raise ConfigError(key, f"must be between {lo} and {hi}, got {value}")
    return value


def _hex_int(raw: Mapping[str, Any], key: str) -> int:
    value = raw[key]
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value, 16)
        except ValueError:
            pass
    raise ConfigError(key, "must be an integer or a hex string such as '0x1d00ffff'")


def _choice(raw: Mapping[str, Any], key: str) -> str:
    value = raw[key]
    choices = _CHOICE_FIELDS[key]
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(key, f"must be one of {', '.join(repr(c) for c in choices)}, "
                          f"got {value!r}")
    return value


def params_from_mapping(raw: Mapping[str, Any]) -> NetworkParams:
    """Build and validate a network from a profile mapping (parsed TOML)."""
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise ConfigError(unknown[0], "unknown field in network profile")
    for key in _REQUIRED:
        if key not in raw:
            raise ConfigError(key, "required field missing from network profile")
    name = raw["name"]
    if not isinstance(name, str) or not name or len(name) > 32 or not all(
            c.isalnum() or c in "-_" for c in name):
        raise ConfigError("name", "must be 1-32 letters, digits, '-' or '_'")
    if name in NETWORKS:
        raise ConfigError("name", f"{name!r} is a built-in network; pick another name")
    magic_text = raw["magic"]
    try:
        magic = bytes.fromhex(magic_text) if isinstance(magic_text, str) else b""
    except ValueError:
        magic = b""
    if len(magic) != 4:
        raise ConfigError("magic", "must be 4 bytes as 8 hex digits, e.g. 'f9beb4d9'")
    port = _int(raw, "default_port", 1, 65535)
    pow_limit = _hex_int(raw, "pow_limit")
    if not 0 < pow_limit < (1 << 256):
        raise ConfigError("pow_limit", "must be a positive 256-bit number")
    kwargs: dict[str, Any] = {key: _choice(raw, key) for key in _CHOICE_FIELDS if key in raw}
    genesis = _genesis(raw, pow_limit, kwargs.get("pow_hash", "sha256d"))
    for key in _INT_FIELDS:
        if key in raw:
            kwargs[key] = _int(raw, key, 1, 2**31 - 1)
    for key in _BOOL_FIELDS:
        if key in raw:
            if not isinstance(raw[key], bool):
                raise ConfigError(key, "must be true or false")
            kwargs[key] = raw[key]
    for key in _HEIGHT_FIELDS:
        if key in raw:
            kwargs[key] = _int(raw, key, 0, 2**31 - 1)
    if "minimum_chain_work" in raw:
        kwargs["minimum_chain_work"] = _hex_int(raw, "minimum_chain_work")
    if "dns_seeds" in raw:
        seeds = raw["dns_seeds"]
        if not isinstance(seeds, list) or not all(isinstance(s, str) for s in seeds):
            raise ConfigError("dns_seeds", "must be a list of host names")
        kwargs["dns_seeds"] = tuple(seeds)
    if "checkpoints" in raw:
        kwargs["checkpoints"] = _profile_checkpoints(raw["checkpoints"])
    return NetworkParams(name=name, magic=magic, default_port=port, genesis=genesis,
                         pow_limit=pow_limit, **kwargs)


def _genesis(raw: Mapping[str, Any], pow_limit: int, pow_hash: str) -> BlockHeader:
    """The profile's genesis header, checked against its own proof of work."""
    try:
        genesis = BlockHeader.from_hex(str(raw["genesis_header"]))
    except EncodingError as exc:
        raise ConfigError("genesis_header", f"not an 80-byte header in hex: {exc}") from exc
    try:
        target = bits_to_target(genesis.bits)
    except EncodingError as exc:
        raise ConfigError("genesis_header", str(exc)) from exc
    if target > pow_limit:
        raise ConfigError("genesis_header", "genesis bits are easier than pow_limit")
    hasher = reference_hasher(pow_hash)
    pow_ = genesis.hash if hasher is None else hasher(genesis.serialize())[0]
    if int.from_bytes(pow_, "little") > target:
        raise ConfigError("genesis_header",
                          f"genesis does not meet its own proof of work ({pow_hash})")
    return genesis


def _profile_checkpoints(items: Any) -> tuple[Checkpoint, ...]:
    if not isinstance(items, list):
        raise ConfigError("checkpoints", "must be a list of {height, hash} tables")
    out = []
    for i, item in enumerate(items):
        where = f"checkpoints[{i}]"
        if not isinstance(item, dict) or set(item) != {"height", "hash"}:
            raise ConfigError(where, "must be a table with exactly 'height' and 'hash'")
        height = _int(item, "height", 0, 2**31 - 1)
        try:
            out.append(Checkpoint(height, hash_from_display(item["hash"])))
        except EncodingError as exc:
            raise ConfigError(f"{where}.hash", str(exc)) from exc
    return tuple(sorted(out, key=lambda c: c.height))


def params_from_toml(text: str) -> NetworkParams:
    """Parse a TOML network profile (the file's text; reading it is the caller's job)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("profile", f"not valid TOML: {exc}") from exc
    section = raw.get("network", raw)
    if not isinstance(section, dict):
        raise ConfigError("network", "must be a table")
    return params_from_mapping(section)
