"""Configuration: defaults, then ``config/aureond.toml``, then ``AUREOND_*`` environment
variables, then command-line flags (each overrides the one before).

Unknown keys and bad values fail start-up with the key named (``ConfigError``).
Nested keys map to environment variables with a double underscore:
``[http] listen`` is ``AUREOND_HTTP__LISTEN``.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from aureond.errors import ConfigError

__all__ = ["HttpConfig", "Settings", "StateConfig", "load_settings", "parse_hostport"]

DEFAULT_CONFIG = Path("/etc/aureond/aureond.toml")


def parse_hostport(text: str, default_port: int | None = None) -> tuple[str, int]:
    """``HOST:PORT`` or ``[v6]:PORT`` (or a bare host with ``default_port``)."""
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if text.startswith("[") and "]" in text:
        end = text.index("]")
        host, rest = text[1:end], text[end + 1:]
        sep, port_text = (":", rest[1:]) if rest.startswith(":") else ("", "")
    elif not sep or ":" in host:
        host, port_text = text, ""
    if not port_text:
        if default_port is None:
            raise ValueError(f"{text!r} needs a port (HOST:PORT)")
        return host, default_port
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"{text!r}: port {port_text!r} is not a number") from None
    if not host or not 0 < port < 65536:
        raise ValueError(f"{text!r} is not HOST:PORT with a port in 1-65535")
    return host, port


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpConfig(_Section):
    listen: str = "127.0.0.1:8787"
    """Where the HTTP API listens. Beyond loopback, ``token_file`` is required."""
    token_file: Path | None = None
    """A file holding the bearer token for state-changing requests."""
    max_body_bytes: int = Field(default=64 * 1024, ge=256, le=16 * 1024 * 1024)
    rate_per_second: float = Field(default=50.0, gt=0)
    """Per-client request rate (token bucket refill)."""
    rate_burst: int = Field(default=100, ge=1)
    monitoring_rate_per_second: float = Field(default=50.0, gt=0)
    """Per-client rate of /health* and /metrics, a budget apart from the rest."""
    monitoring_rate_burst: int = Field(default=100, ge=1)
    max_connections: int = Field(default=0, ge=0)
    """Open HTTP connections at most; 0: the open-file limit minus fd_reserve (<= 16384)."""
    fd_reserve: int = Field(default=512, ge=0)
    """File descriptors the HTTP connections may not take (store, peers, logs)."""
    head_timeout: float = Field(default=10.0, gt=0, le=3600)
    body_timeout: float = Field(default=10.0, gt=0, le=3600)
    idle_timeout: float = Field(default=30.0, gt=0, le=3600)
    send_timeout: float = Field(default=30.0, gt=0, le=3600)
    access_log: bool = False

    def client_limits(self) -> dict[str, Any]:
        """The monitoring budget, the connection cap and the deadlines, by the names of
        ``aureond.api.ApiSettings``."""
        return self.model_dump(include=set(_CLIENT_LIMITS))

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        parse_hostport(value)
        return value


_CLIENT_LIMITS = frozenset({"monitoring_rate_per_second", "monitoring_rate_burst",
                            "max_connections", "fd_reserve", "head_timeout", "body_timeout",
                            "idle_timeout", "send_timeout"})


class P2PConfig(_Section):
    connect: list[str] = []
    """Peers as HOST:PORT. When given, only these are used (no DNS seeds)."""
    dns_seeds: bool = True
    max_outbound: int = Field(default=8, ge=1, le=64)
    ban_seconds: int = Field(default=24 * 3600, ge=1)
    connect_timeout: float = Field(default=10.0, gt=0)
    handshake_timeout: float = Field(default=30.0, gt=0)
    breaker_failures: int = Field(default=3, ge=1)
    """Consecutive connection failures that open a peer's circuit breaker."""
    breaker_open_seconds: float = Field(default=30.0, gt=0)
    breaker_failure_rate: float = Field(default=0.5, gt=0, le=1)
    """Share of failed dials over the window that opens a peer's breaker ..."""
    breaker_window_seconds: float = Field(default=600.0, gt=0)
    """... judged over this sliding window ..."""
    breaker_minimum_calls: int = Field(default=6, ge=1)
    """... once it holds at least this many dials."""
    messages_per_second: float = Field(default=200.0, gt=0)
    """Per-peer token bucket for messages we send."""

    @field_validator("connect")
    @classmethod
    def _connect(cls, value: list[str]) -> list[str]:
        for item in value:
            parse_hostport(item)
        return value


