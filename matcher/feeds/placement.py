"""Whether each supplier lies in the timezone it declares, and whether a feed's points do at all.

A supplier is misplaced when the zone at its point (the open sea has its nautical zone) is not
the zone it declares, the two do not keep the same UTC offsets for the year after the feed was
generated, and no point BORDER_TOLERANCE_KM from it lies in the declared zone either.

BORDER_TOLERANCE_KM is 2 km: larger than the error of the boundary data (OpenStreetMap borders,
tens of metres), of an address geocoded to its street or postcode centroid (hundreds of metres)
and of the service's own 1 km coarsening grid (a user within 0.7 km of a cell centre), so a
clinic on a border street is never refused; and a thousand times smaller than what swapped
coordinates or a wrong CRS do, which move a point hundreds or thousands of kilometres.

A feed most of whose points are misplaced is refused whole: its coordinates, not its suppliers,
are wrong, and the report asks whether x and y were swapped.
"""

from __future__ import annotations

from datetime import datetime

from matcher.geo.geometry import circle
from matcher.geo.timezones import TimezoneResolver, same_rules
from matcher.model import Point

BORDER_TOLERANCE_KM = 2.0
#: Points probed on the circle of that radius around a supplier outside its zone.
BORDER_PROBES = 8
#: More than this share of a feed's suppliers misplaced refuses the whole feed.
MOST = 0.5


class Placement:
    """Checks suppliers' points against their zones, and counts what it finds for the feed."""

    def __init__(self, *, since: datetime, resolver: TimezoneResolver | None = None) -> None:
        self._since = since
        self._resolver = resolver or TimezoneResolver()
        self.checked = 0
        self.misplaced = 0
        self.at_sea = 0  # misplaced in the open sea
        self.swapped = 0  # misplaced, but in their zone with latitude and longitude swapped

    def problem(self, where: Point, declared: str) -> str | None:
        """Why a point does not belong to its declared zone, naming both; None if it does."""
        self.checked += 1
        found = self._resolver.zone_at(where)
        if self._agrees(found, declared) or self._near(where, declared):
            return None
        self.misplaced += 1
        at_sea = found.startswith("Etc/")
        self.at_sea += at_sea
        if abs(where.lng) <= 90 and self._agrees(
            self._resolver.zone_at(Point(lat=where.lng, lng=where.lat)), declared
        ):
            self.swapped += 1
        lies = f"the open sea ({found})" if at_sea else found
        return (
            f"must lie in its timezone {declared} or within {BORDER_TOLERANCE_KM:g} km of it,"
            f" got lat {where.lat:.4f}, lng {where.lng:.4f}, which is in {lies}"
        )

    def verdict(self) -> str | None:
        """The problem with the feed as a whole when most of its points are misplaced."""
        if not self.checked or self.misplaced <= MOST * self.checked:
            return None
        swapped = (
            f"; {self.swapped} would lie in their zones with lat and lng swapped"
            if self.swapped
            else ""
        )
        return (
            f"{self.misplaced} of {self.checked} suppliers lie outside their declared timezones"
            f" ({self.at_sea} in the open sea){swapped}: did you swap x and y (lat and lng),"
            " or declare the wrong crs?"
        )

    def _agrees(self, found: str, declared: str) -> bool:
        """Whether a zone found at a point keeps the declared zone's time."""
        try:
            return same_rules(found, declared, since=self._since)
        except KeyError:  # a zone the boundary data knows and this tzdata does not
            return found == declared

    def _near(self, where: Point, declared: str) -> bool:
        """Whether a point within the tolerance of ``where`` lies in the declared zone."""
        ring = circle(where, radius_km=BORDER_TOLERANCE_KM, vertices=BORDER_PROBES)
        for lng, lat in list(ring.exterior.coords)[:BORDER_PROBES]:
            probe = Point(lat=max(-90.0, min(90.0, lat)), lng=(lng + 180.0) % 360.0 - 180.0)
            if self._agrees(self._resolver.zone_at(probe), declared):
                return True
        return False
