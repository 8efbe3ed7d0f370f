"""The peers Match is measured against in the same run, on the same feed and user points.

- PostGIS: the whole in-person Match as one prepared SQL query (bench/peers/postgis.py);
- Redis GEOSEARCH: the nearby step alone (bench/peers/redis_geo.py).

Each peer is a real server started here, loaded from the catalogue the service holds, timed
over the same queries as the in-process Match, and compared with the service's answers
(bench/peers/agreement.py). The serving floor is in bench/served.py, with the served Match.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, replace
from datetime import UTC, datetime
from functools import partial

import psycopg

from bench.inprocess import match_queries, timed
from bench.measure import summary
from bench.peers import postgis, redis_geo
from bench.peers.agreement import Answer, Tally, ids_agreement
from matcher.engine.catalog import Catalog
from matcher.geo.timezones import TimezoneResolver
from matcher.model import Match, MatchQuery, Modality, Point, RenderedSlot

IN_PERSON = frozenset({Modality.IN_PERSON})
#: Suppliers a Match asks the catalogue for: a 20-result page and one more.
LIMIT = 21
#: The nearby step's answer GEOSEARCH is compared with: the 20 nearest in-person suppliers.
NEAREST = 20
#: "Now" of the DST check: just before the small hours of a Sunday on which the clocks change
#: where many users live, as night clinics open then: the US (Eastern midnight) and Europe
#: (Central 23:00) spring forward; Australia, New Zealand and Chile, Europe, then the US fall back.
DST_NOWS = (
    datetime(2027, 3, 14, 5, tzinfo=UTC),
    datetime(2027, 3, 27, 22, tzinfo=UTC),
    datetime(2027, 4, 3, 12, tzinfo=UTC),
    datetime(2027, 10, 30, 22, tzinfo=UTC),
    datetime(2027, 11, 7, 4, tzinfo=UTC),
)


def in_person(
    points: Sequence[Point], *, resolver: TimezoneResolver, now: datetime
) -> list[MatchQuery]:
    """The default Match at each point, in person only: what the SQL query answers."""
    return [
        replace(q, modalities=IN_PERSON) for q in match_queries(points, resolver=resolver, now=now)
    ]


def service_answer(found: Sequence[Match]) -> Answer:
    """The service's answer as supplier ids and slot keys."""
    return [
        (
            m.supplier.id,
            tuple((int(s.start.timestamp()), _minutes(s.start, s.end)) for s in m.slots),
        )
        for m in found
    ]


def sql_answer(found: Sequence[postgis.SqlMatch]) -> Answer:
    """The SQL query's answer as supplier ids and slot keys."""
    return [
        (m.supplier_id, tuple((int(s.start.timestamp()), s.minutes) for s in m.slots))
        for m in found
    ]


def _minutes(start: datetime, end: datetime) -> int:
    """A slot's length in whole minutes."""
    return int((end - start).total_seconds()) // 60


def rendered(s: RenderedSlot | postgis.SqlSlot) -> tuple[object, ...]:
    """What both render of a slot: its id, instant, four local times, offset and day shift."""
    return (
        s.slot_id,
        s.start,
        s.user_local_start,
        s.supplier_local_start,
        s.user_local_end,
        s.supplier_local_end,
        s.offset_difference_minutes,
        s.day_shift,
    )


def rendered_mismatches(
    *, ours: Sequence[Match], theirs: Sequence[postgis.SqlMatch]
) -> tuple[int, int]:
    """(slots both answers hold, how many of them render differently) by slot id."""
    mine = {s.slot_id: rendered(s) for m in ours for s in m.slots}
    other = {s.slot_id: rendered(s) for m in theirs for s in m.slots}
    common = mine.keys() & other.keys()
    return len(common), sum(mine[k] != other[k] for k in common)


