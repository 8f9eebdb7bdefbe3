"""The daemon: assembles the node from its parts and runs it until told to stop.

Start-up order: open the header store (healing a torn tail) and the peer book, build
metrics, health and the P2P core, bind the HTTP listener, then tell systemd
``READY=1``. Then one ``TaskGroup`` supervises the P2P driver, the event-loop lag
monitor, the peer book's writer (bans and unbans are saved at once, in a worker
thread) and the housekeeping loop (gauges, ``STATUS=``, ``WATCHDOG=1``, asking for a
periodic save of the peer book). SIGTERM/SIGINT set the stop event; shutdown
(``STOPPING=1``, HTTP closed, store flushed and closed, peer book saved) is bounded by
``shutdown_timeout``.

Errors map to exit codes in ``aureond.commands.run``: ``ConfigError`` (bad settings,
port in use), ``StoreError`` (the store cannot be opened or written), anything else
fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal

import structlog
from aiohttp import web
from prometheus_client import CollectorRegistry

from aureond import __version__
from aureond.api.activity import RequestActivity
from aureond.api.app import create_app, start_http
from aureond.api.auth import load_token
from aureond.api.endpoint import LIMITER_KEY, MONITORING_LIMITER_KEY
from aureond.api.routes import DEFAULT_AREAS
from aureond.api.routes import accounts as accounts_routes
from aureond.api.routes import bans as bans_routes
from aureond.api.routes import state as state_routes
from aureond.api.settings import ApiSettings
from aureond.chain.header import BlockHeader
from aureond.chain.params import NetworkParams
from aureond.clock import Clock, RandomSource
from aureond.errors import ConfigError, StoreError
from aureond.heap import freeze_heap
from aureond.monitoring.checks import (
    error_rate_provider,
    evaluate_clock,
    evaluate_peers,
    evaluate_store,
    evaluate_sync,
    judged_error_rate,
    loop_lag_provider,
)
from aureond.monitoring.error_rate import ErrorRateTracker
from aureond.monitoring.health import ComponentCheck, ErrorRatePolicy, HealthDashboard
from aureond.monitoring.latency import LatencyTracker
from aureond.monitoring.loop_lag import LoopLagMonitor
from aureond.monitoring.prometheus import NodeMetrics
from aureond.monitoring.throughput import ThroughputTracker
from aureond.p2p.dialing import connect_policy, dial_deadline
from aureond.p2p.driver import P2PDriver
from aureond.p2p.durable import DurableHeaders
from aureond.p2p.events import BanLifted, PeerId
from aureond.p2p.handshake import HandshakeConfig
from aureond.p2p.headerchain import Anchor, HeaderChain
from aureond.p2p.manager import ConnState, PeerManager, backoff_from_policy
from aureond.p2p.node import P2PProtocol
from aureond.p2p.syncpeer import HEADERS_PER_STEP
from aureond.resilience import (
    BreakerConfig,
    CircuitBreaker,
    RecoveryBook,
    Retrier,
    RetryPolicy,
    TokenBucket,
)
from aureond.service.bans import NodeBans
from aureond.service.config import Settings, parse_hostport
from aureond.service.observe import NodeObserver, ObservedCore
from aureond.service.peersaver import PeerBookSaver
from aureond.service.powpool import SCRYPT_HEADERS_PER_STEP, parallel_params
from aureond.service.resilience_metrics import ResilienceMetrics
from aureond.service.sdnotify import Notifier, watchdog_interval
from aureond.service.state_driver import StateDriver, open_state
from aureond.service.state_view import DaemonStateView
from aureond.service.view import DaemonView
from aureond.store.peers import PeerAddress, PeerBook
from aureond.store.policy import FsyncPolicy

__all__ = ["Daemon"]

log = structlog.get_logger("aureond.node")

HOUSEKEEPING_INTERVAL = 1.0
PEER_STATE_LABELS = {ConnState.CONNECTING: "connecting",
                     ConnState.HANDSHAKING: "handshaking",
                     ConnState.ESTABLISHED: "connected"}
"""``aureond_peers{state}`` values: an established peer is "connected" to operators."""
PEERBOOK_SAVE_INTERVAL = 60.0
RECONNECT_POLICY = RetryPolicy(max_attempts=1_000_000, initial_delay=1.0, max_delay=60.0,
                               deadline=None)
"""Backoff between reconnects to one address: capped exponential with full jitter."""
DNS_RETRY_POLICY = RetryPolicy(max_attempts=3, initial_delay=1.0, max_delay=4.0,
                               deadline=30.0)
"""Lookups of one DNS seed whose resolver is busy (``EAI_AGAIN``, timeouts)."""
ERROR_WINDOW_SECONDS = 300.0
ERROR_POLICY = ErrorRatePolicy(min_samples=10)
"""``errors:rate`` (and ``aureond_error_ratio``, and the alerts on it) judge the last
5 minutes, the alerts' ``for:``, once they hold 10 operations: a node with little to do,
such as one redialling its only peer with backoff, gathers that many, so its error rate
is judged rather than passed for want of samples."""


class Daemon:
    """One running node. ``await run()`` returns after a clean stop."""

    def __init__(self, settings: Settings, params: NetworkParams, *, clock: Clock,
                 rng: RandomSource, notifier: Notifier | None = None) -> None:
        self.settings = settings
        self.params = params
        self.clock = clock
        self.rng = rng
        self.notifier = notifier if notifier is not None else Notifier()
        self.stop_event = asyncio.Event()
        self.http_address: tuple[str, int] | None = None
        self.registry = CollectorRegistry()
        self._breakers: dict[str, CircuitBreaker] = {}

    def request_stop(self) -> None:
        self.stop_event.set()

    # --- assembly -----------------------------------------------------------------

    def _anchor(self) -> Anchor | None:
        a = self.settings.anchor
        if a is None:
            return None
        try:
            return Anchor(BlockHeader.from_hex(a.header), a.height, int(a.chainwork, 16),
                          tuple(a.earlier_times))
        except ValueError as exc:
            raise ConfigError("anchor", str(exc)) from exc

    def _open_chain(self) -> HeaderChain:
        data_dir = self.settings.data_dir
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the data directory {data_dir}: {exc}") from exc
        # fsync is driven by DurableHeaders (a batch processor), not by the store.
        chain = HeaderChain.open(self.params, data_dir / "headers", anchor=self._anchor(),
                                 fsync_policy=FsyncPolicy.manual(), clock=self.clock,
                                 window=self.settings.store.memory_window)
        if chain.recovery.redone or chain.recovery.removed:
            log.warning("store.reorg_recovered", redone=chain.recovery.redone,
                        fork_height=chain.recovery.fork_height,
                        headers=chain.recovery.count,
                        side_files_removed=chain.recovery.removed)
        report = chain.store.heal_report
        if report.healed:
            log.warning("store.healed", **_plain(report))
        return chain

    def _breaker(self, name: str) -> CircuitBreaker:
        p2p = self.settings.p2p
        # A probe is one dial: it must have the time a dial may take, or a peer that is
        # back but slow to handshake would be judged dead and kept open.
        breaker = CircuitBreaker(name, self.clock, BreakerConfig(
            failure_threshold=p2p.breaker_failures, open_timeout=p2p.breaker_open_seconds,
            success_threshold=1, failure_rate_threshold=p2p.breaker_failure_rate,
            window_seconds=p2p.breaker_window_seconds,
            minimum_calls=p2p.breaker_minimum_calls,
            probe_timeout=dial_deadline(p2p.connect_timeout, p2p.handshake_timeout)))
        self._breakers[name] = breaker
        self._resilience_metrics.watch_breaker(breaker)
        return breaker

    def _bucket(self, peer: PeerId) -> TokenBucket:
        rate = self.settings.p2p.messages_per_second
        bucket = TokenBucket(max(1.0, rate), rate, self.clock, name="peer-send")
        self._resilience_metrics.watch_bucket(bucket)
        return bucket

    def _addresses(self) -> list[PeerAddress]:
        out = []
        for item in self.settings.p2p.connect:
            host, port = parse_hostport(item, self.params.default_port)
            out.append(PeerAddress(host, port))
        return out

    # --- running ------------------------------------------------------------------

    async def run(self) -> None:
        # scrypt networks hash proofs of work on every core (see powpool).
        self.params, pool = parallel_params(self.params)
        try:
            await self._run()
        finally:
            if pool is not None:
                pool.close()

    async def _run(self) -> None:
        settings = self.settings
        started = self.clock.monotonic()
        chain = await asyncio.to_thread(self._open_chain)
        try:
            peerbook = PeerBook.open(settings.data_dir / "peers.json", clock=self.clock)
        except BaseException:
            chain.close()
            raise
        if peerbook.load_problem:
            log.warning("store.peers_reset", problem=peerbook.load_problem)
        saver = PeerBookSaver(peerbook)  # from here on, bans are written off the loop
        state: StateDriver | None = None
        if settings.state.enabled:
            try:
                state = await open_state(
                    directory=settings.data_dir / "state", network=self.params.name,
                    chain=chain, clock=self.clock, rng=self.rng, registry=self.registry,
                    ban_seconds=settings.p2p.ban_seconds,
                    snapshot_every=settings.state.snapshot_every_blocks,
                    keep_snapshots=settings.state.keep_snapshots)
            except BaseException:
                chain.close()
                raise
        metrics = NodeMetrics(self.registry, version=__version__, network=self.params.name)
        self._resilience_metrics = ResilienceMetrics(self.registry)
        metrics.on_tip_changed(chain.tip_height, chain.tip_time)
        self._resilience_metrics.watch_cache(chain.header_cache)
        self._resilience_metrics.watch_cache(chain.height_cache)
        durable = DurableHeaders(
            chain, self.clock, max_delay=settings.store.fsync_every_seconds,
            headers_per_flush=settings.store.fsync_every_headers,
            on_error=metrics.on_store_error)
        self._resilience_metrics.watch_batch(durable.batcher)
        errors = ErrorRateTracker(self.clock, window_seconds=ERROR_WINDOW_SECONDS,
                                  bucket_seconds=5.0)
        latency = LatencyTracker(self.clock)
        throughput = ThroughputTracker(self.clock, "headers", window_seconds=60,
                                       bucket_seconds=1)
        lag = LoopLagMonitor(self.clock, on_sample=metrics.set_event_loop_lag)
        metrics.bind_error_ratio(lambda: judged_error_rate(errors, ERROR_POLICY))

        addresses = self._addresses()
        use_seeds = not addresses and settings.p2p.dns_seeds
        manager = PeerManager(addresses, bans=peerbook, breakers=self._breaker,
                              backoff=backoff_from_policy(RECONNECT_POLICY, self.rng),
                              target_outbound=(min(settings.p2p.max_outbound, len(addresses))
                                               if addresses else settings.p2p.max_outbound))
        protocol = P2PProtocol(chain, manager, self.rng, ban_seconds=settings.p2p.ban_seconds,
                               handshake=HandshakeConfig(
                                   timeout=settings.p2p.handshake_timeout),
                               blocks=state.feed if state is not None else None,
                               headers_per_step=(HEADERS_PER_STEP
                                                 if self.params.pow_hash == "sha256d"
                                                 else SCRYPT_HEADERS_PER_STEP))
        observer = NodeObserver(metrics=metrics, errors=errors, latency=latency,
                                headers=throughput, peerbook=peerbook, protocol=protocol,
                                clock=self.clock, durable=durable,
                                on_tip=state.on_tip_changed if state is not None else None)
        recovery: RecoveryBook[PeerAddress] = RecoveryBook("connect", self.clock)
        core = ObservedCore(protocol, metrics, errors, peerbook, observer, recovery)
        connect_retry = Retrier(connect_policy(settings.p2p.connect_timeout), self.clock,
                                self.rng)
        dns_retry = Retrier(DNS_RETRY_POLICY, self.clock, self.rng)
        self._resilience_metrics.watch_retrier(connect_retry)
        self._resilience_metrics.watch_retrier(dns_retry)

        async def no_seeds() -> list[PeerAddress]:
            return []

        activity = RequestActivity(self.clock)  # the driver gives way to API requests
        driver = P2PDriver(core, self.params, self.clock,
                           connect_timeout=settings.p2p.connect_timeout,
                           bucket_factory=self._bucket, on_notification=observer,
                           ban=peerbook.ban, resolver=None if use_seeds else no_seeds,
                           backpressure=durable.wait_for_room, give_way=activity.busy,
                           connect_retry=connect_retry, dns_retry=dns_retry,
                           recovery=recovery, on_store_error=durable.fail)

        dashboard = HealthDashboard(self.clock, service_id="aureond", version=__version__,
                                    description=f"aureond SPV node ({self.params.name})")
        view = DaemonView(network=self.params.name, chain=chain, protocol=protocol,
                          peerbook=peerbook, dashboard=dashboard, clock=self.clock,
                          breaker_of=manager.breaker_of, connected_at=observer.connected_at,
                          started=started, recovery_of=recovery.context)
        bans = NodeBans(peerbook, persist=saver.flush,
                        lift=lambda a: driver.deliver(BanLifted(a, self.clock.wall())))

        def sync_check() -> ComponentCheck:
            return evaluate_sync(chain.tip_height, view.best_peer_height(),
                                 self.clock.wall() - chain.tip_time)

        dashboard.register("sync", "blocksBehind", sync_check)
        dashboard.register("peers", "connections",
                           lambda: evaluate_peers(view.connected_peers()))
        dashboard.register("store", "writable", lambda: evaluate_store(durable.healthy))
        dashboard.register("errors", "rate", error_rate_provider(errors, ERROR_POLICY))
        dashboard.register("event_loop", "lag", loop_lag_provider(lag))
        offsets = observer.time_offsets
        dashboard.register("clock", "offset",
                           lambda: evaluate_clock(offsets.median(), len(offsets)))

        host, port = parse_hostport(settings.http.listen)
        # systemd's LoadCredential= puts the token under $CREDENTIALS_DIRECTORY.
        token = load_token(settings.http.token_file, os.environ.get("CREDENTIALS_DIRECTORY"))
        api_settings = ApiSettings(bind_host=host, token=token,
                                   max_body_bytes=settings.http.max_body_bytes,
                                   rate_per_second=settings.http.rate_per_second,
                                   rate_burst=settings.http.rate_burst,
                                   **settings.http.client_limits())
        app = create_app(view, self.registry, self.clock, api_settings, outcomes=errors,
                         node_metrics=metrics, areas=(*DEFAULT_AREAS, bans_routes.ENDPOINTS,
                                                      accounts_routes.ENDPOINTS,
                                                      state_routes.ENDPOINTS),
                         activity=activity)
        app[bans_routes.BAN_VIEW_KEY] = bans
        if state is not None:
            app[accounts_routes.STATE_VIEW_KEY] = DaemonStateView(state)
        self._resilience_metrics.watch_bucket(app[LIMITER_KEY])
        self._resilience_metrics.watch_bucket(app[MONITORING_LIMITER_KEY])
        try:
            runner, _site = await start_http(
                app, host, port, access_log=(logging.getLogger("aureond.http")
                                             if settings.http.access_log else None))
        except BaseException:
            chain.close()
            raise
        bound = [a for a in runner.addresses if isinstance(a, tuple)]
        self.http_address = (bound[0][0], bound[0][1]) if bound else (host, port)
        frozen = freeze_heap()
        log.debug("node.heap_frozen", objects=frozen)
        log.info("node.ready", network=self.params.name, store_height=chain.tip_height,
                 data_dir=str(settings.data_dir),
                 listen=f"http://{_url_host(self.http_address[0])}:{self.http_address[1]}",
                 peers=[str(a) for a in addresses] or "dns-seeds")
        self.notifier.ready(self._status_line(chain, view))
        try:
            async with asyncio.TaskGroup() as tg:
                tasks = [tg.create_task(driver.run(), name="p2p"),
                         tg.create_task(lag.run(), name="loop-lag"),
                         tg.create_task(saver.run(), name="peer-book"),
                         tg.create_task(self._housekeeping(chain, view, metrics, dashboard,
                                                           manager, saver, durable),
                                        name="housekeeping")]
                if state is not None:
                    tasks.append(tg.create_task(state.run(), name="state"))
                await self.stop_event.wait()
                log.info("node.stopping")
                for task in tasks:
                    task.cancel()
        finally:
            await self._shutdown(runner, chain, peerbook, durable, state)

    async def _shutdown(self, runner: web.AppRunner, chain: HeaderChain, peerbook: PeerBook,
                        durable: DurableHeaders, state: StateDriver | None = None) -> None:
        self.notifier.stopping()
        try:
            async with asyncio.timeout(self.settings.shutdown_timeout):
                await runner.cleanup()
                if state is not None:
                    await state.close()
                await durable.close()
                chain.close()
        except TimeoutError:
            log.error("node.shutdown_timeout", seconds=self.settings.shutdown_timeout)
            chain.close()
        finally:
            with contextlib.suppress(StoreError):
                peerbook.save()
            self.notifier.close()
        log.info("node.stopped")

    async def _housekeeping(self, chain: HeaderChain, view: DaemonView, metrics: NodeMetrics,
                            dashboard: HealthDashboard, manager: PeerManager,
                            saver: PeerBookSaver, durable: DurableHeaders) -> None:
        watchdog = watchdog_interval()
        last_watchdog = -1e18
        last_save = self.clock.monotonic()
        last_status = ""
        while True:
            if durable.failure is not None:
                raise durable.failure
            now = self.clock.monotonic()
            counts = manager.counts()
            metrics.set_peer_counts({PEER_STATE_LABELS[state]: n
                                     for state, n in counts.items()})
            best = view.best_peer_height()
            if best is not None:
                metrics.on_best_peer_height(best)
            metrics.observe_health(dashboard.evaluate())
            status = self._status_line(chain, view)
            if status != last_status:
                self.notifier.status(status)
                last_status = status
            if watchdog is not None and now - last_watchdog >= watchdog:
                self.notifier.watchdog()
                last_watchdog = now
            if now - last_save >= PEERBOOK_SAVE_INTERVAL:
                saver.request()  # written in a worker thread; a failure is logged there
                last_save = now
            await self.clock.sleep(min(HOUSEKEEPING_INTERVAL, watchdog or 1.0))

    def _status_line(self, chain: HeaderChain, view: DaemonView) -> str:
        sync = view.sync()
        peers = view.connected_peers()
        return (f"height {chain.tip_height}, {peers} peer{'s' if peers != 1 else ''}, "
                f"{sync.state.value}")


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _plain(report: object) -> dict[str, object]:
    fields = getattr(report, "__slots__", ()) or getattr(report, "__dataclass_fields__", {})
    return {name: str(getattr(report, name)) for name in fields}


def install_signal_handlers(daemon: Daemon) -> None:
    """SIGTERM and SIGINT ask the daemon to stop (a second one is ignored)."""
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, daemon.request_stop)
