"""Match responses written in bulk are the messages a field-by-field build makes, byte for byte."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.engine.expansion import SlotArrays
from matcher.engine.rendering import Rendered, RenderedColumns, render_many
from matcher.engine.texts import Texts
from matcher.geo.zonetable import zone_table
from matcher.model import (
    Match,
    Modality,
    Point,
    RenderedSlot,
    Supplier,
    UserLocation,
    Window,
    ZoneState,
)
from matcher.service import MatchPage
from matcher_api import convert, wire
from matcher_api.v1 import matcher_pb2 as pb

ZONES = ("Africa/Monrovia", "America/St_Johns", "Asia/Kathmandu", "Pacific/Kiritimati", "UTC")
START = datetime(1971, 6, 1, tzinfo=UTC)  # Monrovia kept -0:44:30 until 1972


def supplier(k: int, zone: str) -> Supplier:
    return Supplier(
        id=f"sup-{k}" + "x" * k,  # ids of several lengths: slot ids too
        name=f"Supplier {k}",
        specialties=("dermatology",),
        languages=("en", "fr"),
        modalities=frozenset({Modality.IN_PERSON, Modality.REMOTE}),
        timezone=zone,
        location=Point(lat=10.0 + k, lng=-20.0 - k),
        availability=None,  # type: ignore[arg-type]  # not read here
    )


def field_by_field(page: MatchPage) -> pb.MatchResponse:
    """The response as the service built it before the bulk writer: message by message."""
    response = pb.MatchResponse(
        user_timezone=convert.zone_state(page.zone),
        matches=[convert.match(m) for m in page.matches],
        window=convert.time_window(page.window),
        next_page_token=page.next_page_token,
        zone_origin=convert.zone_origin(page.user),
    )
    if page.user.point is not None:
        response.coarse_location.CopyFrom(convert.lat_lng(page.user.point))
    return response


@settings(max_examples=150, deadline=None)
@given(
    counts=st.lists(st.integers(0, 6), min_size=0, max_size=5),
    seconds=st.lists(st.integers(0, 3 * 86_400), min_size=30, max_size=30),
    odd=st.booleans(),
    zones=st.lists(st.sampled_from(ZONES), min_size=5, max_size=5),
    user_zone=st.sampled_from(ZONES),
    distances=st.lists(st.floats(0, 500), min_size=5, max_size=5),
)
def test_a_page_written_in_bulk_is_the_page_built_field_by_field(
    counts: list[int],
    seconds: list[int],
    odd: bool,
    zones: list[str],
    user_zone: str,
    distances: list[float],
) -> None:
    """Slots of several suppliers in one rendered batch, at whole minutes or (``odd``) at odd
    microseconds, in zones whose offsets have seconds, for users ahead and behind: the bytes
    are a field-by-field build's."""
    owners = np.repeat(np.arange(len(counts)), counts)
    n = len(owners)
    starts = np.array(
        [
            (int(START.timestamp()) + s) * 1_000_000 + (s * 7919 % 1_000_000 if odd else 0)
            for s in sorted(seconds[:n])
        ],
        dtype=np.int64,
    )
    slots = SlotArrays(starts, starts + 30 * 60_000_000, np.full(n, 3), np.full(n, 2))
    tables = [zone_table(zones[k]) for k in range(len(counts))]
    at_start = np.array(
        [int(tables[o].offset_at(starts[i : i + 1] // 1_000_000)[0]) for i, o in enumerate(owners)],
        dtype=np.int64,
    )
    at_end = np.array(
        [
            int(tables[o].offset_at(slots.end[i : i + 1] // 1_000_000)[0])
            for i, o in enumerate(owners)
        ],
        dtype=np.int64,
    )
    suppliers = [supplier(k, zones[k]) for k in range(len(counts))]
    ids = Texts.of([s.id.encode() for s in suppliers]).take(owners)
    every: Rendered = render_many(
        slots,
        supplier_ids=ids,
        supplier_offsets=at_start,
        supplier_end_offsets=at_end,
        user=zone_table(user_zone),
    )
    ends = np.cumsum(counts).tolist()
    matches = [
        Match(
            supplier=suppliers[k],
            distance_km=distances[k],
            modalities=frozenset({Modality.REMOTE}) if k % 2 else frozenset(Modality),
            slots=RenderedColumns(every, slice(ends[k] - counts[k], ends[k])),
            score=0.0,
        )
        for k in range(len(counts))
    ]
    page = MatchPage(
        user=UserLocation(point=Point(lat=1.5, lng=2.5), zone=user_zone),
        zone=ZoneState(zone=user_zone, utc_offset_seconds=-2670, dst=False, abbreviation="MMT"),
        matches=matches,
        window=Window(START, START + timedelta(days=7)),
        next_page_token="token",
    )
    assert convert.match_page(page).SerializeToString() == (
        field_by_field(page).SerializeToString()
    )


def test_fixed_width_varints_read_back_as_the_values() -> None:
    """Padded varints, negative ones as ten bytes of two's complement, parse to their values."""
    values = np.array([0, 1, 127, 128, 300, -1, -1440, 2**31 - 1, -(2**31)], dtype=np.int64)
    for value, encoded in zip(values.tolist(), wire.varints(values, 10), strict=True):
        message = pb.Slot()
        message.MergeFromString(b"\x30" + encoded.tobytes())
        assert message.offset_difference_minutes == value


def test_slots_given_one_by_one_are_written_one_by_one() -> None:
    """A match whose slots are plain ``RenderedSlot`` values still sends every one."""
    one = RenderedSlot(
        slot_id="s1_x",
        start=START,
        end=START + timedelta(minutes=30),
        user_local_start="a",
        supplier_local_start="b",
        user_local_end="c",
        supplier_local_end="d",
        offset_difference_minutes=-60,
        day_shift=0,
        spots_total=1,
        spots_open=1,
    )
    plain = Match(
        supplier=supplier(0, "UTC"),
        distance_km=0.0,
        modalities=frozenset({Modality.REMOTE}),
        slots=(one, one),
        score=0.0,
    )
    page = MatchPage(
        user=UserLocation(point=None, zone="UTC"),
        zone=ZoneState(zone="UTC", utc_offset_seconds=0, dst=False, abbreviation="UTC"),
        matches=[plain],
        window=Window(START, START + timedelta(days=7)),
        next_page_token="",
    )
    assert convert.match_page(page).SerializeToString() == (
        field_by_field(page).SerializeToString()
    )
    assert len(convert.match_page(page).matches[0].slots) == 2
