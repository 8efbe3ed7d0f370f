"""Matching the tiny feed's suppliers to a user, and checking slot ids, at tests.conftest.NOW."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from matcher.engine.budget import Budget
from matcher.engine.catalog import Catalog
from matcher.engine.slot_ids import slot_id
from matcher.errors import Abandoned, NotFound
from matcher.geo.geometry import circle
from matcher.geo.timezones import zone
from matcher.model import (
    Availability,
    LocalHours,
    Match,
    MatchQuery,
    Modality,
    Order,
    Point,
    Slot,
    SlotStatus,
    Supplier,
    WeeklyRule,
    Window,
)
from tests.conftest import NOW

WEEK = Window(start=NOW, end=NOW + timedelta(days=7))  # Mon 2027-03-01 12:00Z to Mon 03-08
LONDON = Point(lat=51.5074, lng=-0.1278)
LOS_ANGELES = Point(lat=34.0522, lng=-118.2437)
NEW_YORK = Point(lat=40.7580, lng=-73.9855)
APIA = Point(lat=-13.8333, lng=-171.7667)
PAGO_PAGO = Point(lat=-14.2781, lng=-170.7025)
REMOTE_ONLY = {"beijing-clinic", "kathmandu-derm", "auckland-psych", "london-gp"}


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def query(p: Point | None, user_zone: str, **fields: object) -> MatchQuery:
    return MatchQuery(point=p, user_zone=user_zone, window=WEEK, **fields)  # type: ignore[arg-type]


def ids(matches: list[Match]) -> list[str]:
    return [m.supplier.id for m in matches]


def an_id(supplier_id: str, start: datetime, minutes: int) -> str:
    return slot_id(supplier_id=supplier_id, slot=Slot(start, start + timedelta(minutes=minutes)))


# Filters


def test_specialty_filter(catalog: Catalog) -> None:
    found = catalog.match(query(LONDON, "Europe/London", specialties={"dermatology"}), now=NOW)
    assert ids(found) == ["kathmandu-derm"]


def test_specialty_filter_matches_any_of_several(catalog: Catalog) -> None:
    wanted = frozenset({"dermatology", "mental_health"})
    found = catalog.match(query(LONDON, "Europe/London", specialties=wanted), now=NOW)
    assert set(ids(found)) == {"kathmandu-derm", "auckland-psych"}


def test_language_filter(catalog: Catalog) -> None:
    found = catalog.match(query(LONDON, "Europe/London", languages={"zh"}), now=NOW)
    assert ids(found) == ["beijing-clinic"]


def test_language_filter_with_a_nearby_supplier(catalog: Catalog) -> None:
    found = catalog.match(query(NEW_YORK, "America/New_York", languages={"es"}), now=NOW)
    assert ids(found) == ["ny-night"]


def test_no_supplier_matches_an_unknown_specialty(catalog: Catalog) -> None:
    found = catalog.match(query(LONDON, "Europe/London", specialties={"astrology"}), now=NOW)
    assert found == []


# Reach: in person within the radius, home visits inside the area, remote anywhere


@pytest.mark.parametrize(
    ("lng", "served"),
    [(-179.9, True), (179.5, True), (178.0, False)],
    ids=["east of 180", "west of 180", "outside the area"],
)
def test_home_visit_area_across_the_antimeridian(
    catalog: Catalog, lng: float, served: bool
) -> None:
    """fiji-nurse's polygon runs from lng 179 to 181.5, i.e. across 180 to -178.5."""
    home = frozenset({Modality.HOME_VISIT})
    found = catalog.match(query(Point(-17.2, lng), "Pacific/Fiji", modalities=home), now=NOW)
    assert ("fiji-nurse" in ids(found)) is served


def test_home_visit_match_names_its_modality(catalog: Catalog) -> None:
    home = frozenset({Modality.HOME_VISIT})
    (found,) = catalog.match(query(Point(-17.2, -179.9), "Pacific/Fiji", modalities=home), now=NOW)
    assert found.modalities == frozenset({Modality.HOME_VISIT})


