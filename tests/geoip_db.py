"""Small MaxMind DB files the GeoIP tests write themselves with mmdb-writer: no download needed.

The networks are arbitrary public ranges; the places are real cities (London as in the sample
feed), in the GeoLite2-City record layout, and one in DB-IP lite's (no accuracy radius). IPv4
networks go where readers look for IPv4 in an IPv6 file (the ::/96 subtree) and again under
::ffff:0:0/96, as MaxMind's own files alias them. DECOYS place ranges no real database places
(private, loopback, transition prefixes, ...) at Null Island: a test that gets Null Island back
has found an address that reached the database when it should have been refused or unwrapped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPNetwork, IPSet

#: 2026-09-21 14:13:20 UTC: a fixed build date, so DatabaseInfo is the same every run.
BUILD_EPOCH = 1_790_000_000
TEST_TYPE = "Matcher-Test-City"


@dataclass(frozen=True)
class Block:
    """Networks of a test database that share one record."""

    networks: tuple[str, ...]
    record: dict[str, Any]


def city(*, lat: float, lng: float, country: str | None, radius_km: int | None) -> dict[str, Any]:
    """A GeoLite2-City record; without a radius it is DB-IP lite's."""
    location: dict[str, Any] = {"latitude": lat, "longitude": lng}
    if radius_km is not None:
        location["accuracy_radius"] = radius_km
    record: dict[str, Any] = {"location": location}
    if country is not None:
        record["country"] = {"iso_code": country}
    return record


def country_only(code: str) -> dict[str, Any]:
    """A GeoLite2-Country record."""
    return {"continent": {"code": "AS"}, "country": {"iso_code": code}}


LONDON = Block(("81.2.69.0/24",), city(lat=51.5074, lng=-0.1278, country="GB", radius_km=10))
KATHMANDU = Block(("2400:1a00::/32",), city(lat=27.7017, lng=85.3206, country="NP", radius_km=20))
#: How GeoLite2-City writes a network it knows only to the country: its centre, 1,000 km.
WIDE_US = Block(
    ("23.32.0.0/11", "2600:1400::/24"),
    city(lat=37.751, lng=-97.822, country="US", radius_km=1000),
)
JAPAN = Block(("126.0.0.0/8", "2400:4000::/22"), country_only("JP"))
#: A country with several zones and none that holds nearly all its people, and no point.
US_ONLY = Block(("12.0.0.0/8",), country_only("US"))
#: A wide place and no country (Cape Town, 300 km): its zone can come only from its point.
NO_COUNTRY = Block(("41.0.0.0/16",), city(lat=-33.92, lng=18.42, country=None, radius_km=300))
#: DB-IP City Lite: a point and a country, no accuracy radius.
BERLIN_DBIP = Block(("5.44.0.0/16",), city(lat=52.52, lng=13.405, country="DE", radius_km=None))
#: A point out of range: the record still names its country.
BAD_POINT = Block(("24.48.0.0/12",), city(lat=95.0, lng=-75.0, country="CA", radius_km=5))
#: Records that place nothing: a continent only, and DB-IP's ZZ for "no country".
NOWHERE = Block(("185.0.0.0/16",), {"continent": {"code": "EU"}})
UNKNOWN = Block(("196.0.0.0/16",), {"country": {"iso_code": "ZZ"}})
#: London's networks placed in Berlin: the database a reload test swaps in.
BERLIN_AT_LONDON = Block(LONDON.networks, city(lat=52.52, lng=13.405, country="DE", radius_km=20))
NULL_ISLAND = city(lat=0.0, lng=0.0, country=None, radius_km=1)
DECOYS = Block(
    (
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "64:ff9b::/96",
        "2001::/32",
        "2001:db8::/32",
        "2002::/16",
        "3fff::/20",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
    ),
    NULL_ISLAND,
)
BLOCKS = (
    LONDON,
    KATHMANDU,
    WIDE_US,
    JAPAN,
    US_ONLY,
    NO_COUNTRY,
    BERLIN_DBIP,
    BAD_POINT,
    NOWHERE,
    UNKNOWN,
    DECOYS,
)


class _Writer(MMDBWriter):
    """mmdb-writer with a fixed build date instead of the time of writing."""

    def __init__(self, *, build_epoch: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._build_epoch = build_epoch

    def _build_meta(self) -> dict[str, Any]:
        return {**super()._build_meta(), "build_epoch": self._build_epoch}


def write_db(
    path: Path,
    *,
    blocks: tuple[Block, ...] = BLOCKS,
    ip_version: int = 6,
    database_type: str = TEST_TYPE,
    build_epoch: int = BUILD_EPOCH,
) -> Path:
    """Writes the blocks to a MaxMind DB file; an IPv4-only file leaves the IPv6 networks out."""
    writer = _Writer(
        build_epoch=build_epoch,
        ip_version=ip_version,
        database_type=database_type,
        ipv4_compatible=ip_version == 6,
        description={"en": "matcher test database"},
        languages=["en"],
    )
    for block in blocks:
        for text in block.networks:
            network = IPNetwork(text)
            if network.version > ip_version:
                continue
            writer.insert_network(IPSet([network]), block.record)
            if network.version == 4 and ip_version == 6:
                writer.insert_network(IPSet([network.ipv6(ipv4_compatible=False)]), block.record)
    writer.to_db_file(str(path))
    return path


def replace_file(path: Path, content: bytes) -> None:
    """Renames a complete new file over a served one, as geoipupdate does; never writes into it."""
    staged = path.with_suffix(".staged")
    staged.write_bytes(content)
    os.replace(staged, path)
