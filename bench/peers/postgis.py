"""The PostGIS peer: the in-person Match as one prepared SQL query over a GiST-indexed table.

The suppliers, their weekly rules and one-off slots are copied (COPY) from the same loaded feed
into a throwaway PostgreSQL server; the indexes are built after the load. One query then does
the whole in-person Match: the in-person suppliers within the radius nearest first by a GiST
KNN scan, each one's weekly rules expanded with generate_series in its own zone for the window
(one-offs added, closed dates, minimum notice), its first slots, and each slot rendered for the
user (both local times, the offset difference, the day shift and the slot id), 21 suppliers that
have a slot. It is asked over the server's Unix socket. Places already booked (format 2 feeds)
and real-time updates are left out: the bench's feeds have neither.

PostgreSQL maps a wall time with ``AT TIME ZONE``: a wall time in a spring-forward gap gets the
offset from before the change (02:30 in Berlin's gap becomes 03:30 CEST, a slot the rule may not
hold), and one in a fall-back fold its second occurrence, where the service yields no slot and
the first occurrence (docs/feeds.md). The query is left as a user would write it;
bench/peers/agreement.py counts what that costs, and tests/integration/test_bench_peers.py pins
both cases.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from devtools.postgres import TemporaryPostgres
from matcher.model import MatchQuery, Modality, Supplier

#: Server settings for a read-mostly table loaded in one go and queried from memory: with
#: wal_level=minimal a table created in the loading transaction is written without WAL; no JIT,
#: which only adds compile time to a millisecond query.
SETTINGS = {
    "wal_level": "minimal",
    "max_wal_senders": "0",
    "shared_buffers": "1GB",
    "maintenance_work_mem": "1GB",
    "work_mem": "16MB",
    "max_wal_size": "4GB",
    "jit": "off",
    "max_parallel_maintenance_workers": "2",
}

EXTENSION = "CREATE EXTENSION IF NOT EXISTS postgis"
SCHEMA = """
CREATE TABLE supplier (
    key integer NOT NULL,
    id text NOT NULL,
    tz text NOT NULL,
    in_person boolean NOT NULL,
    min_notice interval NOT NULL,
    closed date[] NOT NULL,
    lat double precision NOT NULL,
    lng double precision NOT NULL,
    geog geography(Point, 4326)
        GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography) STORED
);
CREATE TABLE weekly_rule (
    supplier integer NOT NULL,
    days integer[] NOT NULL,
    start_minute integer NOT NULL,
    end_minute integer NOT NULL,
    slot_minutes integer NOT NULL,
    spots integer NOT NULL
);
CREATE TABLE one_off (
    supplier integer NOT NULL,
    wall timestamp NOT NULL,
    minutes integer NOT NULL,
    spots integer NOT NULL
);
CREATE TYPE slot AS (start_at timestamptz, minutes integer, spots integer);
-- A wall time and its UTC offset in minutes as ISO 8601 (2027-03-01T09:00:00+01:00), as
-- Python's isoformat writes it; one expression, so the planner inlines it.
CREATE FUNCTION local_time(wall timestamp, off bigint) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN to_char(wall, 'YYYY-MM-DD"T"HH24:MI:SS') || CASE WHEN off < 0 THEN '-' ELSE '+' END
    || to_char(make_interval(mins => abs(off)::integer), 'HH24:MI');