@pytest.mark.parametrize(
    ("user", "served"),
    [(Point(-89.95, 100.0), True), (Point(-89.99, -80.0), True), (Point(-89.5, 100.0), False)],
)
def test_home_visit_area_around_the_south_pole(user: Point, served: bool) -> None:
    """A 20 km area round Amundsen-Scott station holds the pole and every longitude near it."""
    station = Point(lat=-89.9975, lng=139.2728)
    nurse = Supplier(
        id="pole-nurse",
        name="Pole Nursing",
        specialties=("nursing",),
        languages=("en",),
        modalities=frozenset({Modality.HOME_VISIT}),
        timezone="Antarctica/McMurdo",
        location=station,
        availability=Availability(weekly=(WeeklyRule(frozenset(range(7)), 540, 720, 60),)),
        service_area=circle(station, radius_km=20.0),
    )
    home = frozenset({Modality.HOME_VISIT})
    found = Catalog([nurse]).match(query(user, "Antarctica/McMurdo", modalities=home), now=NOW)
    assert (ids(found) == ["pole-nurse"]) is served


def test_in_person_only_within_the_radius(catalog: Catalog) -> None:
    in_person = frozenset({Modality.IN_PERSON})
    near = catalog.match(query(APIA, "Pacific/Apia", modalities=in_person), now=NOW)
    far = catalog.match(query(APIA, "Pacific/Apia", modalities=in_person, radius_km=200), now=NOW)
    assert ids(near) == ["apia-gp"]
    assert ids(far) == ["apia-gp", "pago-gp"]  # 125 km away


def test_in_person_match_across_the_antimeridian(catalog: Catalog) -> None:
    """Lakeba (-178.8) is 190 km from a user at 179.5: the search box must wrap."""
    in_person = frozenset({Modality.IN_PERSON})
    user = Point(-17.2, 179.5)
    found = catalog.match(query(user, "Pacific/Fiji", modalities=in_person, radius_km=250), now=NOW)
    assert ids(found) == ["lau-clinic"]


def test_modalities_filter_remote_only(catalog: Catalog) -> None:
    remote = frozenset({Modality.REMOTE})
    found = catalog.match(query(LONDON, "Europe/London", modalities=remote), now=NOW)
    assert set(ids(found)) == REMOTE_ONLY
    assert all(m.modalities == remote for m in found)


def test_modalities_filter_in_person_only(catalog: Catalog) -> None:
    in_person = frozenset({Modality.IN_PERSON})
    found = catalog.match(query(LONDON, "Europe/London", modalities=in_person), now=NOW)
    assert [(m.supplier.id, m.modalities) for m in found] == [("london-gp", in_person)]


def test_supplier_reached_two_ways_names_both(catalog: Catalog) -> None:
    found = catalog.match(query(LOS_ANGELES, "America/Los_Angeles"), now=NOW)[0]
    assert found.supplier.id == "la-peds"
    assert found.modalities == frozenset({Modality.IN_PERSON, Modality.HOME_VISIT})


def test_user_known_only_by_country_gets_remote_suppliers(catalog: Catalog) -> None:
    found = catalog.match(query(None, "Asia/Kathmandu"), now=NOW)
    assert set(ids(found)) == REMOTE_ONLY
    assert all(m.modalities == frozenset({Modality.REMOTE}) for m in found)


# Ranking and slot counts


def test_by_distance_puts_nearby_suppliers_before_remote_only_ones(catalog: Catalog) -> None:
    found = catalog.match(query(LONDON, "Europe/London"), now=NOW)
    nearby = [bool(m.modalities & {Modality.IN_PERSON, Modality.HOME_VISIT}) for m in found]
    assert nearby == sorted(nearby, reverse=True)
    assert ids(found)[0] == "london-gp"
    assert set(ids(found)[1:]) == REMOTE_ONLY - {"london-gp"}


@pytest.mark.parametrize(
    ("user", "expected"),
    [(APIA, ["apia-gp", "pago-gp"]), (PAGO_PAGO, ["pago-gp", "apia-gp"])],
    ids=["from Apia", "from Pago Pago"],
)
def test_by_distance_orders_nearby_suppliers_nearest_first(
    catalog: Catalog, user: Point, expected: list[str]
) -> None:
    in_person = frozenset({Modality.IN_PERSON})
    q = query(user, "Pacific/Apia", modalities=in_person, radius_km=200)
    found = catalog.match(q, now=NOW)
    assert ids(found) == expected
    assert [m.distance_km for m in found] == sorted(m.distance_km for m in found)


def test_by_earliest_slot_sorts_by_first_slot(catalog: Catalog) -> None:
    found = catalog.match(query(LONDON, "Europe/London", order=Order.BY_EARLIEST_SLOT), now=NOW)
    firsts = [m.slots[0].start for m in found]
    assert len(found) > 2
    assert firsts == sorted(firsts)