def run_postgis(
    catalog: Catalog,
    *,
    queries: Sequence[MatchQuery],
    warmup: Sequence[MatchQuery],
    dst_queries: Sequence[tuple[datetime, Sequence[MatchQuery]]],
    now: datetime,
) -> dict[str, object]:
    """Loads a throwaway PostgreSQL, times the SQL Match over the queries, and compares."""

    def zone_of(supplier_id: str) -> str:
        return catalog.supplier(supplier_id).timezone

    with postgis.server() as server, psycopg.connect(server.socket_dsn, autocommit=True) as conn:
        loaded = postgis.load(conn, suppliers=catalog.suppliers)
        versions = conn.execute("SELECT version(), postgis_lib_version()").fetchone()

        def ask(q: MatchQuery, at: datetime = now) -> list[tuple[object, ...]]:
            return postgis.rows(conn, q, now=at, limit=LIMIT)

        for q in warmup:
            ask(q)
        durations, rows = timed([partial(ask, q) for q in queries])
        tally, compared, differing = Tally(), 0, 0
        for q, found in zip(queries, rows, strict=True):
            ours = catalog.match(q, now=now, limit=LIMIT)
            theirs = postgis.grouped(found)
            tally.add(
                ours=service_answer(ours),
                theirs=sql_answer(theirs),
                window=q.window,
                zone_of=zone_of,
            )
            both, bad = rendered_mismatches(ours=ours, theirs=theirs)
            compared, differing = compared + both, differing + bad
        dst = Tally()
        for at, todo in dst_queries:
            for q in todo:
                ours = catalog.match(q, now=at, limit=LIMIT)
                theirs = postgis.grouped(ask(q, at))
                dst.add(
                    ours=service_answer(ours),
                    theirs=sql_answer(theirs),
                    window=q.window,
                    zone_of=zone_of,
                )
    assert versions is not None
    return {
        "server": {"postgresql": versions[0], "postgis": versions[1]},
        "load": asdict(loaded),
        "match": summary(durations),
        "mean_suppliers": sum(map(len, (postgis.grouped(r) for r in rows))) / max(len(rows), 1),
        "agreement": {
            **tally.report(),
            "rendered_slots_compared": compared,
            "rendered_slots_differing": differing,
        },
        "dst_agreement": {"nows": [at.isoformat() for at, _ in dst_queries], **dst.report()},
    }


def run_redis(
    catalog: Catalog, *, queries: Sequence[MatchQuery], warmup: Sequence[MatchQuery]
) -> dict[str, object]:
    """Loads a throwaway Redis, times GEOSEARCH over the queries, and compares with nearby."""
    with redis_geo.server() as server, server.client() as client:
        loaded = redis_geo.load(client, suppliers=catalog.suppliers)
        version = client.info("server")["redis_version"]

        def ask(q: MatchQuery) -> list[str]:
            assert q.point is not None
            return redis_geo.nearest(client, q.point, radius_km=q.radius_km, count=NEAREST)

        for q in warmup:
            ask(q)
        durations, found = timed([partial(ask, q) for q in queries])
    expected = [nearby_ids(catalog, query=q) for q in queries]
    return {
        "server": {"redis": version},
        "load": asdict(loaded),
        "geosearch": summary(durations),
        "agreement": ids_agreement(ours=expected, theirs=found),
    }


def nearby_ids(catalog: Catalog, *, query: MatchQuery) -> list[str]:
    """The nearby step's answer: the ids of the 20 nearest in-person suppliers in the radius."""
    found = catalog.nearest(replace(query, modalities=IN_PERSON), limit=NEAREST)
    return [catalog.suppliers[c.position].id for c in found]


def run(
    catalog: Catalog,
    *,
    resolver: TimezoneResolver,
    points: Sequence[Point],
    warmup: Sequence[Point],
    dst_points: Sequence[Point],
    now: datetime,
) -> dict[str, object]:
    """Every peer over the same points as the in-process Match."""
    queries = in_person(points, resolver=resolver, now=now)
    warm = in_person(warmup, resolver=resolver, now=now)
    dst = [(at, in_person(dst_points, resolver=resolver, now=at)) for at in DST_NOWS]
    return {
        "postgis": run_postgis(catalog, queries=queries, warmup=warm, dst_queries=dst, now=now),
        "redis": run_redis(catalog, queries=queries, warmup=warm),
    }
