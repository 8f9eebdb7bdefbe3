"""``aureond accounts`` against the real HTTP API served on a loopback port.

The app is the node's own (``create_app`` with the accounts and snapshot routes) over
the real mainnet header run and a fake state view that scans real block 830000; it runs
on an event loop in a background thread while the command runs in the test's thread.
"""

from __future__ import annotations

import asyncio
import json
import re
import shlex
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from aureond.api import ApiSettings, create_app
from aureond.api.routes import DEFAULT_AREAS
from aureond.api.routes import accounts as accounts_routes
from aureond.api.routes import state as state_routes
from aureond.chain.hashing import hash_to_display
from aureond.cli import build_parser, main
from aureond.clock import FakeClock
from aureond.commands.status import DEFAULT_URL
from aureond.state.addresses import address_for_script
from aureond.state.networks import ADDRESS_PARAMS
from tests.api.fakes import FakeView, RealChain, load_chain
from tests.state.fakes import FakeStateView
from tests.state.helpers import KINDS, RealBlock, load_block
from tests.state.test_real_blocks import spent_script_of_kind

TOKEN = "c0ffee-" + "5a" * 20
TIP = 830592
TESTNET_ADDRESS = "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7"


class LiveNode:
    """The API app served on 127.0.0.1 from an event loop on a background thread."""

    def __init__(self, app: web.Application, state: FakeStateView) -> None:
        self.state = state
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._runner = web.AppRunner(app)
        port = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        self.url = f"http://127.0.0.1:{port}"

    async def _start(self) -> int:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port: int = self._runner.addresses[0][1]
        return port

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


@pytest.fixture(scope="module")
def chain(data_dir: Path) -> RealChain:
    return load_chain(data_dir)


@pytest.fixture(scope="module")
def block(data_dir: Path) -> RealBlock:
    return load_block(data_dir, 830000)


NodeFactory = Callable[..., LiveNode]


@pytest.fixture
def serve(chain: RealChain, block: RealBlock, tmp_path: Path) -> Iterator[NodeFactory]:
    started: list[LiveNode] = []

    def start(settings: ApiSettings | None = None) -> LiveNode:
        clock = FakeClock(start=1_000.0, wall_offset=chain.headers[-1].time)
        state = FakeStateView(tmp_path / f"state{len(started)}", "mainnet", block.block,
                              block.height)
        app = create_app(FakeView(chain, clock), CollectorRegistry(), clock, settings,
                         areas=(*DEFAULT_AREAS, accounts_routes.ENDPOINTS,
                                state_routes.ENDPOINTS))
        app[accounts_routes.STATE_VIEW_KEY] = state
        node = LiveNode(app, state)
        started.append(node)
        return node

    yield start
    for node in started:
        node.close()


@pytest.fixture
def node(serve: NodeFactory) -> LiveNode:
    return serve()


