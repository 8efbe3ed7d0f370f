"""Zone tables against zoneinfo: every zone's offsets and wall times, 1970 to the year 9000."""

from __future__ import annotations

import io
import zlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pytest

from matcher.geo.timezones import known_zones
from matcher.geo.zonetable import PERIOD, ZoneTable, read_tzif, zone_table
from tests.reference_slots import instant_of
from tests.tzif_files import tzif

ALL_ZONES = sorted(known_zones())
NAIVE_EPOCH = datetime(1970, 1, 1)


def epoch(year: int, month: int = 1, day: int = 1) -> int:
    return int(datetime(year, month, day, tzinfo=UTC).timestamp())


def transitions_near(table: ZoneTable, *, first: int, last: int) -> np.ndarray:
    """The table's transitions in [first, last), and where it repeats its rule, the same
    changes moved by whole 400-year periods into the years 8999 to 9000."""
    found = [table.utc[(table.utc >= first) & (table.utc < last)]]
    if table.periodic_from is not None:
        base = table.periodic_from
        ruled = table.utc[(table.utc >= base) & (table.utc < base + PERIOD)]
        late = ruled + (epoch(8999) - base) // PERIOD * PERIOD
        late = np.concatenate([late, late + PERIOD])
        found.append(late[(late >= epoch(8999)) & (late < epoch(9000))])
    return np.concatenate(found)


def sample_instants(table: ZoneTable, rng: np.random.Generator) -> np.ndarray:
    """Around every change from 1969 to 2045 and in 8999, plus random instants in 1970, in
    2037-2040 (where 32-bit tables end), in 8999 and anywhere in between."""
    changes = transitions_near(table, first=epoch(1969, 6), last=epoch(2045))
    return np.concatenate(
        [
            changes - 3600,
            changes - 1,
            changes,
            changes + 1,
            changes + 3600,
            rng.integers(epoch(1970), epoch(1971), 40),
            rng.integers(epoch(2037), epoch(2041), 60),
            rng.integers(epoch(8999), epoch(9000), 40),
            rng.integers(epoch(1970), epoch(9000), 40),
        ]
    ).astype(np.int64)


@pytest.mark.parametrize("key", ALL_ZONES)
def test_offsets_match_zoneinfo(key: str) -> None:
    """The offset at an instant is the one zoneinfo shows, and the wall clock it reads."""
    table, tz = zone_table(key), ZoneInfo(key)
    instants = sample_instants(table, np.random.default_rng(zlib.crc32(key.encode())))
    locals_ = [datetime.fromtimestamp(t, tz) for t in instants.tolist()]
    shown = [int(local.utcoffset().total_seconds()) for local in locals_]  # type: ignore[union-attr]
    read = [
        int((local.replace(tzinfo=None) - NAIVE_EPOCH).total_seconds()) - t
        for local, t in zip(locals_, instants.tolist(), strict=True)
    ]
    assert table.offset_at(instants).tolist() == shown == read


@pytest.mark.parametrize("key", ALL_ZONES)
def test_wall_times_map_as_instant_of_does(key: str) -> None:
    """Wall times on either side of every change, in its gap or fold, map to the instant
    ``instant_of`` gives (the first occurrence in a fold), or to none in a gap."""
    table, tz = zone_table(key), ZoneInfo(key)
    changes = transitions_near(table, first=epoch(1969, 6), last=epoch(2045))
    before, after = table.offset_at(changes - 1), table.offset_at(changes)
    rng = np.random.default_rng(7)
    walls = np.concatenate(
        [changes + offset + d for offset in (before, after) for d in (-3600, -1, 0, 1, 1800)]
        + [rng.integers(epoch(1970), epoch(9000), 40)]
    ).astype(np.int64)
    found, exists = table.instants(walls)
    expected = [instant_of(NAIVE_EPOCH + timedelta(seconds=w), tz) for w in walls.tolist()]
    got = [
        datetime.fromtimestamp(t, UTC) if real else None
        for t, real in zip(found.tolist(), exists.tolist(), strict=True)
    ]
    assert got == expected


@pytest.mark.parametrize("key", ["UTC", "Etc/GMT+5", "Etc/GMT-14", "Asia/Kolkata"])
def test_zones_without_daylight_saving_have_no_period(key: str) -> None:
    table = zone_table(key)
    assert table.periodic_from is None
    late = np.array([epoch(2030), epoch(8999, 6)], dtype=np.int64)
    assert set(table.offset_at(late).tolist()) == {table.offsets[-1]}


def test_a_zone_with_no_transition_at_all() -> None:
    table = zone_table("Etc/GMT+5")
    assert len(table.utc) == 0
    assert table.offset_at(np.array([0, epoch(8999)], dtype=np.int64)).tolist() == [-18000] * 2


def test_new_york_in_2040_follows_the_rule_past_the_32_bit_table() -> None:
    """pytz's table stops in 2037; the rule keeps DST going in 2040 and 8999."""
    table = zone_table("America/New_York")
    july = np.array([epoch(2040, 7), epoch(8999, 7)], dtype=np.int64)
    assert table.offset_at(july).tolist() == [-4 * 3600] * 2


def test_tables_are_cached_and_unknown_zones_refused() -> None:
    assert zone_table("Europe/London") is zone_table("Europe/London")
    with pytest.raises(KeyError):
        zone_table("Mars/Olympus_Mons")
    with pytest.raises(KeyError):
        zone_table("../../etc/passwd")


@pytest.mark.parametrize(
    "footer",
    [
        "EST5EDT,M3.2.0,M11.1.0",
        "EST5EDT,J60/2,J300/2",
        "EST5EDT,J59,J365/25",  # Dec 31 25:00: the change falls in the next year
        "EST5EDT,59,300",
        "XXX3EDT4,0/0,J365/23",  # DST all year
        "<+01>-1<+00>0,M3.5.0/-1,M10.5.0/50",  # negative DST, hours past 24 and below 0
        "IST-1GMT0,M10.5.0,M3.5.0/1",
        "AAA-10BBB,M10.1.0/167,M4.1.0/-100",
        "<+0530>-5:30",
        "<-004430>0:44:30",
    ],
)
def test_footer_rules_follow_zoneinfo(footer: str) -> None:
    """Hand-written rules, including forms no current zone uses, read as zoneinfo reads them:
    each instant's wall clock is the one ``fromutc`` gives."""
    data = tzif(footer, times=(epoch(1990), epoch(2000)), types=(0, 3600, -1800))
    table, tz = read_tzif(data, key="test"), ZoneInfo.from_file(io.BytesIO(data))
    instants = np.concatenate(
        [
            np.arange(epoch(1989), epoch(2004), 3 * 3600),
            np.arange(epoch(8990), epoch(8993), 3 * 3600),
            table.utc[:80] - 1,
            table.utc[:80],
        ]
    ).astype(np.int64)
    read = [
        int((datetime.fromtimestamp(t, tz).replace(tzinfo=None) - NAIVE_EPOCH).total_seconds()) - t
        for t in instants.tolist()
    ]
    assert table.offset_at(instants).tolist() == read


@pytest.mark.parametrize("footer", ["EST5EDT", "EST5EDT,M3.2.0", "EST5,M3.2.0,M11.1.0", "5EST"])
def test_malformed_footers_are_refused(footer: str) -> None:
    with pytest.raises(ValueError):
        read_tzif(tzif(footer), key="test")


def test_not_a_tzif_file_is_refused() -> None:
    with pytest.raises(ValueError):
        read_tzif(b"TZfoo" + bytes(60), key="test")
