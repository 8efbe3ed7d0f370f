"""The named cases of the service's contract, through a real gRPC server on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from matcher_api.v1 import matcher_pb2 as pb
from tests.integration.helpers import at, bad_fields, local_time, match, point, window

LOS_ANGELES = (34.05, -118.25)
NEW_YORK = (40.71, -74.0)
LONDON = (51.51, -0.13)
SUVA = (-18.14, 178.44)
PAGO_PAGO = (-14.28, -170.70)
NY_ALESUND = (78.92, 11.93)


def slots_of(response: pb.MatchResponse, supplier_id: str) -> list[pb.Slot]:
    """The slots one supplier got in a Match response."""
    found = [m for m in response.matches if m.supplier.id == supplier_id]
    assert found, f"{supplier_id} not matched; got {[m.supplier.id for m in response.matches]}"
    return list(found[0].slots)


def listed(stub, supplier_id: str, start: str, end: str, **fields) -> pb.ListSlotsResponse:
    """ListSlots for one supplier over [start, end), rendered as ``fields`` ask."""
    return stub.ListSlots(
        pb.ListSlotsRequest(supplier_id=supplier_id, window=window(start, end), **fields)
    )


def offsets_by_day(slots) -> dict[str, set[int]]:
    """The offset differences seen on each of the supplier's local dates."""
    by_day: dict[str, set[int]] = {}
    for s in slots:
        by_day.setdefault(s.supplier_local_start[:10], set()).add(s.offset_difference_minutes)
    return by_day


def test_beijing_supplier_seen_from_los_angeles_across_us_dst_start(stub):
    """16 hours apart until 2027-03-14 10:00Z, when Los Angeles springs forward; 15 after."""
    response = match(
        stub,
        LOS_ANGELES,
        modalities=[pb.MODALITY_REMOTE],
        window=window("2027-03-12T00:00:00Z", "2027-03-17T00:00:00Z"),
        max_slots_per_supplier=100,
    )
    slots = slots_of(response, "beijing-clinic")
    spring_forward = datetime(2027, 3, 14, 10, tzinfo=UTC)
    before = {s.offset_difference_minutes for s in slots if at(s) < spring_forward}
    after = {s.offset_difference_minutes for s in slots if at(s) >= spring_forward}
    assert before == {16 * 60}
    assert after == {15 * 60}
    assert all(s.supplier_local_start.endswith("+08:00") for s in slots)


def test_london_seen_from_new_york_is_four_hours_between_the_two_dst_starts(stub):
    """The US springs forward on 2027-03-14, the UK on 2027-03-28: two weeks at 4 h, not 5 h."""
    response = listed(
        stub,
        "london-gp",
        "2027-03-08T00:00:00Z",
        "2027-04-03T00:00:00Z",
        location=point(*NEW_YORK),
        page_size=1000,
    )
    assert response.user_timezone.zone == "America/New_York"
    by_day = offsets_by_day(response.slots)
    assert by_day["2027-03-12"] == {5 * 60}
    assert by_day["2027-03-15"] == {4 * 60}
    assert by_day["2027-03-26"] == {4 * 60}
    assert by_day["2027-03-29"] == {5 * 60}


def test_kathmandu_is_five_hours_forty_five_ahead_of_london(stub):
    response = match(
        stub,
        LONDON,
        modalities=[pb.MODALITY_REMOTE],
        specialties=["dermatology"],
        window=window("2027-03-08T00:00:00Z", "2027-03-10T00:00:00Z"),
    )
    slots = slots_of(response, "kathmandu-derm")
    assert {s.offset_difference_minutes for s in slots} == {345}
    assert all(s.supplier_local_start.endswith("+05:45") for s in slots)
    # 10:00 in Kathmandu is 04:15 in London; a remote supplier shows its first slots in the
    # user's waking hours when the request names none: 14:00 in Kathmandu, 08:15 in London
    assert slots[0].user_local_start == "2027-03-08T08:15:00+00:00"
    assert slots[0].supplier_local_start == "2027-03-08T14:00:00+05:45"


def test_lord_howe_shifts_by_thirty_minutes_when_its_dst_ends(stub):
    """On 2027-04-04 Lord Howe falls back 30 min and Sydney 60 min: 0 then 30 min apart."""
    response = listed(
        stub,
        "lord-howe-nurse",
        "2027-04-01T00:00:00Z",
        "2027-04-07T00:00:00Z",
        timezone="Australia/Sydney",
    )
    by_day = offsets_by_day(response.slots)
    assert by_day["2027-04-03"] == {0}
    assert by_day["2027-04-05"] == {30}
    assert response.slots[0].supplier_local_start.endswith("+11:00")
    assert response.slots[-1].supplier_local_start.endswith("+10:30")