"""

INDEXES = """
ALTER TABLE supplier ADD PRIMARY KEY (key);
CREATE INDEX supplier_in_person_geog ON supplier USING gist (geog) WHERE in_person;
CREATE INDEX weekly_rule_supplier ON weekly_rule (supplier);
CREATE INDEX one_off_supplier ON one_off (supplier);
ANALYZE supplier;
ANALYZE weekly_rule;
ANALYZE one_off;
"""

#: The in-person Match. Parameters: the user's point, the radius in metres, the user's zone,
#: the window, now, slots per supplier, suppliers wanted. Rows: one per slot, suppliers nearest
#: first (geodesic metres on the spheroid, then id), slots in time order.
MATCH = """
WITH here AS (
    SELECT ST_SetSRID(ST_MakePoint(%(lng)s::float8, %(lat)s::float8), 4326)::geography AS g
), picked AS MATERIALIZED (
    SELECT s.key, s.id, s.tz, ST_Distance(s.geog, (SELECT g FROM here)) AS metres, f.slots
    FROM supplier s
    CROSS JOIN LATERAL (
        SELECT array_agg(ROW(x.start_at, x.minutes, x.spots)::slot ORDER BY x.start_at, x.minutes)
            AS slots
        FROM (
            SELECT DISTINCT ON (c.start_at, c.minutes) c.start_at, c.minutes, c.spots
            FROM (
                SELECT (d.day + m.minute * interval '1 minute') AT TIME ZONE s.tz AS start_at,
                    r.slot_minutes AS minutes, r.spots
                FROM weekly_rule r
                CROSS JOIN LATERAL generate_series(
                    (greatest(%(start)s::timestamptz, %(now)s::timestamptz + s.min_notice)
                        AT TIME ZONE s.tz)::date::timestamp - interval '1 day',
                    (%(end)s::timestamptz AT TIME ZONE s.tz)::date::timestamp + interval '1 day',
                    interval '1 day'
                ) AS d(day)
                CROSS JOIN LATERAL generate_series(
                    r.start_minute, r.end_minute - r.slot_minutes, r.slot_minutes
                ) AS m(minute)
                WHERE r.supplier = s.key
                    AND extract(isodow FROM d.day)::integer - 1 = ANY (r.days)
                    AND d.day::date <> ALL (s.closed)
                UNION ALL
                SELECT o.wall AT TIME ZONE s.tz, o.minutes, o.spots
                FROM one_off o
                WHERE o.supplier = s.key AND o.wall::date <> ALL (s.closed)
                OFFSET 0
            ) c
            WHERE c.start_at
                    >= greatest(%(start)s::timestamptz, %(now)s::timestamptz + s.min_notice)
                AND c.start_at < %(end)s::timestamptz
            ORDER BY c.start_at, c.minutes
            LIMIT %(slots)s::integer
        ) x
    ) f
    WHERE s.in_person
        AND ST_DWithin(s.geog, (SELECT g FROM here), %(radius_m)s::float8)
        AND f.slots IS NOT NULL
    ORDER BY s.geog <-> (SELECT g FROM here)
    LIMIT %(limit)s::integer
), slot AS MATERIALIZED (
    SELECT p.id, p.metres, x.k, x.start_at, x.minutes, x.spots,
        extract(epoch FROM x.start_at)::bigint AS epoch,
        x.start_at AT TIME ZONE %(user_tz)s AS user_wall,
        x.start_at AT TIME ZONE p.tz AS wall,
        (x.start_at + x.minutes * interval '1 minute') AT TIME ZONE %(user_tz)s AS user_wall_end,
        (x.start_at + x.minutes * interval '1 minute') AT TIME ZONE p.tz AS wall_end
    FROM picked p
    CROSS JOIN LATERAL unnest(p.slots) WITH ORDINALITY AS x(start_at, minutes, spots, k)
), shifted AS MATERIALIZED (
    SELECT sl.*,
        (extract(epoch FROM sl.user_wall)::bigint - sl.epoch) / 60 AS user_off,
        (extract(epoch FROM sl.wall)::bigint - sl.epoch) / 60 AS off,
        (extract(epoch FROM sl.user_wall_end)::bigint - sl.epoch) / 60 - sl.minutes AS user_off_end,
        (extract(epoch FROM sl.wall_end)::bigint - sl.epoch) / 60 - sl.minutes AS off_end
    FROM slot sl
)
SELECT id, metres / 1000.0 AS km,
    's1_' || rtrim(translate(encode(convert_to(id || '|' || epoch || '|' || minutes, 'UTF8'),
        'base64'), E'+/\\n', '-_'), '=') AS slot_id,
    start_at, minutes,
    local_time(user_wall, user_off) AS user_local,
    local_time(wall, off) AS supplier_local,
    local_time(user_wall_end, user_off_end) AS user_local_end,
    local_time(wall_end, off_end) AS supplier_local_end,
    off - user_off AS offset_difference_minutes,
    wall::date - user_wall::date AS day_shift,
    spots
FROM shifted
ORDER BY metres, id, k
"""


@dataclass(frozen=True)
class SqlSlot:
    """One slot of the query's answer, rendered as the service renders it."""

    slot_id: str
    start: datetime
    minutes: int
    user_local_start: str
    supplier_local_start: str
    user_local_end: str
    supplier_local_end: str
    offset_difference_minutes: int
    day_shift: int
    spots: int


@dataclass(frozen=True)
class SqlMatch:
    """One supplier of the query's answer."""

    supplier_id: str
    distance_km: float
    slots: tuple[SqlSlot, ...]


@dataclass(frozen=True)
class Loaded:
    """How long the load took, step by step, and what it holds."""

    extension_s: float
    copy_s: float
    index_s: float
    suppliers: int
    weekly_rules: int
    one_offs: int
    table_mib: float


def _text(value: str) -> str:
    r"""A value in COPY's text format (backslash, tab and newlines escaped)."""
    return (
        value.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    )