class StoreConfig(_Section):
    fsync_every_headers: int = Field(default=2000, ge=1)
    fsync_every_seconds: float = Field(default=5.0, gt=0)
    memory_window: int = Field(default=8192, ge=2027, le=1_000_000)
    """Heights of the best chain held in memory below the tip (at least one retarget
    period and a median-time-past window); forks below it are proven first, then
    followed from disk."""


class StateConfig(_Section):
    enabled: bool = True
    """Keep watched accounts (``/v1/accounts``) and state snapshots; off: headers only."""
    snapshot_every_blocks: int = Field(default=144, ge=1)
    """Take a state snapshot after this many blocks applied to the ledger."""
    keep_snapshots: int = Field(default=100, ge=1)
    """Snapshot files kept on disk (the oldest are deleted)."""


class LogConfig(_Section):
    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["auto", "json", "console"] = "auto"
    """auto: console on a terminal, JSON lines otherwise (journald, files, pipes)."""


class AnchorConfig(_Section):
    height: int = Field(ge=0)
    header: str
    """The 80-byte header at ``height`` as hex (a checkpoint you trust)."""
    chainwork: str
    """Total chain work up to and including it, hex."""
    earlier_times: list[int] = Field(default=[], max_length=10)
    """The timestamps of up to 10 headers before it, oldest first: with all 10 the
    median-time-past rule holds in full from the first header after it."""


class Settings(BaseSettings):
    """The effective configuration of ``aureond run``."""

    model_config = SettingsConfigDict(env_prefix="AUREOND_", env_nested_delimiter="__",
                                      extra="forbid", frozen=True)

    network: str = "mainnet"
    network_profile: Path | None = None
    """A TOML network profile defining a network not built in."""
    data_dir: Path = Path("/var/lib/aureond")
    shutdown_timeout: float = Field(default=10.0, gt=0, le=300)
    http: HttpConfig = HttpConfig()
    p2p: P2PConfig = P2PConfig()
    store: StoreConfig = StoreConfig()
    state: StateConfig = StateConfig()
    log: LogConfig = LogConfig()
    anchor: AnchorConfig | None = None

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file"):
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)

    def public_dict(self) -> dict[str, Any]:
        """The effective configuration as plain JSON types (no secrets inside)."""
        data: dict[str, Any] = json.loads(self.model_dump_json())
        return data


NON_SETTING_ENV = frozenset({
    "AUREOND_CONFIG", "AUREOND_TEST_DATA", "AUREOND_REQUIRE_DATA", "AUREOND_NODE_BIN",
    "AUREOND_TOOLS_DIR", "AUREOND_DEMO_DIR", "AUREOND_DEMO_HTTP", "AUREOND_HTTP_TOKEN",
})
"""``AUREOND_*`` variables that are not settings (tooling, tests, the demo, the token
of the ``aureond accounts`` client)."""

_ENV_PREFIX = "AUREOND_"


def _section(name: str) -> type[BaseModel] | None:
    """The model of the top-level key ``name`` when it is a section (``[http]``)."""
    field = Settings.model_fields.get(name)
    if field is None:
        return None
    for kind in (field.annotation, *get_args(field.annotation)):
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            return kind
    return None


def _keys(section: str | None) -> list[str]:
    """The keys of ``[section]``, or of the top level."""
    model = Settings if section is None else _section(section)
    return sorted(model.model_fields) if model is not None else []


def _close(key: str, known: list[str]) -> str | None:
    close = difflib.get_close_matches(key.lower(), known, n=1)
    return close[0] if close else None


