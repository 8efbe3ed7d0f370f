"""The bench's peers answer the same question as the service, on real servers.

The PostGIS query is checked against Catalog.match on the sample feed: the same suppliers,
slots and rendering wherever no clock changes, and, on a DST weekend, exactly the difference
PostgreSQL's ``AT TIME ZONE`` makes (a gap minute gets a slot, a fold minute its second
occurrence). Redis GEOSEARCH is checked against the nearby step, and the serving floor against
the server it stands in for.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import grpc
import psycopg
import pytest
from psycopg import sql

from bench.peers import (
    LIMIT,
    in_person,
    nearby_ids,
    postgis,
    redis_geo,
    rendered,
    service_answer,
    sql_answer,
)
from bench.peers.agreement import Tally, ids_agreement
from bench.served import FloorServicer, typical_response
from devtools.postgres import TemporaryPostgres
from devtools.redis import TemporaryRedis
from matcher.engine.catalog import Catalog
from matcher.feeds import load_feed
from matcher.geo.timezones import TimezoneResolver
from matcher.model import Availability, Modality, Point, Supplier, WeeklyRule
from matcher.service import Matching
from matcher_api.app import create_server
from matcher_api.v1 import matcher_pb2 as pb
from matcher_api.v1 import matcher_pb2_grpc as pb_grpc
from tests.conftest import NOW, SAMPLE_FEED

#: Berlin's clocks go 02:00 -> 03:00 on 2027-03-28 and 03:00 -> 02:00 on 2027-10-31 (01:00 UTC).
BERLIN = Point(lat=52.52, lng=13.405)


@pytest.fixture(scope="module")
def sample() -> Catalog:
    return Catalog(load_feed(SAMPLE_FEED).suppliers)


@pytest.fixture
def database(postgres: TemporaryPostgres) -> Iterator[psycopg.Connection]:
    """A connection to a new database of the shared server, dropped afterwards."""
    name = f"peers_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.socket_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        try:
            dsn = psycopg.conninfo.make_conninfo(postgres.socket_dsn, dbname=name)
            with psycopg.connect(dsn, autocommit=True) as conn:
                yield conn
        finally:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def users_at_suppliers(catalog: Catalog, *, every: int) -> list[Point]:
    """Users standing at every n-th in-person supplier: answers with many suppliers in them."""
    return [s.location for s in catalog.suppliers[::every] if Modality.IN_PERSON in s.modalities]


def test_the_sql_match_is_the_service_answer_where_no_clock_changes(
    sample: Catalog, database: psycopg.Connection, resolver: TimezoneResolver
):
    loaded = postgis.load(database, suppliers=sample.suppliers)
    assert loaded.suppliers == len(sample.suppliers)
    queries = in_person(users_at_suppliers(sample, every=10), resolver=resolver, now=NOW)
    tally, compared = Tally(), 0
    for q in queries:
        ours = sample.match(q, now=NOW, limit=LIMIT)
        theirs = postgis.match(database, q, now=NOW, limit=LIMIT)
        tally.add(
            ours=service_answer(ours),
            theirs=sql_answer(theirs),
            window=q.window,
            zone_of=lambda i: sample.supplier(i).timezone,
        )
        assert [m.supplier.id for m in ours] == [m.supplier_id for m in theirs]
        for mine, other in zip(ours, theirs, strict=True):
            assert [rendered(s) for s in mine.slots] == [rendered(s) for s in other.slots]
            compared += len(mine.slots)
    report = tally.report()
    assert report["same_answer_share"] == 1.0
    assert report["suppliers"] > 2 * len(queries)  # the users stand among suppliers
    assert compared == report["slots"]


def night_clinic() -> Catalog:
    """One clinic in Berlin open every Sunday from midnight to 03:00, 30-minute slots."""
    hours = WeeklyRule(days=frozenset({6}), start_minute=0, end_minute=180, slot_minutes=30)
    supplier = Supplier(
        id="night",
        name="Night Clinic",
        specialties=("general_practice",),
        languages=("de",),
        modalities=frozenset({Modality.IN_PERSON}),
        timezone="Europe/Berlin",
        location=BERLIN,
        availability=Availability(weekly=(hours,)),
    )
    return Catalog([supplier])


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("now", "service_only", "sql_only"),
    [
        # spring forward: 02:00 and 02:30 do not exist; SQL offers them at 03:00 and 03:30 CEST
        (utc("2027-03-27T22:00"), [], ["2027-03-28T01:00", "2027-03-28T01:30"]),
        # fall back: 02:00 and 02:30 happen twice; the service takes the first, SQL the second
        (
            utc("2027-10-30T21:00"),
            ["2027-10-31T00:00", "2027-10-31T00:30"],
            ["2027-10-31T01:00", "2027-10-31T01:30"],
        ),
    ],
)
def test_the_sql_match_differs_on_dst_gap_and_fold_minutes_as_measured(
    database: psycopg.Connection,
    resolver: TimezoneResolver,
    now: datetime,
    service_only: list[str],
    sql_only: list[str],
):
    clinic = night_clinic()
    postgis.load(database, suppliers=clinic.suppliers)
    (q,) = in_person([BERLIN], resolver=resolver, now=now)
    ((_, ours),) = service_answer(clinic.match(q, now=now, limit=LIMIT))
    ((_, theirs),) = sql_answer(postgis.match(database, q, now=now, limit=LIMIT))
    first_sunday_night = now + timedelta(days=1)
    ours = {s for s in ours if s[0] < first_sunday_night.timestamp()}
    theirs = {s for s in theirs if s[0] < first_sunday_night.timestamp()}
    assert sorted(ours - theirs) == [(int(utc(t).timestamp()), 30) for t in service_only]
    assert sorted(theirs - ours) == [(int(utc(t).timestamp()), 30) for t in sql_only]
    tally = Tally()
    tally.add(
        ours=service_answer(clinic.match(q, now=now, limit=LIMIT)),
        theirs=sql_answer(postgis.match(database, q, now=now, limit=LIMIT)),
        window=q.window,
        zone_of=lambda _: "Europe/Berlin",
    )
    report = tally.report()
    assert report["slots_missing"] == report["slots_missing_in_dst_zones"] == len(service_only)
    assert report["slots_extra"] == report["slots_extra_in_dst_zones"] == len(sql_only)


def test_geosearch_returns_the_nearby_steps_suppliers(
    sample: Catalog, redis_server: TemporaryRedis, resolver: TimezoneResolver
):
    key = f"peers-{uuid.uuid4().hex[:12]}"
    with redis_server.client() as client:
        try:
            loaded = redis_geo.load(client, suppliers=sample.suppliers, key=key)
            queries = in_person(users_at_suppliers(sample, every=20), resolver=resolver, now=NOW)
            found = [
                redis_geo.nearest(client, q.point, radius_km=q.radius_km, count=20, key=key)
                for q in queries
                if q.point is not None
            ]
        finally:
            client.delete(key)
    in_person_count = sum(Modality.IN_PERSON in s.modalities for s in sample.suppliers)
    assert loaded.points == in_person_count
    expected = [nearby_ids(sample, query=q) for q in queries]
    agreement = ids_agreement(ours=expected, theirs=found)
    assert agreement["ids_found_share"] > 0.99  # a sphere, not the ellipsoid: the edge differs
    assert agreement["same_set_share"] > 0.9


def test_the_serving_floor_answers_its_pre_built_response_from_a_real_server(
    matching: Matching,
):
    floor = typical_response(matching, points=[BERLIN, Point(lat=48.8566, lng=2.3522)])

    def servicer(m: Matching) -> FloorServicer:
        return FloorServicer(m, response=floor)

    server, port = create_server("127.0.0.1:0", matching=matching, servicer=servicer)
    server.start()
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = pb_grpc.MatcherServiceStub(channel)
            answer = stub.Match(pb.MatchRequest(location=pb.Location(country_code="FR")))
            zone = stub.ResolveTimezone(
                pb.ResolveTimezoneRequest(
                    location=pb.Location(point=pb.LatLng(lat=BERLIN.lat, lng=BERLIN.lng))
                )
            )
    finally:
        server.stop(grace=None)
    assert answer == floor
    assert zone.timezone.zone == "Europe/Berlin"  # every other RPC is the real one
