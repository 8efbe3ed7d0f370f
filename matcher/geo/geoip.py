"""A public IP address → the coarse place a MaxMind DB file gives it; the address is never kept.

The database is a GeoLite2-City or -Country file from MaxMind, or DB-IP's City or Country Lite
file: the same record layout (``location.latitude``, ``location.longitude``,
``location.accuracy_radius``, ``country.iso_code``), except that DB-IP states no accuracy radius.
It is memory-mapped, and replaced whole by ``GeoipResolver.reload``.

Privacy: an address lives only for the length of one ``locate`` call. Nothing here logs, stores
or caches it, and no error message, ``repr`` or chained exception holds it: errors raised by the
parser or the reader, whose messages may quote the address, are dropped, not chained.
"""

from __future__ import annotations

import ipaddress
import math
import os
import re
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from typing import Final

import maxminddb
from maxminddb.reader import Reader
from maxminddb.types import Record

from matcher import metrics
from matcher.errors import (
    AddressRange,
    GeoipDatabaseError,
    InvalidArgument,
    MalformedAddress,
    NotInDatabase,
    NotPublicAddress,
)
from matcher.geo.geometry import point
from matcher.model import Point
from matcher.settings import Settings

#: The accuracy taken when a database states none (DB-IP lite); settings.py says why 50 km.
UNSTATED_ACCURACY_KM: Final = float(Settings.geoip_unstated_accuracy_km)
#: The longest text an address has: eight hextets with the last two as dotted IPv4.
MAX_ADDRESS_CHARS: Final = 45
#: The C extension's memory map: about 1 µs a lookup, against 20 µs for pure-Python MODE_MMAP.
READER_MODE: Final = maxminddb.MODE_MMAP_EXT
#: Database types whose records have the City or Country layout (GeoLite2-City,
#: GeoIP2-Country, DBIP-City-Lite, "DBIP-Location (compat=City)", GeoIP2-Enterprise, ...);
#: this refuses an ASN, ISP, anonymous-IP or connection-type file given by mistake.
LOCATION_TYPES: Final = re.compile(r"city|country|location|enterprise", re.IGNORECASE)
#: DB-IP's country code for blocks that have no location.
UNKNOWN_COUNTRY: Final = "ZZ"

# Why text is not an address; constants, so a message never quotes what the caller sent.
NOT_TEXT: Final = "is not text"
EMPTY: Final = "is empty"
TOO_LONG: Final = f"is longer than {MAX_ADDRESS_CHARS} characters, the longest an address is"
HAS_ZONE: Final = "has a zone index (%...), which no public address has"
NOT_AN_ADDRESS: Final = "is not an IPv4 or IPv6 address"

Address = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

_NAT64: Final = IPv6Network("64:ff9b::/96")  # RFC 6052: the well-known NAT64 prefix
_PRIVATE: Final[tuple[Network, ...]] = (
    IPv4Network("10.0.0.0/8"),
    IPv4Network("172.16.0.0/12"),
    IPv4Network("192.168.0.0/16"),
    IPv6Network("fc00::/7"),  # unique local addresses
)
_SHARED: Final = IPv4Network("100.64.0.0/10")  # RFC 6598: carrier-grade NAT
_DOCUMENTATION: Final[tuple[Network, ...]] = (
    IPv4Network("192.0.2.0/24"),
    IPv4Network("198.51.100.0/24"),
    IPv4Network("203.0.113.0/24"),
    IPv6Network("2001:db8::/32"),
    IPv6Network("3fff::/20"),  # RFC 9637: newer than some Pythons' ipaddress tables
)
#: IANA special-purpose blocks not globally reachable that some Pythons' ipaddress calls
#: global. The few anycast services inside them (PCP, TURN, AMT) are refused too: no user has
#: such an address. Other special blocks are reserved ranges, or known to every ipaddress.
_NOT_GLOBAL: Final[tuple[Network, ...]] = (
    IPv4Network("0.0.0.0/8"),  # "this network"
    IPv4Network("192.0.0.0/24"),  # IETF protocol assignments: dummy, NAT64 discovery, ...
    IPv4Network("192.88.99.0/24"),  # RFC 7526: the deprecated 6to4 relay anycast
    IPv4Network("198.18.0.0/15"),  # benchmarking
    IPv6Network("2001::/23"),  # IETF protocol assignments: benchmarking, ORCHID, ...
)


@dataclass(frozen=True, slots=True)
class IpCity:
    """The city or region a database places an address in: its centre and how far off it may be.

    ``accuracy_stated`` is False when the database gave no radius and ``accuracy_km`` is the
    resolver's assumption for such files.
    """

    point: Point
    accuracy_km: float
    accuracy_stated: bool
    country_code: str | None


