"""deploy/systemd/aureond.service: lifecycle settings agree with the daemon and config.

``systemd-analyze verify`` and ``security`` run in scripts/check-deploy; these tests
pin the decisions: notify + watchdog, restart policy against the exit codes, the stop
bound above the daemon's drain bound, paths matching the config, the hardening set,
and the credential name the daemon reads.
"""

from __future__ import annotations

import re
import shlex
import tomllib

import pytest

from aureond.api.auth import CREDENTIAL_NAME
from aureond.api.connections import connection_cap
from tests.deploy.parsing import DEPLOY, ROOT, Unit

SYSTEMD = DEPLOY / "systemd"
UNIT = Unit.parse((SYSTEMD / "aureond.service").read_text())
DROP_IN = Unit.parse((SYSTEMD / "aureond.service.d" / "http-token.conf").read_text())
CONFIG = tomllib.loads((ROOT / "config" / "aureond.toml").read_text())


def _seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(s|min)?", value)
    assert match, f"unsupported time span {value!r}"
    return float(match.group(1)) * (60 if match.group(2) == "min" else 1)


def service(key: str) -> str | None:
    return UNIT.last("Service", key)


@pytest.mark.parametrize(("key", "value"), [
    ("Type", "notify"),
    ("NotifyAccess", "main"),
    ("WatchdogSec", "30"),
    ("Restart", "on-failure"),
    ("DynamicUser", "yes"),
    ("StateDirectory", "aureond"),
    ("ConfigurationDirectory", "aureond"),
    ("UMask", "0077"),
])
def test_lifecycle(key: str, value: str) -> None:
    assert service(key) == value


def test_config_and_store_errors_are_not_restarted() -> None:
    codes = set((service("RestartPreventExitStatus") or "").split())
    assert {"3", "4"} <= codes
    assert "5" not in codes, "a fatal runtime error should be restarted"


def test_stop_timeout_leaves_room_above_the_drain_bound() -> None:
    stop = _seconds(service("TimeoutStopSec") or "")
    assert stop >= CONFIG["shutdown_timeout"] + 5


def test_exec_start_uses_the_documented_config() -> None:
    argv = shlex.split(service("ExecStart") or "")
    assert argv[:2] == ["/usr/bin/aureond", "run"]
    config = argv[argv.index("--config") + 1]
    assert config == "/etc/aureond/aureond.toml"
    assert config.startswith(f"/etc/{service('ConfigurationDirectory')}/")


def test_state_directory_is_the_configured_data_dir() -> None:
    assert CONFIG["data_dir"] == f"/var/lib/{service('StateDirectory')}"


def test_only_the_http_port_may_be_bound() -> None:
    port = CONFIG["http"]["listen"].rsplit(":", 1)[1]
    assert service("SocketBindAllow") == f"tcp:{port}"
    assert service("SocketBindDeny") == "any"


def test_token_credential_is_the_name_the_daemon_reads() -> None:
    (load,) = DROP_IN.values("Service", "LoadCredential")
    name, _, source = load.partition(":")
    assert name == CREDENTIAL_NAME
    assert source.startswith("/etc/aureond/")


HARDENING = {
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "AmbientCapabilities": "",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "PrivateDevices": "yes",
    "DevicePolicy": "closed",
    "PrivateUsers": "yes",
    "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes",
    "ProtectKernelLogs": "yes",
    "ProtectControlGroups": "yes",
    "ProtectClock": "yes",
    "ProtectHostname": "yes",
    "ProtectProc": "invisible",
    "RestrictNamespaces": "yes",
    "RestrictRealtime": "yes",
    "RestrictSUIDSGID": "yes",
    "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes",
    "KeyringMode": "private",
    "RemoveIPC": "yes",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "SystemCallArchitectures": "native",
}


@pytest.mark.parametrize(("key", "value"), sorted(HARDENING.items()))
def test_hardening(key: str, value: str) -> None:
    assert service(key) == value


def test_system_call_filter() -> None:
    assert UNIT.values("Service", "SystemCallFilter") == [
        "@system-service", "~@privileged @resources"]
    assert service("SystemCallErrorNumber") == "EPERM"


def test_proc_subset_is_left_open_for_process_metrics() -> None:
    # ProcSubset=pid hides /proc/stat; prometheus_client then exports no process_*.
    assert service("ProcSubset") is None


def test_start_limits_are_in_the_unit_section() -> None:
    assert UNIT.last("Unit", "StartLimitBurst") is not None
    assert service("StartLimitBurst") is None


def test_the_open_file_limit_holds_the_http_connections_and_the_reserve() -> None:
    """``aureond run`` refuses to start when LimitNOFILE= cannot hold both."""
    limit = int(service("LimitNOFILE") or "0")
    http = CONFIG["http"]
    cap = connection_cap(http["max_connections"], http["fd_reserve"], limit)
    assert cap >= 1024, f"only {cap} HTTP connections under LimitNOFILE={limit}"
