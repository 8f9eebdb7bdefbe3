"""``aureond headers verify``: check a file of raw headers offline."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from aureond.chain.batch import validate_batch
from aureond.chain.context import MTP_WINDOW, ChainContext, anchor_context
from aureond.chain.hashing import hash_to_display
from aureond.chain.header import HEADER_SIZE, BlockHeader
from aureond.chain.params import NetworkParams, network_names
from aureond.chain.profile import params_from_toml
from aureond.commands.common import EXIT_INVALID, EXIT_MALFORMED, EXIT_OK, emit_json, fail_json
from aureond.commands.networks import builtin_network
from aureond.errors import ConfigError, EncodingError, HeaderRejectedError
from aureond.service.powpool import parallel_params

__all__ = ["register"]

CHUNK = 20_000  # headers validated per batch; progress is reported between batches


def register(sub: Any) -> None:
    headers = sub.add_parser("headers", help="work with raw header files")
    hsub = headers.add_subparsers(dest="headers_command", metavar="ACTION", required=True)
    verify = hsub.add_parser(
        "verify", help="fully validate a file of raw concatenated 80-byte headers",
        description="Validate every header of FILE (raw 80-byte headers, consecutive "
                    "heights). The first header is the genesis, or a trusted anchor at "
                    "--anchor-height. Prints one JSON line; exit 0 when all are valid, "
                    "1 at the first invalid header, 2 when the input cannot be read.")
    verify.add_argument("file", type=Path, metavar="FILE")
    verify.add_argument("--network", required=True,
                        help=f"one of {', '.join(network_names())}, or a profile name "
                             "with --profile")
    verify.add_argument("--profile", type=Path, help="a TOML network profile file")
    verify.add_argument("--anchor-height", type=int, default=0, metavar="H",
                        help="height of the first header (a trusted anchor); default 0")
    verify.add_argument("--anchor-chainwork", metavar="HEX",
                        help="total chain work up to and including the anchor")
    verify.add_argument("--anchor-times", metavar="T,T,...",
                        help="the timestamps of up to 10 headers before the anchor, "
                             "oldest first, comma-separated: with all 10 the "
                             "median-time-past rule holds in full from the first header")
    verify.add_argument("--now", type=int, metavar="UNIX_TIME",
                        help="the time to check the 2-hour future limit against "
                             "(default: this machine's clock)")
    verify.set_defaults(handler=_verify)


def parse_anchor_times(text: str) -> tuple[int, ...]:
    """``"T1,T2,..."`` (up to 10 Unix times, oldest first) as a tuple; ValueError names
    the problem."""
    items = [t.strip() for t in text.split(",") if t.strip()]
    if len(items) > MTP_WINDOW - 1:
        raise ValueError(f"--anchor-times takes at most {MTP_WINDOW - 1} timestamps, "
                         f"got {len(items)}")
    try:
        times = tuple(int(t) for t in items)
    except ValueError:
        raise ValueError(f"--anchor-times must be whole Unix times, got {text!r}") from None
    if any(t < 0 or t >= 1 << 32 for t in times):
        raise ValueError("--anchor-times must be 32-bit Unix times")
    return times


def _network(args: argparse.Namespace) -> NetworkParams:
    if args.profile is not None:
        params = params_from_toml(args.profile.read_text(encoding="utf-8"))
        if params.name != args.network:
            raise ConfigError("network", f"the profile defines {params.name!r}, "
                              f"not {args.network!r}")
        return params
    return builtin_network(args.network, load_profile="pass it with --profile FILE")


def _verify(args: argparse.Namespace) -> int:
    try:
        params = _network(args)
    except ConfigError as exc:
        return fail_json(EXIT_MALFORMED, str(exc))
    except OSError as exc:
        return fail_json(EXIT_MALFORMED, f"cannot read profile: {exc}")
    try:
        blob = args.file.read_bytes()
    except OSError as exc:
        return fail_json(EXIT_MALFORMED, f"cannot read {args.file}: {exc.strerror or exc}")
    if not blob or len(blob) % HEADER_SIZE:
        return fail_json(EXIT_MALFORMED, f"{args.file} is {len(blob)} bytes; expected a "
                    f"non-empty multiple of {HEADER_SIZE} (raw concatenated headers)")
    now = args.now if args.now is not None else int(time.time())
    try:
        anchor_work = int(args.anchor_chainwork, 16) if args.anchor_chainwork else None
        earlier = parse_anchor_times(args.anchor_times or "")
        first = BlockHeader.parse(blob[:HEADER_SIZE])
        ctx = anchor_context(params, first, args.anchor_height, anchor_work, earlier)
    except (ValueError, EncodingError) as exc:
        return fail_json(EXIT_MALFORMED, f"bad anchor: {exc}")
    except ConfigError as exc:
        return fail_json(EXIT_INVALID, str(exc), height=args.anchor_height,
                    reason="bad-anchor")
    params, pool = parallel_params(params)  # scrypt on every core
    try:
        return _verify_run(args, params, ctx, blob[HEADER_SIZE:], now, anchor_work)
    finally:
        if pool is not None:
            pool.close()


def _verify_run(args: argparse.Namespace, params: NetworkParams, ctx: ChainContext,
                body: bytes, now: int, anchor_work: int | None) -> int:
    total = len(body) // HEADER_SIZE
    show_progress = sys.stderr.isatty() and total > 5 * CHUNK
    started = time.perf_counter()
    done = 0
    try:
        for offset in range(0, len(body), CHUNK * HEADER_SIZE):
            result = validate_batch(params, ctx, body[offset:offset + CHUNK * HEADER_SIZE],
                                    now)
            ctx = result.context
            done += result.count
            if show_progress:
                sys.stderr.write(f"\rverified {done:,}/{total:,} headers "
                                 f"({100 * done // total}%)")
    except HeaderRejectedError as exc:
        if show_progress:
            sys.stderr.write("\n")
        return fail_json(EXIT_INVALID, str(exc), height=exc.height, field=exc.field,
                    reason=exc.reason, detail=exc.detail, valid_count=exc.height -
                    args.anchor_height)
    elapsed = time.perf_counter() - started
    if show_progress:
        sys.stderr.write("\n")
    emit_json({
        "ok": True,
        "network": params.name,
        "count": total + 1,
        "first_height": args.anchor_height,
        "tip_height": ctx.height,
        "tip_hash": hash_to_display(ctx.hash),
        "chainwork": f"{ctx.chainwork:064x}",
        "chainwork_from": "genesis" if args.anchor_height == 0 or anchor_work else "anchor",
        "seconds": round(elapsed, 6),
    })
    return EXIT_OK
