"""geometry.nearest_first: the lazy order is exactly a full geodesic sort, ties by rank."""

from __future__ import annotations

import numpy as np
import pytest

from matcher.geo.geometry import geodesic_km, nearest_first
from matcher.model import Point


@pytest.mark.parametrize(
    "centre",
    [Point(51.5, -0.13), Point(-18.14, 179.9), Point(0.0, 0.0), Point(89.0, 10.0)],
    ids=["london", "fiji-antimeridian", "equator", "near-pole"],
)
def test_nearest_first_is_a_full_geodesic_sort_with_ties_by_rank(centre):
    rng = np.random.default_rng(7)
    n = 3000
    lats = np.clip(centre.lat + rng.uniform(-3, 3, n), -90, 90)
    lngs = (centre.lng + rng.uniform(-3, 3, n) + 180) % 360 - 180
    lats[:20], lngs[:20] = lats[20], lngs[20]  # suppliers at one spot: ties
    ranks = rng.permutation(n)
    km = geodesic_km(centre, lats=lats, lngs=lngs)
    expected = sorted(range(n), key=lambda k: (km[k], ranks[k]))

    got = list(nearest_first(centre, lats=lats, lngs=lngs, ranks=ranks))

    assert [k for k, _ in got] == expected
    assert [d for _, d in got] == [km[k] for k in expected]


def test_nearest_first_of_nothing_yields_nothing():
    empty = np.empty(0)
    assert list(nearest_first(Point(0, 0), lats=empty, lngs=empty, ranks=empty.astype(int))) == []
