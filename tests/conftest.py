"""Session-scoped fixtures: the tiny feed, its catalogue, and a real gRPC server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import grpc
import pytest

from matcher.catalog import Catalog
from matcher.feeds import Feed, load_feed
from matcher.paging import PageTokens
from matcher.timezones import TimezoneResolver
from matcher.v1 import matcher_pb2_grpc as pb_grpc
from matcher_api.app import create_server
from matcher_api.servicer import Deps

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


@pytest.fixture(scope="session")
def deps(catalog: Catalog, resolver: TimezoneResolver) -> Deps:
    return Deps(
        catalog=lambda: catalog,
        resolver=resolver,
        tokens=PageTokens(b"test-secret"),
        clock=lambda: NOW,
    )


@pytest.fixture(scope="session")
def server_address(deps: Deps) -> Iterator[str]:
    """A real gRPC server on a free loopback port, serving the tiny feed with a pinned clock."""
    server, port = create_server("127.0.0.1:0", deps=deps)
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
