# ruff: noqa: E501  (a golden table reads best one row to a line)
"""Golden places and instants: where a point is, which zone holds it and what that zone says.

In the spirit of timezonefinder's own ``tests/locations.py``. Every row was checked against the
real boundaries timezonefinder ships and the tzdata zoneinfo reads, never guessed. Instants on
both sides of a change sit one second before and exactly at the transition.
"""

from __future__ import annotations

from typing import NamedTuple


class Golden(NamedTuple):
    """One place at one instant and what its zone says then."""

    place: str
    lat: float
    lng: float
    zone: str
    instant: str  # RFC 3339
    utc_offset_seconds: int
    dst: bool
    abbreviation: str


# fmt: off
GOLDEN: tuple[Golden, ...] = (
    Golden("Beijing", 39.9042, 116.4074, "Asia/Shanghai", "2027-01-15T12:00:00Z", 28800, False, "CST"),
    Golden("Beijing in summer", 39.9042, 116.4074, "Asia/Shanghai", "2027-07-01T00:00:00Z", 28800, False, "CST"),
    # America/Los_Angeles springs forward at 2027-03-14 10:00Z (02:00 PST).
    Golden("Los Angeles before DST", 34.0522, -118.2437, "America/Los_Angeles", "2027-03-14T09:59:59Z", -28800, False, "PST"),
    Golden("Los Angeles after DST", 34.0522, -118.2437, "America/Los_Angeles", "2027-03-14T10:00:00Z", -25200, True, "PDT"),
    # America/New_York: spring forward 2027-03-14 07:00Z, fall back 2027-11-07 06:00Z.
    Golden("New York before spring", 40.7128, -74.0060, "America/New_York", "2027-03-14T06:59:59Z", -18000, False, "EST"),
    Golden("New York after spring", 40.7128, -74.0060, "America/New_York", "2027-03-14T07:00:00Z", -14400, True, "EDT"),
    Golden("New York before fall", 40.7128, -74.0060, "America/New_York", "2027-11-07T05:59:59Z", -14400, True, "EDT"),
    Golden("New York after fall", 40.7128, -74.0060, "America/New_York", "2027-11-07T06:00:00Z", -18000, False, "EST"),
    # Europe/London springs forward at 2027-03-28 01:00Z.
    Golden("London before BST", 51.5074, -0.1278, "Europe/London", "2027-03-28T00:59:59Z", 0, False, "GMT"),
    Golden("London in BST", 51.5074, -0.1278, "Europe/London", "2027-03-28T01:00:00Z", 3600, True, "BST"),
    Golden("Kathmandu", 27.7172, 85.3240, "Asia/Kathmandu", "2027-06-01T00:00:00Z", 20700, False, "+0545"),
    # Pacific/Chatham falls back at 2027-04-03 14:00Z (03:45 +1345 becomes 02:45 +1245).
    Golden("Chatham Islands in summer", -43.9535, -176.5597, "Pacific/Chatham", "2027-04-03T13:59:59Z", 49500, True, "+1345"),
    Golden("Chatham Islands in winter", -43.9535, -176.5597, "Pacific/Chatham", "2027-04-03T14:00:00Z", 45900, False, "+1245"),
    # Australia/Lord_Howe shifts 30 minutes; DST ends 2027-04-04 02:00 local = 2027-04-03 15:00Z.
    Golden("Lord Howe in summer", -31.5553, 159.0821, "Australia/Lord_Howe", "2027-04-03T14:59:59Z", 39600, True, "+11"),
    Golden("Lord Howe in winter", -31.5553, 159.0821, "Australia/Lord_Howe", "2027-04-03T15:00:00Z", 37800, False, "+1030"),
    # Australia/Adelaide falls back at 2027-04-03 16:30Z.
    Golden("Adelaide in summer", -34.9285, 138.6007, "Australia/Adelaide", "2027-04-03T16:29:59Z", 37800, True, "ACDT"),
    Golden("Adelaide in winter", -34.9285, 138.6007, "Australia/Adelaide", "2027-04-03T16:30:00Z", 34200, False, "ACST"),
    Golden("Kolkata", 22.5726, 88.3639, "Asia/Kolkata", "2027-01-15T00:00:00Z", 19800, False, "IST"),
    Golden("Phoenix in winter", 33.4484, -112.0740, "America/Phoenix", "2027-01-15T00:00:00Z", -25200, False, "MST"),
    Golden("Phoenix in summer", 33.4484, -112.0740, "America/Phoenix", "2027-07-01T00:00:00Z", -25200, False, "MST"),
    Golden("Suva", -18.1248, 178.4501, "Pacific/Fiji", "2027-01-15T00:00:00Z", 43200, False, "+12"),
    Golden("Lakeba, Fiji east of 180", -18.2, -178.8, "Pacific/Fiji", "2027-01-15T00:00:00Z", 43200, False, "+12"),
    Golden("Apia", -13.8333, -171.7667, "Pacific/Apia", "2027-01-15T00:00:00Z", 46800, False, "+13"),
    Golden("Pago Pago", -14.2781, -170.7025, "Pacific/Pago_Pago", "2027-01-15T00:00:00Z", -39600, False, "SST"),
    Golden("Longyearbyen in winter", 78.2232, 15.6267, "Arctic/Longyearbyen", "2027-01-15T00:00:00Z", 3600, False, "CET"),
    Golden("Longyearbyen in summer", 78.2232, 15.6267, "Arctic/Longyearbyen", "2027-07-01T00:00:00Z", 7200, True, "CEST"),
    Golden("McMurdo Station in summer", -77.846, 166.676, "Antarctica/McMurdo", "2027-01-15T00:00:00Z", 46800, True, "NZDT"),
    Golden("McMurdo Station in winter", -77.846, 166.676, "Antarctica/McMurdo", "2027-07-01T00:00:00Z", 43200, False, "NZST"),
    # The South Pole station keeps New Zealand time; timezonefinder maps the polar cap to McMurdo.
    Golden("South Pole", -89.99, 139.27, "Antarctica/McMurdo", "2027-07-01T00:00:00Z", 43200, False, "NZST"),
    # Open sea: timezonefinder answers the nautical zone itself (Etc/GMT+N is UTC-N).
    Golden("mid-Atlantic", 30.0, -30.0, "Etc/GMT+2", "2027-01-15T00:00:00Z", -7200, False, "-02"),
    Golden("mid-Pacific", 0.0, -160.0, "Etc/GMT+11", "2027-01-15T00:00:00Z", -39600, False, "-11"),
    Golden("North Pole", 89.99, 0.0, "Etc/GMT", "2027-01-15T00:00:00Z", 0, False, "GMT"),
    Golden("Kiritimati, Line Islands", 1.8721, -157.4278, "Pacific/Kiritimati", "2027-01-15T00:00:00Z", 50400, False, "+14"),
)
# fmt: on