@pytest.fixture
def secured(serve: NodeFactory) -> LiveNode:
    """An app configured for a bind beyond loopback: writes need the bearer token."""
    return serve(ApiSettings(bind_host="192.0.2.1", token=TOKEN))


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Run:
    def call(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return call


def _addresses(block: RealBlock) -> list[str]:
    params = ADDRESS_PARAMS["mainnet"]
    found = [address_for_script(spent_script_of_kind(block.block, k), params) for k in KINDS]
    addresses = [a for a in found if a is not None]
    assert len(addresses) == len(KINDS)
    return addresses


def _add(run: Run, url: str, *watch: str, label: str = "cold") -> str:
    args = ["accounts", "add", "--url", url, "--label", label, "--birthday", "830000"]
    for item in watch:
        args += ["--watch", item]
    code, out, err = run(*args)
    assert (code, err) == (0, "")
    found = re.fullmatch(r"added account ([0-9a-f]{16}); see it with "
                         r"`aureond accounts show \1`\n", out)
    assert found, out
    return found.group(1)


def test_add_list_show_delete_as_text(run: Run, node: LiveNode, block: RealBlock) -> None:
    watch = _addresses(block)
    account_id = _add(run, node.url, *watch)
    assert [a.id for a in node.state.accounts()] == [account_id]

    code, out, _ = run("accounts", "list", "--url", node.url)
    assert code == 0
    header, row, scan = out.splitlines()
    assert header.split() == ["ID", "LABEL", "BIRTHDAY", "WATCHING"]
    assert row.split()[:3] == [account_id, "cold", "830000"]
    assert row.endswith(f"(+{len(watch) - 1} more)")
    assert row.split()[3] in watch
    assert scan == "scan: ledger at height 830000 of 830000, rescans 0, blocks in flight 0"

    code, out, _ = run("accounts", "show", "--url", node.url, account_id)
    assert code == 0
    state = node.state.account_state(account_id)
    assert state is not None
    lines = out.splitlines()
    assert lines[0] == f"account {account_id}: cold"
    assert lines[1] == "birthday: 830000"
    whole, frac = divmod(state.balance, 10**8)
    assert lines[2] == f"balance:  {state.balance} sat ({whole}.{frac:08d})"
    for address in watch:
        assert any(line.split()[1:2] == [address] for line in lines)
    assert f"UTXOs ({len(state.coins)})" in lines
    assert f"History ({len(state.history)})" in lines
    for coin in state.coins:
        outpoint = f"{hash_to_display(coin.outpoint.txid)}:{coin.outpoint.vout}"
        (line,) = [x for x in lines if x.split()[:1] == [outpoint]]
        assert line.split()[1] == str(coin.value)
        assert line.split()[-2:] == ["830000", str(TIP - 830000 + 1)]
    debits = [m for m in state.history if m.kind == "debit"]
    assert debits
    for move in debits:
        rows = [x.split() for x in lines if x.split()[:2] == [hash_to_display(move.txid),
                                                               "debit"]]
        assert [str(-move.coin.value), "sat"] in [r[2:4] for r in rows]

    code, out, _ = run("accounts", "delete", "--url", node.url, account_id)
    assert (code, out) == (0, f"deleted account {account_id}\n")
    assert node.state.accounts() == []
    code, out, _ = run("accounts", "list", "--url", node.url)
    assert out.splitlines()[0] == "no accounts"


def test_json_output_is_the_nodes_document(run: Run, node: LiveNode, block: RealBlock) -> None:
    script = spent_script_of_kind(block.block, "p2tr").hex()
    code, out, _ = run("accounts", "add", "--url", node.url, "--json", "--label", "t",
                       "--watch", script, "--birthday", "830000")
    assert code == 0
    (line,) = out.splitlines()
    account_id = json.loads(line)["id"]

    code, out, _ = run("accounts", "list", "--url", node.url, "--json")
    listed = json.loads(out)
    assert [a["id"] for a in listed["accounts"]] == [account_id]
    assert listed["accounts"][0]["watch"][0]["script"] == script

    code, out, _ = run("accounts", "show", "--url", node.url, "--json", account_id)
    doc = json.loads(out)
    state = node.state.account_state(account_id)
    assert state is not None
    assert doc["balance_sat"] == state.balance == sum(u["value_sat"] for u in doc["utxos"])
    assert len(doc["history"]) == len(state.history)

    code, out, _ = run("accounts", "delete", "--url", node.url, "--json", account_id)
    assert (code, json.loads(out)) == (0, {"id": account_id, "deleted": True})


def test_proofs_written_to_files_verify(run: Run, node: LiveNode, block: RealBlock,
                                        tmp_path: Path) -> None:
    account_id = _add(run, node.url, *_addresses(block)[:2])
    state = node.state.account_state(account_id)
    assert state is not None
    assert state.txids

    code, out, _ = run("accounts", "proofs", "--url", node.url, account_id)
    assert code == 0
    listed = {line.split()[0] for line in out.splitlines()[1:-1]}
    assert listed == {hash_to_display(t) for t in state.txids}

    out_dir = tmp_path / "proofs"
    code, out, _ = run("accounts", "proofs", "--url", node.url, account_id, "--out",
                       str(out_dir))
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == f"wrote {len(state.txids)} proof file(s) to {out_dir}"
    files = sorted(out_dir.iterdir())
    assert [f.name for f in files] == sorted(f"{hash_to_display(t)}.json" for t in state.txids)
    for command in lines[1:]:
        argv = shlex.split(command)
        assert argv[:5] == ["aureond", "proof", "verify", "--network", "mainnet"]
        assert argv[5] == "--header"
        assert argv[6] == block.header.serialize().hex()
        proof_file = Path(argv[8])
        doc = json.loads(proof_file.read_text())
        assert doc["tx_count"] == len(block.block.transactions)
        (case,) = doc["cases"]
        assert {"tx_hash", "merkle", "pos"} <= set(case)
        assert proof_file.name == f"{case['tx_hash']}.json"
        code, out, _ = run(*argv[1:])
        assert code == 0, out
        result = json.loads(out)
        assert result["matched"] == [{"pos": case["pos"], "txid": case["tx_hash"]}]
        # The check is real: the branch moved to another position does not verify.
        case["pos"] ^= 1
        proof_file.write_text(json.dumps(doc))
        assert run(*argv[1:])[0] == 1

    code, out, _ = run("accounts", "proofs", "--url", node.url, "--json", account_id,
                       "--out", str(tmp_path / "again"))
    doc = json.loads(out)
    assert len(doc["files"]) == len(doc["proofs"]) == len(state.txids)
    assert all(f["command"].startswith("aureond proof verify") for f in doc["files"])


def test_snapshots(run: Run, node: LiveNode, block: RealBlock) -> None:
    code, _, err = run("accounts", "snapshot", "--url", node.url)
    assert code == 2
    assert "HTTP 409 snapshot_unavailable" in err
    _add(run, node.url, spent_script_of_kind(block.block, "p2wpkh").hex())
    code, out, _ = run("accounts", "snapshot", "--url", node.url, "--json")
    assert code == 0
    taken = json.loads(out)
    assert taken["height"] == 830000
    code, out, _ = run("accounts", "snapshots", "--url", node.url)
    assert code == 0
    header, row = out.splitlines()
    assert header.split()[:4] == ["HEIGHT", "BLOCK", "ACCOUNTS", "STATE"]
    assert row.split()[:4] == ["830000", taken["block_hash"], "1", taken["state_root"]]
    code, out, _ = run("accounts", "snapshots", "--url", node.url, "830000")
    assert code == 0
    assert f"state root:    {taken['state_root']}" in out.splitlines()
    assert "on best chain: yes" in out.splitlines()
    code, _, err = run("accounts", "snapshots", "--url", node.url, "5")
    assert code == 1
    assert "(HTTP 404 unknown_snapshot): no snapshot anchored at height 5" in err


def test_unknown_account_exits_1(run: Run, node: LiveNode) -> None:
    for action in ("show", "delete", "proofs"):
        code, out, err = run("accounts", action, "--url", node.url, "0" * 16)
        assert (code, out) == (1, "")
        assert "(HTTP 404 unknown_account): no account 0000000000000000" in err
    code, out, _ = run("accounts", "show", "--url", node.url, "--json", "0" * 16)
    doc = json.loads(out)
    assert (code, doc["ok"], doc["http_status"]) == (1, False, 404)
    assert doc["node_error"] == {"code": "unknown_account", "message": "no account " + "0" * 16}


def test_bad_input_exits_2_with_the_nodes_error(run: Run, node: LiveNode) -> None:
    code, out, err = run("accounts", "add", "--url", node.url, "--label", "x", "--watch",
                         TESTNET_ADDRESS, "--birthday", "1")
    assert (code, out) == (2, "")
    assert err.startswith("aureond: the node refused POST /v1/accounts (HTTP 400 "
                          "bad_account): watch[0]: ")
    code, out, err = run("accounts", "add", "--url", node.url, "--json", "--label", "x",
                         "--watch", "51", "--birthday", "-1")
    doc = json.loads(out)
    assert (code, doc["http_status"], doc["node_error"]["code"]) == (2, 400, "bad_account")
    assert "birthday" in doc["node_error"]["message"]
    assert node.state.accounts() == []
    # An id is one path segment: nothing in it reaches another route.
    for bad in ("NOT-AN-ID", "../status", "0000000000000000?x"):
        code, _, err = run("accounts", "show", "--url", node.url, bad)
        assert code == 2
        assert "HTTP 400 bad_account_id" in err


def _closed_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_an_unreachable_node_exits_3(run: Run) -> None:
    url = _closed_url()
    code, out, err = run("accounts", "list", "--url", url)
    assert (code, out) == (3, "")
    assert err.startswith(f"aureond: cannot reach the node at {url}: GET /v1/accounts "
                          "failed (")
    assert "`aureond run` is running" in err
    assert "--url" in err
    code, out, _ = run("accounts", "show", "--url", url, "--json", "0" * 16)
    doc = json.loads(out)
    assert (code, doc["ok"], doc["url"]) == (3, False, url)


def test_an_answer_that_is_not_aureonds_json_exits_3(run: Run, node: LiveNode) -> None:
    # The query string turns every request into GET /metrics: Prometheus text, not JSON.
    code, _, err = run("accounts", "list", "--url", node.url + "/metrics?x=")
    assert code == 3
    assert "did not answer a JSON object" in err


def test_the_token_is_sent_as_bearer_and_never_printed(
        run: Run, secured: LiveNode, block: RealBlock, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUREOND_HTTP_TOKEN", raising=False)
    outputs: list[str] = []

    def call(*argv: str) -> tuple[int, str, str]:
        code, out, err = run(*argv)
        outputs.extend((out, err))
        return code, out, err

    script = spent_script_of_kind(block.block, "p2sh").hex()
    add = ["accounts", "add", "--url", secured.url, "--label", "x", "--watch", script,
           "--birthday", "830000"]
    code, _, err = call(*add)
    assert code == 2
    assert "(HTTP 401 unauthorized)" in err
    assert "--token-file FILE or $AUREOND_HTTP_TOKEN" in err
    assert secured.state.accounts() == []
    assert call("accounts", "list", "--url", secured.url)[0] == 0  # reads stay open

    token_file = tmp_path / "token"
    token_file.write_text(f"{TOKEN}\n")
    code, _, _ = call(*add, "--token-file", str(token_file), "--json")
    assert code == 0
    (account,) = secured.state.accounts()

    monkeypatch.setenv("AUREOND_HTTP_TOKEN", "wrong-" + TOKEN)
    code, out, _ = call("accounts", "delete", "--url", secured.url, "--json", account.id)
    assert (code, json.loads(out)["node_error"]["code"]) == (2, "invalid_token")
    assert call("accounts", "snapshot", "--url", secured.url, "--token-file",
                str(token_file))[0] == 0  # the file wins over the environment
    monkeypatch.setenv("AUREOND_HTTP_TOKEN", TOKEN)
    assert call("accounts", "delete", "--url", secured.url, account.id)[0] == 0
    assert secured.state.accounts() == []

    token_file.write_text(f"{TOKEN} {TOKEN}\n")
    code, _, err = call(*add, "--token-file", str(token_file))
    assert code == 2
    assert "must hold one ASCII token without spaces" in err
    code, _, err = call(*add, "--token-file", str(tmp_path / "missing"))
    assert code == 2
    assert "cannot read the token file" in err
    assert all(TOKEN not in text for text in outputs)


def test_common_options_and_defaults() -> None:
    args = build_parser().parse_args(["accounts", "show", "0" * 16])
    assert (args.url, args.json, args.token_file, args.id) == (DEFAULT_URL, False, None,
                                                               "0" * 16)
    args = build_parser().parse_args(["accounts", "add", "--label", "a", "--watch", "51",
                                      "--watch", "52", "--birthday", "7"])
    assert (args.watch, args.birthday) == (["51", "52"], 7)
    with pytest.raises(SystemExit) as caught:
        build_parser().parse_args(["accounts", "add", "--label", "a", "--birthday", "7"])
    assert caught.value.code == 2
