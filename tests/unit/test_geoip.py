"""GeoIP: addresses to places through a real MaxMind DB file the tests write, refusals, reloads."""

from __future__ import annotations

import ipaddress
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path

import maxminddb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from matcher.errors import (
    GeoipDatabaseError,
    GeoipError,
    MalformedAddress,
    MatcherError,
    NotInDatabase,
    NotPublicAddress,
)
from matcher.geo.geoip import (
    EMPTY,
    HAS_ZONE,
    NOT_AN_ADDRESS,
    NOT_TEXT,
    TOO_LONG,
    UNSTATED_ACCURACY_KM,
    DatabaseInfo,
    GeoipResolver,
    IpCity,
    IpCountry,
)
from matcher.model import Point
from tests.geoip_db import BLOCKS, BUILD_EPOCH, LONDON, TEST_TYPE, Block, city, write_db

PROPERTY = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
REASONS = {NOT_TEXT, EMPTY, TOO_LONG, HAS_ZONE, NOT_AN_ADDRESS}

LONDON_CITY = IpCity(
    point=Point(lat=51.5074, lng=-0.1278), accuracy_km=10.0, accuracy_stated=True, country_code="GB"
)
KATHMANDU_CITY = IpCity(
    point=Point(lat=27.7017, lng=85.3206), accuracy_km=20.0, accuracy_stated=True, country_code="NP"
)
US_WIDE = IpCity(
    point=Point(lat=37.751, lng=-97.822),
    accuracy_km=1000.0,
    accuracy_stated=True,
    country_code="US",
)
BERLIN_DBIP = IpCity(
    point=Point(lat=52.52, lng=13.405),
    accuracy_km=UNSTATED_ACCURACY_KM,
    accuracy_stated=False,
    country_code="DE",
)
NULL_ISLAND = Point(lat=0.0, lng=0.0)


def teredo(*, client: str, server: str = "65.54.227.120") -> str:
    """A Teredo address (RFC 4380) for a client's public IPv4 address: stored inverted."""
    inverted = ~int(IPv4Address(client)) & 0xFFFF_FFFF
    return str(
        IPv6Address((0x2001_0000 << 96) | (int(IPv4Address(server)) << 64) | 0x8000_F227 << 32)
        + inverted
    )


def carried_ipv4(address: IPv4Address | IPv6Address) -> IPv4Address | IPv6Address:
    """The test's own oracle for the IPv4 address an IPv6 transition address carries."""
    if isinstance(address, IPv4Address):
        return address
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in ipaddress.ip_network("64:ff9b::/96"):
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    return address


def spellings(address: IPv4Address | IPv6Address) -> set[str]:
    """The ways a caller could write an address, none of which may appear in an error."""
    written = {str(address), address.exploded, str(address).upper(), address.exploded.upper()}
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        written.add(f"::ffff:{address.ipv4_mapped}")
    return written


@pytest.fixture(scope="module")
def db_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_db(tmp_path_factory.mktemp("geoip") / "city.mmdb")


@pytest.fixture(scope="module")
def geoip(db_path: Path) -> GeoipResolver:
    return GeoipResolver(path=db_path)