@dataclass(frozen=True, slots=True)
class IpCountry:
    """Only the country a database places an address in."""

    country_code: str


IpLocation = IpCity | IpCountry


@dataclass(frozen=True)
class DatabaseInfo:
    """Which database file is serving, for logs and status; nothing of its contents."""

    path: str
    database_type: str
    ip_version: int
    built: datetime

    def summary(self) -> str:
        """The file and what it is, in one phrase for a log line."""
        return (
            f"{self.path} ({self.database_type}, IPv{self.ip_version},"
            f" built {self.built.date().isoformat()})"
        )


@dataclass(frozen=True)
class _Loaded:
    """An open reader and what it is: swapped as one reference, so a lookup sees one file."""

    reader: Reader
    info: DatabaseInfo


class GeoipResolver:
    """Places public IP addresses with one memory-mapped database file, swapped whole on reload.

    A replaced reader is not closed: closing it under a running lookup could fail that lookup,
    so its mapping is released when the last lookup holding it returns. Replace the file by
    renaming a complete new one over it (as geoipupdate does), never by rewriting it in place:
    a mapped file truncated under the process can crash it.
    """

    def __init__(
        self, *, path: str | os.PathLike[str], unstated_accuracy_km: float = UNSTATED_ACCURACY_KM
    ) -> None:
        if not (math.isfinite(unstated_accuracy_km) and unstated_accuracy_km > 0):
            raise ValueError("unstated_accuracy_km must be a positive number of kilometres")
        self._path = os.fspath(path)
        self._unstated_km = unstated_accuracy_km
        self._reloading = threading.Lock()
        self._loaded = _counted_open(self._path)

    @property
    def info(self) -> DatabaseInfo:
        """The database file serving now."""
        return self._loaded.info

    def reload(self) -> DatabaseInfo:
        """Opens the file at the configured path again and swaps it in whole.

        Raises GeoipDatabaseError, leaving the file serving before in place, when the new one
        is missing or is not a City or Country MaxMind DB file.
        """
        with self._reloading:
            self._loaded = _counted_open(self._path)
            return self._loaded.info

    def locate(self, *, address: str) -> IpLocation:
        """The place the database gives a public address, or a typed error saying why none.

        Raises MalformedAddress, NotPublicAddress, NotInDatabase, or GeoipDatabaseError for a
        file that fails mid-lookup.
        """
        target = public_address(address=address)
        loaded = self._loaded  # read once: a concurrent reload cannot mix two files
        try:
            if target.version > loaded.info.ip_version:
                raise NotInDatabase()  # an IPv6 address and an IPv4-only file
            place = _place(_record(loaded, target), unstated_km=self._unstated_km)
        except NotInDatabase:
            metrics.geoip_looked_up(found="none")
            raise
        metrics.geoip_looked_up(found="city" if isinstance(place, IpCity) else "country")
        return place


def public_address(*, address: str) -> Address:
    """The address to place for the caller's text: parsed, unwrapped, and public.

    An IPv6 transition address (IPv4-mapped, NAT64, 6to4, Teredo) is the IPv4 address it
    carries: that address is where the user is, and it is checked as itself, so a wrapped
    private address is as private as a bare one. Public means none of the special-purpose
    ranges (RFC 6890 and its successors) and global to ``ipaddress``.
    """
    target = _unwrapped(_parsed(address))
    kind = _special_kind(target)
    if kind is not None:
        raise NotPublicAddress(kind=kind)
    return target


def _parsed(text: str) -> Address:
    """One address from text, or MalformedAddress; the parser's error quotes the text: dropped."""
    if not isinstance(text, str):
        raise MalformedAddress(reason=NOT_TEXT)  # ipaddress would take an int or packed bytes
    if not text:
        raise MalformedAddress(reason=EMPTY)
    if len(text) > MAX_ADDRESS_CHARS:
        raise MalformedAddress(reason=TOO_LONG)
    if "%" in text:
        raise MalformedAddress(reason=HAS_ZONE)
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    raise MalformedAddress(reason=NOT_AN_ADDRESS)


def _unwrapped(address: Address) -> Address:
    """The IPv4 address an IPv6 transition address carries, else the address itself."""
    if isinstance(address, IPv4Address):
        return address
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d (RFC 4291)
        return address.ipv4_mapped
    if address in _NAT64:  # 64:ff9b::a.b.c.d (RFC 6052)
        return IPv4Address(int(address) & 0xFFFF_FFFF)
    if address.sixtofour is not None:  # 2002:aabb:ccdd::/48, the site's IPv4 (RFC 3056)
        return address.sixtofour
    if address.teredo is not None:  # 2001::/32: (server, client); the client is the user
        return address.teredo[1]
    return address