def supplier_rows(suppliers: Sequence[Supplier]) -> Iterator[str]:
    """COPY text lines of the supplier table."""
    for key, s in enumerate(suppliers):
        a = s.availability
        in_person = "t" if Modality.IN_PERSON in s.modalities else "f"
        closed = "{" + ",".join(sorted(d.isoformat() for d in a.closed)) + "}"
        notice = int(a.min_notice.total_seconds())
        yield (
            f"{key}\t{_text(s.id)}\t{_text(s.timezone)}\t{in_person}\t{notice} seconds"
            f"\t{closed}\t{s.location.lat!r}\t{s.location.lng!r}\n"
        )


def rule_rows(suppliers: Sequence[Supplier]) -> Iterator[str]:
    """COPY text lines of the weekly rule table."""
    for key, s in enumerate(suppliers):
        for r in s.availability.weekly:
            days = "{" + ",".join(map(str, sorted(r.days))) + "}"
            yield (
                f"{key}\t{days}\t{r.start_minute}\t{r.end_minute}\t{r.slot_minutes}\t{r.spots}\n"
            )


def one_off_rows(suppliers: Sequence[Supplier]) -> Iterator[str]:
    """COPY text lines of the one-off slot table."""
    for key, s in enumerate(suppliers):
        for o in s.availability.one_off:
            yield f"{key}\t{o.start.isoformat(sep=' ')}\t{o.minutes}\t{o.spots}\n"


def _copy(cur: psycopg.Cursor[Any], *, table: str, lines: Iterable[str]) -> int:
    """Streams lines into a table with COPY, a few MiB at a time; returns how many."""
    count = 0
    with cur.copy(f"COPY {table} FROM STDIN") as copy:
        buffer = io.StringIO()
        for line in lines:
            buffer.write(line)
            count += 1
            if buffer.tell() > 1 << 22:
                copy.write(buffer.getvalue())
                buffer = io.StringIO()
        copy.write(buffer.getvalue())
    return count


def load(conn: psycopg.Connection[Any], *, suppliers: Sequence[Supplier]) -> Loaded:
    """Creates PostGIS, fills new tables by COPY in the transaction creating them, indexes them."""
    begun = time.perf_counter()
    conn.execute(EXTENSION)
    start = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(SCHEMA)
        counts = [
            _copy(cur, table=table, lines=rows(suppliers))
            for table, rows in (
                ("supplier (key, id, tz, in_person, min_notice, closed, lat, lng)", supplier_rows),
                ("weekly_rule", rule_rows),
                ("one_off", one_off_rows),
            )
        ]
    copied = time.perf_counter()
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(INDEXES)
    indexed = time.perf_counter()
    row = conn.execute(
        "SELECT sum(pg_total_relation_size(c)) FROM unnest(ARRAY"
        "['supplier', 'weekly_rule', 'one_off']::regclass[]) AS c"
    ).fetchone()
    assert row is not None
    return Loaded(
        extension_s=start - begun,
        copy_s=copied - start,
        index_s=indexed - copied,
        suppliers=counts[0],
        weekly_rules=counts[1],
        one_offs=counts[2],
        table_mib=float(row[0]) / (1 << 20),
    )


def parameters(query: MatchQuery, *, now: datetime, limit: int) -> dict[str, object]:
    """The query's parameters for a MatchQuery."""
    assert query.point is not None
    return {
        "lat": query.point.lat,
        "lng": query.point.lng,
        "radius_m": query.radius_km * 1000.0,
        "user_tz": query.user_zone,
        "start": query.window.start,
        "end": query.window.end,
        "now": now,
        "slots": query.max_slots,
        "limit": limit,
    }


def rows(
    conn: psycopg.Connection[Any], query: MatchQuery, *, now: datetime, limit: int
) -> list[tuple[Any, ...]]:
    """The in-person Match of a query by the prepared statement (binary rows): one per slot."""
    params = parameters(query, now=now, limit=limit)
    return conn.execute(MATCH, params, prepare=True, binary=True).fetchall()


def match(
    conn: psycopg.Connection[Any], query: MatchQuery, *, now: datetime, limit: int
) -> list[SqlMatch]:
    """The in-person Match of a query, by the prepared statement, one SqlMatch per supplier."""
    return grouped(rows(conn, query, now=now, limit=limit))


def grouped(rows: Sequence[Sequence[object]]) -> list[SqlMatch]:
    """One SqlMatch per supplier from the query's rows (one per slot, already in order)."""
    found: list[SqlMatch] = []
    slots: list[SqlSlot] = []
    for k, row in enumerate(rows):
        supplier_id, km, *rest = row
        slots.append(SqlSlot(*rest))  # type: ignore[arg-type]
        if k + 1 == len(rows) or rows[k + 1][0] != supplier_id:
            found.append(SqlMatch(str(supplier_id), float(km), tuple(slots)))  # type: ignore[arg-type]
            slots = []
    return found


def server() -> TemporaryPostgres:
    """A throwaway PostgreSQL server with the bench's settings (``with`` starts it)."""
    return TemporaryPostgres(dbname="bench", settings=SETTINGS)
