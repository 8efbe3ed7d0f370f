"""The Redis peer of the nearby step: GEOADD the in-person suppliers, GEOSEARCH the nearest.

Redis keeps each point as a 52-bit geohash and measures on a sphere (haversine), where the
service measures geodesics on the WGS84 ellipsoid, so neighbours near the radius or at nearly
the same distance can differ; bench/peers/agreement.py counts how often.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import redis

from devtools.redis import TemporaryRedis
from matcher.model import Modality, Point, Supplier

KEY = "in_person"
#: Members per GEOADD: large enough to amortise the round trip, small enough to stay quick.
BATCH = 10_000


@dataclass(frozen=True)
class Loaded:
    """How long GEOADD took and how many points Redis holds."""

    load_s: float
    points: int
    used_memory_mib: float


def load(client: redis.Redis, *, suppliers: Sequence[Supplier], key: str = KEY) -> Loaded:
    """GEOADDs every in-person supplier's point, named by its id, in pipelined batches."""
    start = time.perf_counter()
    values: list[float | str] = []
    with client.pipeline(transaction=False) as pipe:
        for s in suppliers:
            if Modality.IN_PERSON not in s.modalities:
                continue
            values += (s.location.lng, s.location.lat, s.id)
            if len(values) >= 3 * BATCH:
                pipe.geoadd(key, values)
                values = []
        if values:
            pipe.geoadd(key, values)
        pipe.execute()
    loaded = time.perf_counter() - start
    memory = client.info("memory")["used_memory"]
    return Loaded(load_s=loaded, points=int(client.zcard(key)), used_memory_mib=memory / (1 << 20))


def nearest(
    client: redis.Redis, p: Point, *, radius_km: float, count: int, key: str = KEY
) -> list[str]:
    """Ids of the ``count`` nearest in-person suppliers within the radius, nearest first."""
    found = client.geosearch(
        key, longitude=p.lng, latitude=p.lat, radius=radius_km, unit="km", sort="ASC", count=count
    )
    return [str(member) for member in found]


def server() -> TemporaryRedis:
    """A throwaway Redis server (``with`` starts it)."""
    return TemporaryRedis()
