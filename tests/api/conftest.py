"""Fixtures for the API tests: the real chain, a fake node, an app and a test client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from aureond.api import ApiSettings, create_app
from aureond.clock import FakeClock
from tests.api.fakes import FakeView, RealChain, load_chain


@pytest.fixture(scope="session")
def real_chain(data_dir: Path) -> RealChain:
    return load_chain(data_dir)


@pytest.fixture
def clock(real_chain: RealChain) -> FakeClock:
    """Wall time 600 s after the tip's timestamp: the tip is fresh."""
    return FakeClock(start=1_000.0, wall_offset=real_chain.headers[-1].time + 600 - 1_000.0)


@pytest.fixture
def view(real_chain: RealChain, clock: FakeClock) -> FakeView:
    return FakeView(real_chain, clock)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def settings() -> ApiSettings:
    return ApiSettings()


@pytest.fixture
def app(view: FakeView, registry: CollectorRegistry, clock: FakeClock,
        settings: ApiSettings) -> web.Application:
    return create_app(view, registry, clock, settings)


ClientFactory = Callable[[web.Application], Awaitable[TestClient[web.Request, web.Application]]]


@pytest.fixture
async def make_client() -> AsyncIterator[ClientFactory]:
    clients: list[TestClient[web.Request, web.Application]] = []

    async def make(application: web.Application) -> TestClient[web.Request, web.Application]:
        client = TestClient(TestServer(application, host="127.0.0.1"))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def client(app: web.Application,
                 make_client: ClientFactory) -> TestClient[web.Request, web.Application]:
    return await make_client(app)