def _refused(what: str, meant: str | None, keys: str) -> str:
    return f"{what}{f' (did you mean {meant}?)' if meant else ''}; {keys}"


def _top_keys(spell: Callable[[str], str], sections: Callable[[str], str]) -> str:
    known = _keys(None)
    groups = [k for k in known if _section(k) is not None]
    plain = [spell(k) for k in known if k not in groups]
    return (f"the top level takes {', '.join(plain)} and the sections "
            f"{', '.join(sections(k) for k in groups)}")


def _unknown_key(loc: tuple[str, ...]) -> str:
    """Why ``loc`` is refused, the key it may have meant and the keys there are."""
    *parents, key = loc
    if len(parents) > 1 or (parents and _section(parents[0]) is None):
        return "unknown key"
    if not parents:
        return _refused("unknown key", _close(key, _keys(None)),
                        _top_keys(str, lambda k: f"[{k}]"))
    section = parents[0]
    known = _keys(section)
    meant = _close(key, known)
    return _refused("unknown key", meant and f"{section}.{meant}",
                    f"[{section}] takes {', '.join(known)}")


def _env_name(*keys: str) -> str:
    return _ENV_PREFIX + "__".join(keys).upper()


def _unknown_env(name: str) -> str | None:
    """Why ``AUREOND_...`` is not a setting (with what it may have meant), or None."""
    top, *rest = name[len(_ENV_PREFIX):].lower().split("__")
    what = "unknown environment variable"
    if top not in Settings.model_fields:
        meant = _close(top, _keys(None))
        if meant is not None and rest and _section(meant) is not None:
            meant = _env_name(meant, _close(rest[0], _keys(meant)) or rest[0], *rest[1:])
        elif meant is not None:
            meant = _env_name(meant, *rest)
        return _refused(what, meant, _top_keys(
            _env_name, lambda k: _env_name(k, "<KEY>")))
    if not rest:
        return None
    if _section(top) is None:
        return f"{what}: {top} is a value, not a section; set {_env_name(top)}"
    known = _keys(top)
    if len(rest) == 1 and rest[0] in known:
        return None
    meant = _close(rest[0], known)
    return _refused(what, meant and _env_name(top, meant),
                    f"[{top}] takes {_env_name(top, '<KEY>')} for {', '.join(known)}")


def _check_env_names() -> None:
    """A misspelt ``AUREOND_*`` variable is an error naming it, as an unknown file key."""
    for name in sorted(os.environ):
        if not name.startswith(_ENV_PREFIX) or name in NON_SETTING_ENV:
            continue
        problem = _unknown_env(name)
        if problem is not None:
            raise ConfigError(name, problem)


def load_settings(config_file: Path | None = None,
                  overrides: dict[str, Any] | None = None) -> Settings:
    """Build the settings; ``ConfigError`` names the first bad key.

    ``config_file`` None means ``$AUREOND_CONFIG``, else ``/etc/aureond/aureond.toml``
    when it exists, else defaults and environment only. ``overrides`` are CLI flags
    (nested sections as dicts).
    """
    path = config_file
    if path is None and os.environ.get("AUREOND_CONFIG"):
        path = Path(os.environ["AUREOND_CONFIG"])
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    if path is not None and not path.is_file():
        raise ConfigError("config", f"{path} does not exist or is not a file")
    _check_env_names()
    cls: type[Settings] = Settings
    if path is not None:
        cls = type("FileSettings", (Settings,),
                   {"model_config": SettingsConfigDict(**{**Settings.model_config,
                                                          "toml_file": path})})
    try:
        return cls(**(overrides or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(str(p) for p in err["loc"])
        raise ConfigError(".".join(loc) or "config", _message(err, loc)) from None
    except ValueError as exc:  # TOML syntax errors surface as ValueError subclasses
        raise ConfigError("config", f"{path}: {exc}") from None


def _message(err: Any, loc: tuple[str, ...]) -> str:
    if err.get("type") == "extra_forbidden" and loc:
        return _unknown_key(loc)
    return str(err.get("msg", "invalid value"))