@pytest.mark.parametrize("max_slots", [1, 2, 10])
def test_max_slots_is_respected(catalog: Catalog, max_slots: int) -> None:
    found = catalog.match(query(LONDON, "Europe/London", max_slots=max_slots), now=NOW)
    assert found
    assert all(1 <= len(m.slots) <= max_slots for m in found)
    assert len(found[0].slots) == max_slots  # london-gp has dozens this week


def test_slots_are_in_order_inside_the_window_and_after_notice(catalog: Catalog) -> None:
    for m in catalog.match(query(LONDON, "Europe/London", max_slots=100), now=NOW):
        starts = [s.start for s in m.slots]
        assert starts == sorted(starts)
        assert all(WEEK.start <= s < WEEK.end for s in starts)
        assert all(s >= NOW + m.supplier.availability.min_notice for s in starts)


def test_local_hours_keep_only_slots_the_user_can_attend(catalog: Catalog) -> None:
    hours = LocalHours(start_minute=9 * 60, end_minute=10 * 60)
    q = query(LONDON, "Europe/London", local_hours=hours, max_slots=100)
    for m in catalog.match(q, now=NOW):
        assert all(s.start.astimezone(zone("Europe/London")).hour == 9 for s in m.slots), m


def test_slots_for_an_unknown_supplier_is_not_found(catalog: Catalog) -> None:
    with pytest.raises(NotFound):
        catalog.slots_for("nobody", user_zone="UTC", window=WEEK, now=NOW)


# check(): CheckSlots semantics


def test_fresh_slot_id_from_a_match_is_bookable(catalog: Catalog) -> None:
    (first, *_) = catalog.match(query(LONDON, "Europe/London"), now=NOW)
    checks = catalog.check([s.slot_id for s in first.slots], now=NOW)
    assert [c.status for c in checks] == [SlotStatus.BOOKABLE] * len(first.slots)
    assert all(c.bookable for c in checks)


def test_slot_starting_exactly_now_is_bookable_as_match_lists_it(catalog: Catalog) -> None:
    """At NOW, Monday 12:00 in London, Match lists london-gp's 12:00 slot: it can be booked."""
    (first, *_) = catalog.match(query(LONDON, "Europe/London"), now=NOW)
    assert first.slots[0].start == NOW
    (check,) = catalog.check([first.slots[0].slot_id], now=NOW)
    assert check.status is SlotStatus.BOOKABLE


def test_slot_in_the_past_is_past(catalog: Catalog) -> None:
    last_monday = an_id("london-gp", utc(2027, 2, 22, 9, 0), 30)  # offered, a week ago
    (check,) = catalog.check([last_monday], now=NOW)
    assert check.status is SlotStatus.PAST
    assert not check.bookable


def test_slot_inside_the_minimum_notice_is_too_soon(catalog: Catalog) -> None:
    """auckland-psych needs 120 minutes; its Monday 08:00 NZDT slot is 2027-03-07 19:00Z."""
    monday = an_id("auckland-psych", utc(2027, 3, 7, 19, 0), 60)
    (soon,) = catalog.check([monday], now=utc(2027, 3, 7, 17, 0, 1))
    (in_time,) = catalog.check([monday], now=utc(2027, 3, 7, 17, 0))
    assert soon.status is SlotStatus.TOO_SOON
    assert "120" in soon.reason
    assert in_time.status is SlotStatus.BOOKABLE


@pytest.mark.parametrize(
    ("supplier_id", "start", "minutes"),
    [
        ("london-gp", utc(2027, 3, 6, 10, 0), 30),  # a Saturday
        ("london-gp", utc(2027, 3, 8, 9, 15), 30),  # between two slots
        ("london-gp", utc(2027, 3, 8, 9, 0), 45),  # the wrong length
        ("london-gp", utc(2027, 3, 8, 17, 0), 30),  # after hours
        ("ny-night", utc(2027, 11, 7, 6, 30), 30),  # 01:30 EST, the repeat of the fold
        ("ny-night", utc(2027, 11, 7, 6, 0), 30),  # 01:00 EST, likewise
    ],
)
def test_well_formed_id_for_a_slot_not_offered(
    catalog: Catalog, supplier_id: str, start: datetime, minutes: int
) -> None:
    (check,) = catalog.check([an_id(supplier_id, start, minutes)], now=NOW)
    assert check.status is SlotStatus.NOT_OFFERED