def _special_kind(address: Address) -> AddressRange | None:
    """The special-purpose range an address lies in, or None for a public address."""
    if address.is_unspecified:
        return "unspecified"
    if address.is_loopback:
        return "loopback"
    if address.is_link_local:
        return "link-local"
    if address.is_multicast:
        return "multicast"
    if _within(address, _PRIVATE):
        return "private"
    if isinstance(address, IPv4Address) and address in _SHARED:
        return "shared"
    if _within(address, _DOCUMENTATION):
        return "documentation"
    # ::/8 holds the deprecated IPv4-compatible addresses; fec0::/10 is deprecated site-local.
    if address.is_reserved or (isinstance(address, IPv6Address) and address.is_site_local):
        return "reserved"
    if not address.is_global or _within(address, _NOT_GLOBAL):
        return "special-purpose"
    return None


def _within(address: Address, networks: tuple[Network, ...]) -> bool:
    """Whether an address lies in any of the networks of its own version."""
    return any(address.version == net.version and address in net for net in networks)


def _record(loaded: _Loaded, address: Address) -> Record | None:
    """The record of an address; a reader error (whose message may quote it) is dropped."""
    try:
        return loaded.reader.get(address)
    except (maxminddb.InvalidDatabaseError, ValueError):  # ValueError: a closed reader
        pass
    raise GeoipDatabaseError(path=loaded.info.path, reason="a lookup failed: the file is corrupt")


def _place(record: Record | None, *, unstated_km: float) -> IpLocation:
    """The place a record gives: its point if it has a valid one, else its country."""
    fields = record if isinstance(record, dict) else {}
    country = _country_code(fields.get("country"))
    location = fields.get("location")
    if isinstance(location, dict) and (at := _point(location)) is not None:
        radius = _number(location.get("accuracy_radius"))
        stated = radius is not None and math.isfinite(radius) and radius > 0
        return IpCity(
            point=at,
            accuracy_km=radius if stated and radius is not None else unstated_km,
            accuracy_stated=stated,
            country_code=country,
        )
    if country is not None:
        return IpCountry(country_code=country)
    raise NotInDatabase()


def _point(location: dict[str, Record]) -> Point | None:
    """A record's latitude and longitude as a valid point, or None."""
    lat, lng = _number(location.get("latitude")), _number(location.get("longitude"))
    if lat is None or lng is None:
        return None
    try:
        return point(lat=lat, lng=lng, field="location")
    except InvalidArgument:
        return None


def _country_code(country: Record | None) -> str | None:
    """A record's ISO 3166-1 alpha-2 country code, or None for none or DB-IP's unknown."""
    code = country.get("iso_code") if isinstance(country, dict) else None
    if not isinstance(code, str) or not re.fullmatch(r"[A-Z]{2}", code):
        return None
    return None if code == UNKNOWN_COUNTRY else code


def _number(value: Record | None) -> float | None:
    """A numeric record value as a float; None for anything else, booleans included."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _counted_open(path: str) -> _Loaded:
    """``_open``, its outcome counted in the service's metrics."""
    try:
        loaded = _open(path)
    except GeoipDatabaseError:
        metrics.geoip_loaded(built=None)
        raise
    metrics.geoip_loaded(built=loaded.info.built)
    return loaded


def _open(path: str) -> _Loaded:
    """Opens and checks a database file, or raises GeoipDatabaseError saying why not."""
    try:
        reader = maxminddb.open_database(path, READER_MODE)
    except OSError as exc:
        reason = (exc.strerror or "cannot be read").lower()
    except (maxminddb.InvalidDatabaseError, ValueError):
        reason = "is not a MaxMind DB file"
    else:
        return _checked(reader, path=path)
    raise GeoipDatabaseError(path=path, reason=reason)


def _checked(reader: Reader, *, path: str) -> _Loaded:
    """A just-opened reader whose metadata says it holds places; closed and refused otherwise."""
    meta = reader.metadata()
    kind = meta.database_type
    if not isinstance(kind, str) or not LOCATION_TYPES.search(kind):
        reason = f"holds {kind!r}, not a City or Country database"
    else:
        try:
            built = datetime.fromtimestamp(meta.build_epoch, tz=UTC)
        except (OverflowError, ValueError, OSError):
            reason = "has an impossible build date"
        else:
            info = DatabaseInfo(
                path=path, database_type=kind, ip_version=meta.ip_version, built=built
            )
            return _Loaded(reader=reader, info=info)
    reader.close()
    raise GeoipDatabaseError(path=path, reason=reason)