GOLDEN: list[tuple[str, object]] = [
    # cities, IPv4 and IPv6, and IPv4 reached through every IPv6 form that carries it
    ("81.2.69.1", LONDON_CITY),
    ("81.2.69.255", LONDON_CITY),
    ("::ffff:81.2.69.1", LONDON_CITY),
    ("::FFFF:5102:4501", LONDON_CITY),
    ("0000:0000:0000:0000:0000:ffff:81.2.69.1", LONDON_CITY),
    ("64:ff9b::81.2.69.1", LONDON_CITY),
    ("2002:5102:4501::1", LONDON_CITY),
    (teredo(client="81.2.69.1"), LONDON_CITY),
    ("2400:1a00::5", KATHMANDU_CITY),
    ("2400:1A00:0:0:0:0:0:5", KATHMANDU_CITY),
    # known only to the country: a centre with a 1,000 km radius, or no point at all
    ("23.40.0.1", US_WIDE),
    ("2600:1400::1", US_WIDE),
    ("126.1.2.3", IpCountry(country_code="JP")),
    ("2400:4000::1", IpCountry(country_code="JP")),
    # DB-IP lite states no radius; a point out of range leaves the country
    ("5.44.1.1", BERLIN_DBIP),
    ("24.50.0.1", IpCountry(country_code="CA")),
    # public, but placed nowhere
    ("185.0.0.1", NotInDatabase),
    ("196.0.0.1", NotInDatabase),
    ("8.8.8.8", NotInDatabase),
    ("81.2.70.1", NotInDatabase),
    ("2a00:1450::1", NotInDatabase),
    # not public, however written: the database's decoys for these never answer
    ("0.0.0.0", "unspecified"),
    ("::", "unspecified"),
    ("127.0.0.1", "loopback"),
    ("::1", "loopback"),
    ("::ffff:127.0.0.1", "loopback"),
    ("169.254.1.1", "link-local"),
    ("fe80::1", "link-local"),
    ("224.0.0.1", "multicast"),
    ("239.1.1.1", "multicast"),
    ("ff02::1", "multicast"),
    ("ff0e::1", "multicast"),
    ("10.1.2.3", "private"),
    ("172.16.5.4", "private"),
    ("192.168.1.1", "private"),
    ("fd00::1", "private"),
    ("::ffff:10.0.0.1", "private"),
    ("64:ff9b::10.0.0.1", "private"),
    ("2002:a00:1::1", "private"),
    (teredo(client="192.168.1.1"), "private"),
    ("100.64.0.1", "shared"),
    ("100.127.255.254", "shared"),
    ("::ffff:100.64.0.1", "shared"),
    ("192.0.2.1", "documentation"),
    ("198.51.100.1", "documentation"),
    ("203.0.113.1", "documentation"),
    ("2001:db8::1", "documentation"),
    ("3fff::1", "documentation"),
    ("240.0.0.1", "reserved"),
    ("255.255.255.255", "reserved"),
    ("::8.8.8.8", "reserved"),
    ("fec0::1", "reserved"),
    ("5f00::1", "reserved"),
    ("100::1", "reserved"),
    ("0.1.2.3", "special-purpose"),
    ("198.18.0.1", "special-purpose"),
    ("192.0.0.8", "special-purpose"),
    ("192.88.99.1", "special-purpose"),
    ("2001:2::1", "special-purpose"),
    ("2001:10::1", "special-purpose"),
    # not one address
    ("", EMPTY),
    ("81.2.69", NOT_AN_ADDRESS),
    ("81.2.69.1.5", NOT_AN_ADDRESS),
    ("081.2.69.1", NOT_AN_ADDRESS),
    ("81.2.69.256", NOT_AN_ADDRESS),
    (" 81.2.69.1", NOT_AN_ADDRESS),
    ("81.2.69.1\n", NOT_AN_ADDRESS),
    ("\u0668\u0661.\u0662.\u0666\u0669.\u0661", NOT_AN_ADDRESS),  # Arabic-Indic digits
    ("81.2.69.1/32", NOT_AN_ADDRESS),
    ("::ffff:81.2.69.256", NOT_AN_ADDRESS),
    (":::1", NOT_AN_ADDRESS),
    ("1::2::3", NOT_AN_ADDRESS),
    ("[::1]", NOT_AN_ADDRESS),
    ("localhost", NOT_AN_ADDRESS),
    ("fe80::1%eth0", HAS_ZONE),
    ("2400:1a00::5%1", HAS_ZONE),
    ("1" * 46, TOO_LONG),
]


@pytest.mark.parametrize(("address", "expected"), GOLDEN, ids=[a or "empty" for a, _ in GOLDEN])
def test_golden(geoip: GeoipResolver, address: str, expected: object) -> None:
    if isinstance(expected, IpCity | IpCountry):
        assert geoip.locate(address=address) == expected
    elif expected is NotInDatabase:
        with pytest.raises(NotInDatabase, match="does not locate this address"):
            geoip.locate(address=address)
    elif expected in REASONS:
        with pytest.raises(MalformedAddress) as caught:
            geoip.locate(address=address)
        assert caught.value.reason == expected == str(caught.value)
    else:
        with pytest.raises(NotPublicAddress) as refused:
            geoip.locate(address=address)
        assert refused.value.kind == expected
        assert str(refused.value) == f"is not a public address ({expected})"