def test_first_occurrence_of_a_fold_wall_time_is_offered(catalog: Catalog) -> None:
    (check,) = catalog.check([an_id("ny-night", utc(2027, 11, 7, 5, 30), 30)], now=NOW)
    assert check.status is SlotStatus.BOOKABLE


def test_unknown_supplier(catalog: Catalog) -> None:
    (check,) = catalog.check([an_id("nobody", utc(2027, 3, 8, 9, 0), 30)], now=NOW)
    assert check.status is SlotStatus.UNKNOWN_SUPPLIER


@pytest.mark.parametrize("text", ["", "garbage", "s1_", "s1_!!!!", "s2_bG9uZG9uLWdw"])
def test_garbage_is_malformed(catalog: Catalog, text: str) -> None:
    (check,) = catalog.check([text], now=NOW)
    assert (check.slot_id, check.status) == (text, SlotStatus.MALFORMED_ID)


def test_exactly_one_answer_per_id_in_order_with_duplicates(catalog: Catalog) -> None:
    good = an_id("london-gp", utc(2027, 3, 8, 9, 0), 30)
    past = an_id("london-gp", utc(2027, 2, 22, 9, 0), 30)
    unknown = an_id("nobody", utc(2027, 3, 8, 9, 0), 30)
    asked = [good, "garbage", past, good, unknown, "garbage", good]
    checks = catalog.check(asked, now=NOW)
    assert [c.slot_id for c in checks] == asked
    assert [c.status for c in checks] == [
        SlotStatus.BOOKABLE,
        SlotStatus.MALFORMED_ID,
        SlotStatus.PAST,
        SlotStatus.BOOKABLE,
        SlotStatus.UNKNOWN_SUPPLIER,
        SlotStatus.MALFORMED_ID,
        SlotStatus.BOOKABLE,
    ]


def test_no_ids_no_answers(catalog: Catalog) -> None:
    assert catalog.check([], now=NOW) == []


# A caller that stops waiting


def test_match_stops_working_once_the_caller_has_gone(catalog: Catalog) -> None:
    """Asked before each candidate: the answer 'no' ends the work with Abandoned."""
    asked = []

    def wanted() -> bool:
        asked.append(True)
        return len(asked) <= 2

    with pytest.raises(Abandoned):
        catalog.match(
            query(LOS_ANGELES, "America/Los_Angeles"), now=NOW, budget=Budget(wanted=wanted)
        )
    assert len(asked) == 3


def test_a_caller_still_waiting_gets_the_whole_answer(catalog: Catalog) -> None:
    everything = catalog.match(query(LOS_ANGELES, "America/Los_Angeles"), now=NOW)
    assert (
        catalog.match(query(LOS_ANGELES, "America/Los_Angeles"), now=NOW, budget=Budget())
        == everything
    )


# Bounded work


def test_match_examines_no_more_candidates_than_its_budget(catalog: Catalog) -> None:
    everything = catalog.match(query(LOS_ANGELES, "America/Los_Angeles"), now=NOW)
    budget = Budget(candidates=2)
    capped = catalog.match(query(LOS_ANGELES, "America/Los_Angeles"), now=NOW, budget=budget)
    assert len(everything) > 2
    assert capped == everything[:2]  # the first two, as they would have come anyway
    assert budget.exhausted


def test_match_expands_no_more_slots_than_its_budget(catalog: Catalog) -> None:
    budget = Budget(slots=3)
    capped = catalog.match(query(LOS_ANGELES, "America/Los_Angeles"), now=NOW, budget=budget)
    assert sum(len(m.slots) for m in capped) <= 3
    assert budget.exhausted


def test_a_budget_never_reached_is_not_exhausted(catalog: Catalog) -> None:
    budget = Budget(candidates=10_000, slots=1_000_000)
    catalog.match(query(LOS_ANGELES, "America/Los_Angeles"), now=NOW, budget=budget)
    assert not budget.exhausted


def test_listing_slots_stops_at_the_slot_budget(catalog: Catalog) -> None:
    budget = Budget(slots=5)
    _, slots = catalog.slots_for(
        "london-gp", user_zone="UTC", window=WEEK, now=NOW, max_slots=100, budget=budget
    )
    assert len(slots) == 5
    assert budget.exhausted