def test_new_york_0230_on_2027_03_14_does_not_exist(stub):
    """The spring-forward gap: no slot at 02:00 or 02:30, the weekly rule's nor the one-off's."""
    response = listed(
        stub,
        "ny-night",
        "2027-03-14T04:00:00Z",
        "2027-03-14T10:00:00Z",
        timezone="America/New_York",
    )
    walls = [s.supplier_local_start for s in response.slots]
    assert walls == [
        "2027-03-14T00:00:00-05:00",
        "2027-03-14T00:30:00-05:00",
        "2027-03-14T01:00:00-05:00",
        "2027-03-14T01:30:00-05:00",
        "2027-03-14T03:00:00-04:00",
        "2027-03-14T03:30:00-04:00",
    ]
    assert response.slots[3].end.ToDatetime(tzinfo=UTC) == datetime(2027, 3, 14, 7, tzinfo=UTC)


def test_new_york_0130_on_2027_11_07_happens_twice_but_is_sold_once(stub):
    """The fall-back fold: 01:30 yields one slot, at its first (EDT) occurrence."""
    response = listed(
        stub,
        "ny-night",
        "2027-11-07T03:00:00Z",
        "2027-11-07T10:00:00Z",
        timezone="America/New_York",
    )
    walls = [s.supplier_local_start for s in response.slots]
    assert walls.count("2027-11-07T01:30:00-04:00") == 1
    assert "2027-11-07T01:30:00-05:00" not in walls
    assert [w for w in walls if "T01:30" in w] == ["2027-11-07T01:30:00-04:00"]
    first = next(s for s in response.slots if s.supplier_local_start.startswith("2027-11-07T01:30"))
    assert at(first) == datetime(2027, 11, 7, 5, 30, tzinfo=UTC)


def test_apia_and_pago_pago_share_the_wall_clock_a_day_apart(stub):
    """125 km apart on either side of the date line: 09:00 in both, 24 hours apart."""
    response = match(
        stub,
        PAGO_PAGO,
        radius_km=200,
        modalities=[pb.MODALITY_IN_PERSON],
        window=window("2027-03-08T00:00:00Z", "2027-03-11T00:00:00Z"),
    )
    distances = {m.supplier.id: m.distance_km for m in response.matches}
    assert 110 < distances["apia-gp"] < 140
    for s in slots_of(response, "apia-gp"):
        assert s.offset_difference_minutes == 24 * 60
        assert s.day_shift == 1
        assert local_time(s.user_local_start) == local_time(s.supplier_local_start)


def test_user_in_suva_finds_supplier_across_the_antimeridian(stub):
    """Suva is at 178.4°E; the Lau clinic at 178.8°W is about 290 km east across 180°."""
    response = match(stub, SUVA, radius_km=300, modalities=[pb.MODALITY_IN_PERSON])
    distances = {m.supplier.id: m.distance_km for m in response.matches}
    assert 280 < distances["lau-clinic"] < 300
    assert response.user_timezone.zone == "Pacific/Fiji"


def test_radius_search_above_latitude_78(stub):
    """Ny-Ålesund (78.9°N) to Longyearbyen is about 115 km: inside 150 km, outside 100 km."""
    wide = match(stub, NY_ALESUND, radius_km=150, modalities=[pb.MODALITY_IN_PERSON])
    narrow = match(stub, NY_ALESUND, radius_km=100, modalities=[pb.MODALITY_IN_PERSON])
    assert [m.supplier.id for m in wide.matches] == ["svalbard-gp"]
    assert 100 < wide.matches[0].distance_km < 150
    assert list(narrow.matches) == []


def test_supplier_monday_morning_is_the_users_sunday(stub):
    """Auckland's Monday 08:00 (+13) is Los Angeles' Sunday 11:00 (-08): 21 hours apart."""
    response = match(
        stub,
        LOS_ANGELES,
        modalities=[pb.MODALITY_REMOTE],
        specialties=["mental_health"],
        window=window("2027-03-05T00:00:00Z", "2027-03-12T00:00:00Z"),
    )
    first = slots_of(response, "auckland-psych")[0]
    assert first.supplier_local_start == "2027-03-08T08:00:00+13:00"
    assert first.user_local_start == "2027-03-07T11:00:00-08:00"
    assert first.offset_difference_minutes == 21 * 60 > 12 * 60
    assert first.day_shift == 1


def test_a_31_day_window_is_accepted(stub):
    start = datetime(2027, 3, 2, tzinfo=UTC)
    response = match(stub, LONDON, window=window(start, start + timedelta(days=31)))
    assert response.window.end.ToDatetime(tzinfo=UTC) == start + timedelta(days=31)


def test_a_32_day_window_is_refused_naming_the_window(stub):
    start = datetime(2027, 3, 2, tzinfo=UTC)
    with pytest.raises(Exception) as caught:
        match(stub, LONDON, window=window(start, start + timedelta(days=32)))
    assert bad_fields(caught.value) == ["window"]


def test_a_slot_exactly_at_the_window_end_is_excluded(stub):
    """The window is half-open: 09:00 and 09:30 start inside [09:00, 10:00); 10:00 does not."""
    response = listed(
        stub, "london-gp", "2027-03-08T09:00:00Z", "2027-03-08T10:00:00Z", timezone="Europe/London"
    )
    assert [s.supplier_local_start for s in response.slots] == [
        "2027-03-08T09:00:00+00:00",
        "2027-03-08T09:30:00+00:00",
    ]
