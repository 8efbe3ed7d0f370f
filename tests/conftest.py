"""Session-scoped fixtures: the tiny feed, its catalogue, and a real gRPC server on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

from matcher.engine.catalog import Catalog
from matcher.feeds import Feed, load_feed
from matcher.geo.geoip import GeoipResolver
from matcher.geo.timezones import TimezoneResolver
from matcher.paging import PageTokens
from matcher.service import Matching
from matcher.settings import Limits
from matcher_api.app import create_server
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc

ROOT = Path(__file__).resolve().parent.parent
TINY_FEED = ROOT / "tests" / "data" / "tiny.jsonl"
SAMPLE_FEED = ROOT / "data" / "suppliers.jsonl"
#: The instant every in-process test treats as now: before the 2027 DST dates the golden cases use.
NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
pytest_plugins = ["tests.fixtures_services"]  # postgres, private_postgres, redis_server


@pytest.fixture(scope="session")
def tiny_feed() -> Feed:
    return load_feed(TINY_FEED)


@pytest.fixture(scope="session")
def catalog(tiny_feed: Feed) -> Catalog:
    return Catalog(tiny_feed.suppliers)


@pytest.fixture(scope="session")
def resolver() -> TimezoneResolver:
    return TimezoneResolver()


def matching_over(
    catalog: Callable[[], Catalog],
    resolver: TimezoneResolver,
    geoip: GeoipResolver | None = None,
) -> Matching:
    """The public use cases over the catalogue serving, with default limits and the pinned clock."""
    limits = Limits()
    return Matching(
        catalog=catalog,
        resolver=resolver,
        tokens=PageTokens(b"test-secret", ttl=limits.page_token_ttl),
        limits=limits,
        clock=lambda: NOW,
        geoip=geoip,
    )


@pytest.fixture(scope="session")
def matching(catalog: Catalog, resolver: TimezoneResolver) -> Matching:
    return matching_over(lambda: catalog, resolver)


@pytest.fixture(scope="session")
def server_address(matching: Matching) -> Iterator[str]:
    """A real gRPC server on a free loopback port, serving the tiny feed with a pinned clock."""
    server, port = create_server("127.0.0.1:0", matching=matching)
    server.start()
    yield f"127.0.0.1:{port}"
    server.stop(grace=None)


@pytest.fixture(scope="session")
def channel(server_address: str) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server_address) as ch:
        yield ch


@pytest.fixture(scope="session")
def stub(channel: grpc.Channel) -> pb_grpc.MatcherServiceStub:
    return pb_grpc.MatcherServiceStub(channel)