def test_text_only(geoip: GeoipResolver) -> None:
    """ipaddress would read an int or packed bytes as an address: the resolver takes text only."""
    for value in (1359103233, b"Q\x02E\x01"):
        with pytest.raises(MalformedAddress, match=NOT_TEXT):
            geoip.locate(address=value)  # type: ignore[arg-type]


def test_errors_are_typed_and_value_errors() -> None:
    assert issubclass(MalformedAddress, ValueError)
    for kind in (MalformedAddress, NotPublicAddress, NotInDatabase, GeoipDatabaseError):
        assert issubclass(kind, GeoipError) and issubclass(kind, MatcherError)


def test_database_info(geoip: GeoipResolver, db_path: Path) -> None:
    assert geoip.info == DatabaseInfo(
        path=str(db_path),
        database_type=TEST_TYPE,
        ip_version=6,
        built=datetime.fromtimestamp(BUILD_EPOCH, tz=UTC),
    )


def test_the_test_database_aliases_ipv4_like_maxmind(db_path: Path) -> None:
    """IPv4 networks sit in the ::/96 subtree readers use and again under ::ffff:0:0/96."""
    with maxminddb.open_database(str(db_path)) as reader:
        assert reader.get("81.2.69.1") == reader.get("::ffff:81.2.69.1") == LONDON.record


def test_ipv4_only_database(tmp_path: Path) -> None:
    geoip = GeoipResolver(path=write_db(tmp_path / "v4.mmdb", ip_version=4))
    assert geoip.info.ip_version == 4
    assert geoip.locate(address="81.2.69.1") == LONDON_CITY
    assert geoip.locate(address="::ffff:81.2.69.1") == LONDON_CITY
    assert geoip.locate(address="2002:5102:4501::1") == LONDON_CITY
    with pytest.raises(NotInDatabase):
        geoip.locate(address="2400:1a00::5")


def test_unstated_accuracy_is_configurable(db_path: Path) -> None:
    geoip = GeoipResolver(path=db_path, unstated_accuracy_km=30.0)
    located = geoip.locate(address="5.44.1.1")
    assert isinstance(located, IpCity)
    assert (located.accuracy_km, located.accuracy_stated) == (30.0, False)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="positive number of kilometres"):
            GeoipResolver(path=db_path, unstated_accuracy_km=bad)


def test_a_zero_radius_counts_as_unstated(tmp_path: Path) -> None:
    block = Block(("81.2.69.0/24",), city(lat=51.5074, lng=-0.1278, country="GB", radius_km=0))
    geoip = GeoipResolver(path=write_db(tmp_path / "zero.mmdb", blocks=(block,)))
    located = geoip.locate(address="81.2.69.1")
    assert isinstance(located, IpCity)
    assert (located.accuracy_km, located.accuracy_stated) == (UNSTATED_ACCURACY_KM, False)


# -- properties: any address, any text ---------------------------------------------------------


def _in_blocks() -> st.SearchStrategy[IPv4Address | IPv6Address]:
    """Addresses inside the test database's networks, decoys included."""
    networks = [ipaddress.ip_network(n) for block in BLOCKS for n in block.networks]
    return st.sampled_from(networks).flatmap(
        lambda net: st.integers(0, net.num_addresses - 1).map(lambda i: net[i])
    )


def _wrapped(
    wrap: Callable[[IPv4Address], str],
) -> st.SearchStrategy[IPv4Address | IPv6Address]:
    """IPv6 transition addresses carrying random IPv4 addresses."""
    return st.ip_addresses(v=4).map(lambda v4: ipaddress.ip_address(wrap(v4)))


