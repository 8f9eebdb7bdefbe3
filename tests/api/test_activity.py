"""RequestActivity: the API tells the P2P driver when requests are arriving."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from aureond.api import ApiSettings, create_app
from aureond.api.activity import DEFAULT_WINDOW, RequestActivity
from aureond.chain.params import REGTEST
from aureond.clock import FakeClock
from aureond.p2p.driver import GIVE_WAY_TURNS, P2PDriver
from aureond.p2p.events import Event
from tests.api.conftest import ClientFactory
from tests.api.fakes import FakeView


def test_busy_only_within_the_window_after_a_start() -> None:
    clock = FakeClock()
    activity = RequestActivity(clock)
    assert not activity.busy()
    activity.started()
    assert activity.busy()
    clock.advance(DEFAULT_WINDOW * 0.9)
    assert activity.busy()
    clock.advance(DEFAULT_WINDOW * 0.2)
    assert not activity.busy()
    with pytest.raises(ValueError, match="window"):
        RequestActivity(clock, window=0)


async def test_every_request_marks_the_api_busy(view: FakeView, clock: FakeClock,
                                                make_client: ClientFactory) -> None:
    activity = RequestActivity(clock)
    app = create_app(view, CollectorRegistry(), clock, ApiSettings(), activity=activity)
    client = await make_client(app)
    assert not activity.busy()
    response = await client.get("/health/live")
    assert response.status == 200
    assert activity.busy()
    clock.advance(1.0)
    assert not activity.busy()
    response = await client.get("/no/such/route")  # refused requests count too
    assert response.status == 404
    assert activity.busy()


class _NoCore:
    def handle(self, event: Event) -> list[object]:
        return []


async def _turns_others_get(give_way: bool) -> int:
    """Loop turns another task gets while the driver yields once between steps."""
    driver = P2PDriver(_NoCore(), REGTEST, FakeClock(),  # type: ignore[arg-type]
                       give_way=lambda: give_way)
    turns = 0
    stop = False

    async def other() -> None:
        nonlocal turns
        while not stop:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(other())
    await asyncio.sleep(0)  # let it start
    before = turns
    await driver._yield()
    got = turns - before
    stop = True
    await task
    return got


async def test_the_driver_yields_more_turns_while_the_api_is_busy() -> None:
    assert await _turns_others_get(False) == 1
    assert await _turns_others_get(True) == 1 + GIVE_WAY_TURNS
