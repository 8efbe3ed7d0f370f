"""ListSlots in pages through the service layer: AIP-158 sizes, tokens bound to the query, pages
that follow instants, and the slots grouped by the user's local day."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from matcher.engine.catalog import Catalog
from matcher.errors import InvalidArgument
from matcher.geo.timezones import TimezoneResolver, zone
from matcher.model import Availability, RenderedSlot, Slot, WeeklyRule
from matcher.paging import PageTokens
from matcher.queries import HoursInput, LocationInput, WindowInput
from matcher.service import ListSlotsInput, Matching, MatchInput, SlotList
from matcher.settings import Limits
from tests.conftest import NOW
from tests.engine_slots import render

WEEK = WindowInput(start=datetime(2027, 3, 1, tzinfo=UTC), end=datetime(2027, 3, 8, tzinfo=UTC))
LONDON_FOR_NEW_YORK = ListSlotsInput(
    supplier_id="london-gp", timezone="America/New_York", window=WEEK
)
#: london-gp, every day from 09:00 to 11:00 London time in 30-minute and in 60-minute slots:
#: two slots start at 09:00 and two at 10:00.
TWO_LENGTHS = Availability(
    weekly=(
        WeeklyRule(frozenset(range(7)), 540, 660, 30),
        WeeklyRule(frozenset(range(7)), 540, 660, 60),
    )
)


def matching_over(catalog: Catalog, resolver: TimezoneResolver, **limits: int) -> Matching:
    """The use cases over one catalogue, with the pinned clock and the limits given."""
    chosen = Limits(**limits)
    return Matching(
        catalog=lambda: catalog,
        resolver=resolver,
        tokens=PageTokens(b"unit-secret", ttl=chosen.page_token_ttl),
        limits=chosen,
        clock=lambda: NOW,
    )


@pytest.fixture
def matching(catalog: Catalog, resolver: TimezoneResolver) -> Matching:
    return matching_over(catalog, resolver)


def every_page(matching: Matching, request: ListSlotsInput) -> list[SlotList]:
    """Every page of a listing, following the tokens."""
    found = [matching.list_slots(request)]
    while found[-1].next_page_token:
        found.append(matching.list_slots(replace(request, page_token=found[-1].next_page_token)))
    return found


def ids(slots: list[RenderedSlot] | tuple[RenderedSlot, ...]) -> list[str]:
    return [s.slot_id for s in slots]


def test_pages_cover_the_whole_listing_once_in_order(matching):
    whole = matching.list_slots(replace(LONDON_FOR_NEW_YORK, page_size=1000))
    assert not whole.next_page_token
    pages = every_page(matching, replace(LONDON_FOR_NEW_YORK, page_size=7))
    assert len(whole.slots) > 3 * 7
    assert [i for page in pages for i in ids(page.slots)] == ids(whole.slots)
    assert all(len(page.slots) == 7 for page in pages[:-1])
    assert all(page.window == whole.window for page in pages)


def test_the_default_page_is_100_slots(matching):
    month = WindowInput(start=WEEK.start, end=WEEK.start + timedelta(days=28))
    first = matching.list_slots(replace(LONDON_FOR_NEW_YORK, window=month))
    assert len(first.slots) == Limits().default_listed_slots
    assert first.next_page_token


def test_slots_starting_together_are_never_split_or_repeated_across_pages(catalog, resolver):
    two = matching_over(catalog.with_availability({"london-gp": TWO_LENGTHS}), resolver)
    whole = two.list_slots(replace(LONDON_FOR_NEW_YORK, page_size=1000))
    starts = [s.start for s in whole.slots]
    assert len(starts) == 6 / 4 * len(set(starts))  # 09:00 and 10:00 start two slots each
    for size in (1, 2, 3, 5):
        pages = every_page(two, replace(LONDON_FOR_NEW_YORK, page_size=size))
        assert [i for page in pages for i in ids(page.slots)] == ids(whole.slots), size


def test_slots_that_go_before_the_next_page_shift_nothing(catalog, resolver):
    """The token names an instant, not an offset: a slot removed from the first page (booked,
    or closed by an update) between two calls neither skips nor repeats a later one."""
    before = matching_over(catalog, resolver)
    whole = before.list_slots(replace(LONDON_FOR_NEW_YORK, page_size=1000))
    first_day = whole.slots[0].start.date()
    size = sum(1 for s in whole.slots if s.start.date() == first_day)
    first = before.list_slots(replace(LONDON_FOR_NEW_YORK, page_size=size))
    assert first.slots[-1].start.date() == first_day
    supplier = catalog.supplier("london-gp")
    closed = replace(supplier.availability, closed=frozenset({first_day}))
    after = matching_over(catalog.with_availability({"london-gp": closed}), resolver)
    second = after.list_slots(
        replace(LONDON_FOR_NEW_YORK, page_size=size, page_token=first.next_page_token)
    )
    assert ids(second.slots) == ids(whole.slots)[size : 2 * size]


@pytest.mark.parametrize(("asked", "got"), [(11, 10), (10_000, 10), (2**31 - 1, 10)])
def test_a_page_size_above_the_maximum_is_clamped_to_it(catalog, resolver, asked, got):
    small = matching_over(catalog, resolver, max_listed_slots=10, max_page_size=2)
    listed = small.list_slots(replace(LONDON_FOR_NEW_YORK, page_size=asked))
    assert len(listed.slots) == got
    assert listed.next_page_token
    la = MatchInput(location=LocationInput(lat_lng=(34.05, -118.25)), radius_km=500.0)
    page = small.match(replace(la, page_size=asked), wanted=lambda: True)
    assert len(page.matches) == 2
    assert page.next_page_token


def test_a_negative_page_size_is_refused(matching):
    with pytest.raises(InvalidArgument) as caught:
        matching.list_slots(replace(LONDON_FOR_NEW_YORK, page_size=-1))
    assert [v.field for v in caught.value.violations] == ["page_size"]


@pytest.mark.parametrize(
    "change",
    [
        {"supplier_id": "ny-night"},
        {"timezone": "Asia/Kathmandu"},
        {"local_hours": HoursInput(start="08:00", end="12:00")},
        {"window": WindowInput(start=WEEK.start, end=WEEK.start + timedelta(days=6))},
    ],
)
def test_a_token_works_only_for_the_listing_that_issued_it(matching, change):
    token = matching.list_slots(replace(LONDON_FOR_NEW_YORK, page_size=1)).next_page_token
    with pytest.raises(InvalidArgument) as caught:
        matching.list_slots(replace(LONDON_FOR_NEW_YORK, page_token=token, **change))
    assert [v.field for v in caught.value.violations] == ["page_token"]


def test_a_match_token_is_no_listing_token(matching):
    la = MatchInput(location=LocationInput(lat_lng=(34.05, -118.25)), radius_km=500.0)
    token = matching.match(replace(la, page_size=1), wanted=lambda: True).next_page_token
    with pytest.raises(InvalidArgument):
        matching.list_slots(replace(LONDON_FOR_NEW_YORK, page_token=token))


def test_days_group_the_page_by_the_users_local_date(matching):
    flat = matching.list_slots(replace(LONDON_FOR_NEW_YORK, page_size=1000))
    grouped = matching.list_slots(replace(LONDON_FOR_NEW_YORK, page_size=1000, by_user_day=True))
    assert grouped.days is not None and flat.days is None
    assert [s for d in grouped.days for s in d.slots] == list(flat.slots)
    assert [d.day for d in grouped.days] == sorted({d.day for d in grouped.days})
    for d in grouped.days:
        assert d.slots
        assert {s.user_local_start[:10] for s in d.slots} == {d.day.isoformat()}


def test_every_slot_ends_in_both_zones_as_it_starts():
    """A slot across the US spring-forward (02:00 -> 03:00 on 2027-03-14) ends at 03:15 local."""
    start = datetime(2027, 3, 14, 6, 45, tzinfo=UTC)  # 01:45 EST
    shown = render(
        Slot(start=start, end=start + timedelta(minutes=30)),
        supplier_id="x",
        supplier_tz=zone("Europe/London"),
        user_tz=zone("America/New_York"),
    )
    assert shown.user_local_start == "2027-03-14T01:45:00-05:00"
    assert shown.user_local_end == "2027-03-14T03:15:00-04:00"
    assert shown.supplier_local_start == "2027-03-14T06:45:00+00:00"
    assert shown.supplier_local_end == "2027-03-14T07:15:00+00:00"