ADDRESSES = st.one_of(
    st.ip_addresses(),
    _in_blocks(),
    _wrapped(lambda v4: f"::ffff:{v4}"),
    _wrapped(lambda v4: f"64:ff9b::{v4}"),
    _wrapped(lambda v4: f"2002:{int(v4) >> 16:x}:{int(v4) & 0xFFFF:x}::1"),
    _wrapped(lambda v4: teredo(client=str(v4))),
)


@PROPERTY
@given(address=ADDRESSES, spelling=st.sampled_from(["compressed", "exploded", "upper"]))
def test_any_address(
    geoip: GeoipResolver, address: IPv4Address | IPv6Address, spelling: str
) -> None:
    """Typed errors only, none quoting the address; a place only for a public address."""
    text = {"compressed": str(address), "exploded": address.exploded}.get(
        spelling, str(address).upper()
    )
    try:
        located = geoip.locate(address=text)
    except (NotPublicAddress, NotInDatabase) as err:
        assert err.__context__ is None and err.__cause__ is None
        shown = f"{err} {err!r} {err.args}"
        assert not any(written in shown for written in spellings(address))
        return
    carried = carried_ipv4(address)
    assert carried.is_global and not carried.is_multicast
    assert not (isinstance(located, IpCity) and located.point == NULL_ISLAND)


@PROPERTY
@given(
    text=st.one_of(
        st.text(max_size=60),
        st.from_regex(r"[0-9a-fA-F:.%/ ]{0,50}", fullmatch=True),
    )
)
def test_any_text(geoip: GeoipResolver, text: str) -> None:
    """Any text is an address or a MalformedAddress whose message is a fixed reason."""
    try:
        geoip.locate(address=text)
    except MalformedAddress as err:
        assert err.reason in REASONS and str(err) == err.reason
        assert err.__context__ is None and err.__cause__ is None
    except (NotPublicAddress, NotInDatabase):
        pass


# -- reloading -----------------------------------------------------------------------------------


def _swap(path: Path, target: Path) -> None:
    """Points path at target atomically, as renaming a downloaded file over the old one does."""
    staged = path.with_suffix(".staged")
    staged.unlink(missing_ok=True)
    staged.symlink_to(target)
    os.replace(staged, path)


BERLIN_AT_LONDON = Block(LONDON.networks, city(lat=52.52, lng=13.405, country="DE", radius_km=25))
BERLIN_CITY = IpCity(
    point=Point(lat=52.52, lng=13.405), accuracy_km=25.0, accuracy_stated=True, country_code="DE"
)


def test_reload_swaps_in_the_new_file(tmp_path: Path) -> None:
    london, berlin = (
        write_db(tmp_path / "a.mmdb"),
        write_db(tmp_path / "b.mmdb", blocks=(BERLIN_AT_LONDON,), build_epoch=BUILD_EPOCH + 86400),
    )
    path = tmp_path / "serving.mmdb"
    _swap(path, london)
    geoip = GeoipResolver(path=path)
    assert geoip.locate(address="81.2.69.1") == LONDON_CITY
    _swap(path, berlin)
    assert geoip.locate(address="81.2.69.1") == LONDON_CITY  # the open file serves until reload
    info = geoip.reload()
    assert info == geoip.info and info.built == datetime.fromtimestamp(BUILD_EPOCH + 86400, UTC)
    assert geoip.locate(address="81.2.69.1") == BERLIN_CITY
    with pytest.raises(NotInDatabase):
        geoip.locate(address="2400:1a00::5")


def test_reload_under_concurrent_lookups(tmp_path: Path) -> None:
    """Lookups from many threads while the file is swapped: each sees one whole file."""
    london = write_db(tmp_path / "a.mmdb")
    berlin = write_db(tmp_path / "b.mmdb", blocks=(BERLIN_AT_LONDON,))
    path = tmp_path / "serving.mmdb"
    _swap(path, london)
    geoip = GeoipResolver(path=path)
    done = threading.Event()

    def look() -> set[object]:
        seen: set[object] = set()
        while not done.is_set():
            seen.add(geoip.locate(address="81.2.69.1"))
            seen.add(geoip.locate(address="::ffff:81.2.69.7"))
        return seen

    with ThreadPoolExecutor(max_workers=4) as pool:
        lookers = [pool.submit(look) for _ in range(4)]
        for turn in range(60):
            _swap(path, berlin if turn % 2 == 0 else london)
            geoip.reload()
        done.set()
        seen = set().union(*(f.result() for f in lookers))
    assert seen <= {LONDON_CITY, BERLIN_CITY}
    assert geoip.locate(address="81.2.69.1") == LONDON_CITY  # the last swap was back to London


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs Linux's /proc")
def test_reloads_release_the_replaced_files(tmp_path: Path) -> None:
    """Old readers are never closed, only dropped: their mappings must still go."""
    path = write_db(tmp_path / "city.mmdb")
    geoip = GeoipResolver(path=path)

    def mappings() -> int:
        return Path("/proc/self/maps").read_text().count(str(path))

    for _ in range(50):
        geoip.reload()
        assert geoip.locate(address="81.2.69.1") == LONDON_CITY
    assert mappings() == 1


def _missing(path: Path) -> None:
    path.unlink()


def _directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


def _written(content: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        staged = path.with_suffix(".new")
        staged.write_bytes(content)
        os.replace(staged, path)

    return write


def _truncated(path: Path) -> None:
    _written(path.read_bytes()[:200])(path)


def _rewritten(**options: object) -> Callable[[Path], None]:
    def rewrite(path: Path) -> None:
        staged = write_db(path.with_suffix(".new"), **options)  # type: ignore[arg-type]
        os.replace(staged, path)

    return rewrite


BAD_FILES = {
    "missing": (_missing, "no such file or directory"),
    "directory": (_directory, "is not a MaxMind DB file"),
    "empty": (_written(b""), "is not a MaxMind DB file"),
    "text": (_written(b"81.2.69.0/24,GB\n" * 100), "is not a MaxMind DB file"),
    "random": (_written(bytes(range(256)) * 40), "is not a MaxMind DB file"),
    "truncated": (_truncated, "is not a MaxMind DB file"),
    "asn database": (_rewritten(database_type="GeoLite2-ASN"), "'GeoLite2-ASN', not a City"),
    "impossible build date": (_rewritten(build_epoch=2**63), "impossible build date"),
}


@pytest.mark.parametrize("spoil", list(BAD_FILES))
def test_a_bad_file_on_reload_keeps_the_old_one(tmp_path: Path, spoil: str) -> None:
    path = write_db(tmp_path / "city.mmdb")
    geoip = GeoipResolver(path=path)
    before = geoip.info
    damage, reason = BAD_FILES[spoil]
    damage(path)
    with pytest.raises(GeoipDatabaseError) as failed:
        geoip.reload()
    assert failed.value.path == str(path) and reason in failed.value.reason
    assert str(failed.value) == f"GeoIP database {path}: {failed.value.reason}"
    assert geoip.info == before
    assert geoip.locate(address="81.2.69.1") == LONDON_CITY
    with pytest.raises(GeoipDatabaseError, match=reason):
        GeoipResolver(path=path)


def test_a_corrupt_record_fails_the_lookup_without_quoting_the_address(tmp_path: Path) -> None:
    """The reader's own message quotes the address; the resolver's does not, nor chains it."""
    path = write_db(tmp_path / "city.mmdb", blocks=(LONDON,))
    with maxminddb.open_database(str(path)) as reader:
        meta = reader.metadata()
    content = bytearray(path.read_bytes())
    data_start = meta.node_count * meta.record_size * 2 // 8 + 16
    data_end = content.rfind(b"\xab\xcd\xefMaxMind.com")
    content[data_start:data_end] = b"\xff" * (data_end - data_start)
    path.write_bytes(content)
    geoip = GeoipResolver(path=path)
    with pytest.raises(GeoipDatabaseError, match="the file is corrupt") as failed:
        geoip.locate(address="81.2.69.1")
    assert "81.2.69.1" not in f"{failed.value} {failed.value!r}"
    assert failed.value.__context__ is None and failed.value.__cause__ is None
