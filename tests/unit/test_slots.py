"""Availability in wall time → slot instants, DST policy, local hours, slot ids and rendering."""

from __future__ import annotations

import base64
import string
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matcher.engine.slot_ids import SlotRef, parse_slot_id, slot_id
from matcher.model import (
    Availability,
    LocalHours,
    OneOff,
    RenderedSlot,
    Slot,
    WeeklyRule,
    Window,
    minute_of_day,
)
from tests.engine_slots import expand, render
from tests.reference_slots import instant_of

PROPERTY = settings(max_examples=200, deadline=None)
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
EVERY_DAY = frozenset(range(7))

NEW_YORK = ZoneInfo("America/New_York")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
LONDON = ZoneInfo("Europe/London")
BEIJING = ZoneInfo("Asia/Shanghai")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
AUCKLAND = ZoneInfo("Pacific/Auckland")
APIA = ZoneInfo("Pacific/Apia")
PAGO_PAGO = ZoneInfo("Pacific/Pago_Pago")
KATHMANDU = ZoneInfo("Asia/Kathmandu")

#: Zones whose clocks do awkward things: half-hour DST, :45 offsets, ±14 h, skipped days,
#: DST in the southern summer, DST changes at midnight, no DST at all.
TRICKY_ZONES = (
    "America/New_York",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "America/Havana",
    "America/Santiago",
    "America/St_Johns",
    "America/Phoenix",
    "Europe/London",
    "Europe/Dublin",
    "Asia/Kathmandu",
    "Asia/Kolkata",
    "Asia/Tehran",
    "Asia/Beirut",
    "Australia/Lord_Howe",
    "Australia/Adelaide",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "Pacific/Fiji",
    "Antarctica/Troll",
    "UTC",
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def rule(days: frozenset[int] | set[int], start: str, end: str, minutes: int) -> WeeklyRule:
    start_minute, end_minute = minute_of_day(start), minute_of_day(end)
    assert start_minute is not None and end_minute is not None
    return WeeklyRule(
        days=frozenset(days), start_minute=start_minute, end_minute=end_minute, slot_minutes=minutes
    )


def local_day(day: date, tz: ZoneInfo) -> Window:
    """A window wide enough to hold every instant of one local date."""
    start = datetime.combine(day, time(), tzinfo=tz) - timedelta(hours=3)
    return Window(start=start.astimezone(UTC), end=(start + timedelta(hours=30)).astimezone(UTC))


def slots_on(
    availability: Availability, tz: ZoneInfo, day: date, *, not_before: datetime | None = None
) -> list[Slot]:
    """The slots whose local start falls on one date."""
    window = local_day(day, tz)
    found = expand(availability, tz=tz, window=window, not_before=not_before or window.start)
    return [s for s in found if s.start.astimezone(tz).date() == day]


def starts(slots: list[Slot]) -> list[datetime]:
    return [s.start for s in slots]


# expand(): weekly rules, windows, closures, notice


def test_weekly_rule_lays_slots_back_to_back() -> None:
    availability = Availability(weekly=(rule({MON}, "09:00", "11:00", 30),))
    found = slots_on(availability, LONDON, date(2027, 3, 1))
    assert [(s.start, s.end) for s in found] == [
        (utc(2027, 3, 1, 9, 0), utc(2027, 3, 1, 9, 30)),
        (utc(2027, 3, 1, 9, 30), utc(2027, 3, 1, 10, 0)),
        (utc(2027, 3, 1, 10, 0), utc(2027, 3, 1, 10, 30)),
        (utc(2027, 3, 1, 10, 30), utc(2027, 3, 1, 11, 0)),
    ]


def test_weekly_rule_yields_only_whole_slots() -> None:
    """09:00-12:00 by 50 minutes is 09:00, 09:50, 10:40; an 11:30 slot would end after 12:00."""
    availability = Availability(weekly=(rule({MON}, "09:00", "12:00", 50),))
    found = slots_on(availability, LONDON, date(2027, 3, 1))
    assert starts(found) == [utc(2027, 3, 1, 9, 0), utc(2027, 3, 1, 9, 50), utc(2027, 3, 1, 10, 40)]


def test_weekly_rule_only_on_its_days() -> None:
    availability = Availability(weekly=(rule({MON}, "09:00", "10:00", 60),))
    week = Window(start=utc(2027, 3, 1), end=utc(2027, 3, 8))
    found = expand(availability, tz=LONDON, window=week, not_before=week.start)
    assert starts(found) == [utc(2027, 3, 1, 9, 0)]


def test_weekly_rule_ending_at_24_00_fills_the_day() -> None:
    availability = Availability(weekly=(rule({MON}, "22:00", "24:00", 60),))
    found = slots_on(availability, LONDON, date(2027, 3, 1))
    assert starts(found) == [utc(2027, 3, 1, 22, 0), utc(2027, 3, 1, 23, 0)]


def test_window_is_half_open() -> None:
    """A slot starting exactly at window.start is in; one starting exactly at window.end is out."""
    availability = Availability(weekly=(rule({MON}, "09:00", "12:00", 60),))
    window = Window(start=utc(2027, 3, 1, 9, 0), end=utc(2027, 3, 1, 11, 0))
    found = expand(availability, tz=LONDON, window=window, not_before=window.start)
    assert starts(found) == [utc(2027, 3, 1, 9, 0), utc(2027, 3, 1, 10, 0)]


def test_slot_straddling_window_start_is_excluded() -> None:
    availability = Availability(weekly=(rule({MON}, "09:00", "12:00", 60),))
    window = Window(start=utc(2027, 3, 1, 9, 30), end=utc(2027, 3, 1, 12, 0))
    found = expand(availability, tz=LONDON, window=window, not_before=window.start)
    assert starts(found) == [utc(2027, 3, 1, 10, 0), utc(2027, 3, 1, 11, 0)]


def test_empty_window_yields_nothing() -> None:
    availability = Availability(weekly=(rule(EVERY_DAY, "00:00", "24:00", 30),))
    window = Window(start=utc(2027, 3, 1, 9, 0), end=utc(2027, 3, 1, 9, 0))
    assert expand(availability, tz=LONDON, window=window, not_before=window.start) == []


def test_closed_date_removes_weekly_and_one_off_slots_that_day() -> None:
    availability = Availability(
        weekly=(rule({MON, TUE}, "09:00", "10:00", 60),),
        one_off=(OneOff(start=datetime(2027, 3, 1, 15, 0), minutes=30),),
        closed=frozenset({date(2027, 3, 1)}),
    )
    window = Window(start=utc(2027, 3, 1), end=utc(2027, 3, 3))
    found = expand(availability, tz=LONDON, window=window, not_before=window.start)
    assert starts(found) == [utc(2027, 3, 2, 9, 0)]


def test_closed_date_is_the_suppliers_local_date() -> None:
    """Closing Tuesday in Auckland removes its 08:00 slot, which is Monday 19:00 in UTC."""
    availability = Availability(
        weekly=(rule({MON, TUE}, "08:00", "09:00", 60),), closed=frozenset({date(2027, 3, 2)})
    )
    window = Window(start=utc(2027, 2, 28), end=utc(2027, 3, 3))
    found = expand(availability, tz=AUCKLAND, window=window, not_before=window.start)
    assert starts(found) == [utc(2027, 2, 28, 19, 0)]  # Monday 2027-03-01 08:00 NZDT


def test_not_before_drops_earlier_slots() -> None:
    availability = Availability(weekly=(rule({MON}, "09:00", "12:00", 60),))
    window = Window(start=utc(2027, 3, 1), end=utc(2027, 3, 2))
    found = expand(availability, tz=LONDON, window=window, not_before=utc(2027, 3, 1, 10, 0))
    assert starts(found) == [utc(2027, 3, 1, 10, 0), utc(2027, 3, 1, 11, 0)]


def test_one_off_identical_to_a_weekly_slot_is_listed_once() -> None:
    availability = Availability(
        weekly=(rule({MON}, "09:00", "10:00", 60),),
        one_off=(OneOff(start=datetime(2027, 3, 1, 9, 0), minutes=60),),
    )
    found = slots_on(availability, LONDON, date(2027, 3, 1))
    assert found == [Slot(start=utc(2027, 3, 1, 9, 0), end=utc(2027, 3, 1, 10, 0))]


def test_one_off_outside_the_window_is_not_listed() -> None:
    availability = Availability(one_off=(OneOff(start=datetime(2027, 3, 9, 9, 0), minutes=60),))
    window = Window(start=utc(2027, 3, 1), end=utc(2027, 3, 8))
    assert expand(availability, tz=LONDON, window=window, not_before=window.start) == []


# expand(): daylight-saving policy


NY_NIGHT = Availability(weekly=(rule({SUN}, "00:00", "04:00", 30),))


def test_spring_forward_gap_wall_times_yield_no_slot() -> None:
    """On 2027-03-14 New York has no 02:00 or 02:30: 01:30 EST is followed by 03:00 EDT."""
    found = slots_on(NY_NIGHT, NEW_YORK, date(2027, 3, 14))
    assert [s.start.astimezone(NEW_YORK).strftime("%H:%M %Z") for s in found] == [
        "00:00 EST",
        "00:30 EST",
        "01:00 EST",
        "01:30 EST",
        "03:00 EDT",
        "03:30 EDT",
    ]


def test_slot_before_the_gap_ends_after_it_in_real_minutes() -> None:
    """01:30 EST + 30 minutes is 03:00 EDT, 07:00Z."""
    found = slots_on(NY_NIGHT, NEW_YORK, date(2027, 3, 14))
    slot = next(s for s in found if s.start == utc(2027, 3, 14, 6, 30))
    assert slot.end == utc(2027, 3, 14, 7, 0)
    assert slot.end.astimezone(NEW_YORK).strftime("%H:%M %Z") == "03:00 EDT"


def test_one_off_in_the_gap_yields_no_slot() -> None:
    availability = Availability(one_off=(OneOff(start=datetime(2027, 3, 14, 2, 30), minutes=30),))
    assert slots_on(availability, NEW_YORK, date(2027, 3, 14)) == []


def test_fall_back_fold_wall_times_yield_one_slot_at_first_occurrence() -> None:
    """01:00 and 01:30 happen twice on 2027-11-07; only the EDT ones (05:00Z, 05:30Z) are sold."""
    found = starts(slots_on(NY_NIGHT, NEW_YORK, date(2027, 11, 7)))
    assert found == [
        utc(2027, 11, 7, 4, 0),  # 00:00 EDT
        utc(2027, 11, 7, 4, 30),  # 00:30 EDT
        utc(2027, 11, 7, 5, 0),  # 01:00 EDT
        utc(2027, 11, 7, 5, 30),  # 01:30 EDT
        utc(2027, 11, 7, 7, 0),  # 02:00 EST
        utc(2027, 11, 7, 7, 30),
        utc(2027, 11, 7, 8, 0),
        utc(2027, 11, 7, 8, 30),
    ]
    assert utc(2027, 11, 7, 6, 0) not in found  # 01:00 EST, the repeat
    assert utc(2027, 11, 7, 6, 30) not in found  # 01:30 EST, the repeat


def test_slot_across_the_fold_ends_in_real_minutes() -> None:
    """A 30-minute slot at 01:45 EDT ends at 01:15 EST (05:45Z to 06:15Z)."""
    availability = Availability(one_off=(OneOff(start=datetime(2027, 11, 7, 1, 45), minutes=30),))
    (slot,) = slots_on(availability, NEW_YORK, date(2027, 11, 7))
    assert (slot.start, slot.end) == (utc(2027, 11, 7, 5, 45), utc(2027, 11, 7, 6, 15))
    assert slot.end.astimezone(NEW_YORK).strftime("%H:%M %Z") == "01:15 EST"
    assert slot.minutes == 30


def test_lord_howe_half_hour_fall_back() -> None:
    """Lord Howe's DST ends 2027-04-04 02:00 (+11) = 15:00Z, back to 01:30 (+10:30).

    01:30-02:00 happens twice; the 01:30 slot is sold once, at +11, and the next slot is 02:00
    +10:30 at 15:30Z: nothing starts at 15:00Z, the repeat of 01:30.
    """
    availability = Availability(weekly=(rule({SUN}, "01:00", "03:00", 30),))
    found = slots_on(availability, LORD_HOWE, date(2027, 4, 4))
    assert [(s.start, s.end) for s in found] == [
        (utc(2027, 4, 3, 14, 0), utc(2027, 4, 3, 14, 30)),  # 01:00 +11
        (utc(2027, 4, 3, 14, 30), utc(2027, 4, 3, 15, 0)),  # 01:30 +11, ends 01:30 +10:30
        (utc(2027, 4, 3, 15, 30), utc(2027, 4, 3, 16, 0)),  # 02:00 +10:30
        (utc(2027, 4, 3, 16, 0), utc(2027, 4, 3, 16, 30)),  # 02:30 +10:30
    ]


def test_lord_howe_half_hour_spring_forward_gap() -> None:
    """On 2026-10-04 Lord Howe jumps from 02:00 (+10:30) to 02:30 (+11): no 02:00 slot."""
    availability = Availability(weekly=(rule({SUN}, "01:00", "03:30", 30),))
    found = slots_on(availability, LORD_HOWE, date(2026, 10, 4))
    assert [s.start.astimezone(LORD_HOWE).strftime("%H:%M") for s in found] == [
        "01:00",
        "01:30",
        "02:30",
        "03:00",
    ]
    assert found[1].end == found[2].start  # 01:30 + 30 real minutes is 02:30 (+11)


# instant_of()


@pytest.mark.parametrize(
    ("wall", "tz", "expected"),
    [
        (datetime(2027, 3, 14, 1, 59), NEW_YORK, utc(2027, 3, 14, 6, 59)),
        (datetime(2027, 3, 14, 2, 0), NEW_YORK, None),
        (datetime(2027, 3, 14, 2, 59), NEW_YORK, None),
        (datetime(2027, 3, 14, 3, 0), NEW_YORK, utc(2027, 3, 14, 7, 0)),
        (datetime(2027, 11, 7, 1, 0), NEW_YORK, utc(2027, 11, 7, 5, 0)),
        (datetime(2027, 11, 7, 1, 59), NEW_YORK, utc(2027, 11, 7, 5, 59)),
        (datetime(2027, 11, 7, 2, 0), NEW_YORK, utc(2027, 11, 7, 7, 0)),
        (datetime(2027, 4, 4, 1, 45), LORD_HOWE, utc(2027, 4, 3, 14, 45)),
        (datetime(2026, 10, 4, 2, 15), LORD_HOWE, None),
        (datetime(2011, 12, 30, 12, 0), APIA, None),  # Samoa skipped the whole day
        (datetime(2027, 1, 15, 12, 0), KATHMANDU, utc(2027, 1, 15, 6, 15)),
    ],
)
def test_instant_of_wall_time(wall: datetime, tz: ZoneInfo, expected: datetime | None) -> None:
    """None in a gap, the first occurrence in a fold, the one instant otherwise."""
    assert instant_of(wall, tz) == expected


# LocalHours and minute_of_day()


@pytest.mark.parametrize(
    ("start", "end", "clock", "admitted"),
    [
        ("09:00", "17:00", "09:00", True),
        ("09:00", "17:00", "16:59", True),
        ("09:00", "17:00", "17:00", False),
        ("09:00", "17:00", "08:59", False),
        ("22:00", "06:00", "22:00", True),
        ("22:00", "06:00", "23:59", True),
        ("22:00", "06:00", "00:00", True),
        ("22:00", "06:00", "05:59", True),
        ("22:00", "06:00", "06:00", False),
        ("22:00", "06:00", "12:00", False),
        ("00:00", "24:00", "00:00", True),
        ("00:00", "24:00", "23:59", True),
    ],
)
def test_local_hours_admits(start: str, end: str, clock: str, admitted: bool) -> None:
    """Start inclusive, end exclusive; an end before the start wraps past midnight."""
    start_minute, end_minute = minute_of_day(start), minute_of_day(end)
    assert start_minute is not None and end_minute is not None
    hours = LocalHours(start_minute=start_minute, end_minute=end_minute)
    local = datetime.combine(date(2027, 3, 1), time.fromisoformat(clock), tzinfo=LONDON)
    assert hours.admits(local) is admitted


@pytest.mark.parametrize(
    ("text", "minute"),
    [
        ("00:00", 0),
        ("09:30", 570),
        ("23:59", 1439),
        ("24:00", 1440),
        ("9:00", None),
        ("24:01", None),
        ("25:00", None),
        ("12:60", None),
        ("09:00\n", None),
        (" 09:00", None),
        ("0900", None),
        ("09:00:00", None),
        ("", None),
        (
            "\u0660\u0669:\u0660\u0660",
            None,
        ),  # Arabic-Indic digits are digits to Python, not to a feed
    ],
)
def test_minute_of_day(text: str, minute: int | None) -> None:
    assert minute_of_day(text) == minute


# slot ids

A_SLOT = Slot(start=utc(2027, 3, 8, 9, 0), end=utc(2027, 3, 8, 9, 30))


def test_slot_id_round_trips() -> None:
    ref = parse_slot_id(slot_id(supplier_id="london-gp", slot=A_SLOT))
    assert ref == SlotRef(supplier_id="london-gp", start=A_SLOT.start, minutes=30)


def test_slot_id_is_stable() -> None:
    """The same slot always gets the same id, whatever zone its instants are written in."""
    same = Slot(start=A_SLOT.start.astimezone(AUCKLAND), end=A_SLOT.end.astimezone(AUCKLAND))
    assert slot_id(supplier_id="x", slot=A_SLOT) == slot_id(supplier_id="x", slot=A_SLOT)
    assert slot_id(supplier_id="x", slot=A_SLOT) == slot_id(supplier_id="x", slot=same)


def test_slot_ids_differ_by_supplier_start_and_length() -> None:
    later = Slot(start=A_SLOT.start + timedelta(minutes=30), end=A_SLOT.end + timedelta(minutes=30))
    longer = Slot(start=A_SLOT.start, end=A_SLOT.end + timedelta(minutes=30))
    ids = {
        slot_id(supplier_id="a", slot=A_SLOT),
        slot_id(supplier_id="b", slot=A_SLOT),
        slot_id(supplier_id="a", slot=later),
        slot_id(supplier_id="a", slot=longer),
    }
    assert len(ids) == 4


def test_slot_id_is_url_safe() -> None:
    text = slot_id(supplier_id="ü/+?&=|", slot=A_SLOT)
    assert set(text) <= set(string.ascii_letters + string.digits + "-_")
    assert parse_slot_id(text) == SlotRef(supplier_id="ü/+?&=|", start=A_SLOT.start, minutes=30)


def forged(raw: str) -> str:
    """An id spelled like ours around a body we chose."""
    return "s1_" + base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "s1_",
        "garbage",
        "s2_" + slot_id(supplier_id="x", slot=A_SLOT)[3:],
        "S1_" + slot_id(supplier_id="x", slot=A_SLOT)[3:],
        "s1_!!!!",
        "s1_a",
        "s1_" + "\u00e9" * 8,
        forged("x|1804496400"),  # no length
        forged("|1804496400|30"),  # no supplier
        forged("x|1804496400|-30"),  # negative minutes
        forged("x|1804496400|0"),
        forged("x|tomorrow|30"),
        forged("x|99999999999999999999|30"),  # beyond datetime
        forged("x|1804496400| 30"),  # another spelling of a real slot
        forged("x|1_804_496_400|30"),
        forged("x|+1804496400|30"),
        slot_id(supplier_id="x", slot=A_SLOT) + "=",
        slot_id(supplier_id="x", slot=A_SLOT)[:3] + "!" + slot_id(supplier_id="x", slot=A_SLOT)[3:],
    ],
)
def test_parse_slot_id_refuses_what_was_not_issued(text: str) -> None:
    assert parse_slot_id(text) is None


@PROPERTY
@given(text=st.text())
def test_parse_slot_id_of_random_text_is_none_or_canonical(text: str) -> None:
    """Whatever parses is exactly the id this service would issue for that slot."""
    ref = parse_slot_id(text)
    if ref is not None:
        slot = Slot(start=ref.start, end=ref.start + timedelta(minutes=ref.minutes))
        assert slot_id(supplier_id=ref.supplier_id, slot=slot) == text


@PROPERTY
@given(text=st.text(alphabet=string.ascii_letters + string.digits + "-_=", max_size=40))
def test_parse_slot_id_of_random_base64_is_none_or_canonical(text: str) -> None:
    ref = parse_slot_id("s1_" + text)
    if ref is not None:
        slot = Slot(start=ref.start, end=ref.start + timedelta(minutes=ref.minutes))
        assert slot_id(supplier_id=ref.supplier_id, slot=slot) == "s1_" + text


# render()


def rendered(
    start: datetime, supplier_tz: ZoneInfo, user_tz: ZoneInfo, minutes: int = 60
) -> RenderedSlot:
    slot = Slot(start=start, end=start + timedelta(minutes=minutes))
    return render(slot, supplier_id="s", supplier_tz=supplier_tz, user_tz=user_tz)


@pytest.mark.parametrize(
    ("start", "supplier_tz", "user_tz", "difference", "day_shift"),
    [
        # Beijing (+8) for a Los Angeles user: PST until 2027-03-14 10:00Z, PDT from then.
        (utc(2027, 3, 14, 9, 30), BEIJING, LOS_ANGELES, 960, 0),
        (utc(2027, 3, 14, 10, 0), BEIJING, LOS_ANGELES, 900, 0),
        (utc(2027, 3, 14, 1, 0), BEIJING, LOS_ANGELES, 960, 1),  # Sun 09:00 is Sat 17:00 PST
        # Auckland Monday 09:00 NZDT is Sunday 12:00 PST in Los Angeles.
        (utc(2027, 2, 28, 20, 0), AUCKLAND, LOS_ANGELES, 1260, 1),
        # Apia and Pago Pago share a wall clock a day apart.
        (utc(2027, 2, 28, 20, 0), APIA, PAGO_PAGO, 1440, 1),
        (utc(2027, 2, 28, 20, 0), PAGO_PAGO, APIA, -1440, -1),
        # Kathmandu (+5:45) for a London user: GMT in winter, BST in summer.
        (utc(2027, 1, 15, 6, 0), KATHMANDU, LONDON, 345, 0),
        (utc(2027, 7, 15, 6, 0), KATHMANDU, LONDON, 285, 0),
        (utc(2027, 7, 15, 6, 0), LONDON, LONDON, 0, 0),
    ],
)
def test_render_offset_difference_and_day_shift(
    start: datetime, supplier_tz: ZoneInfo, user_tz: ZoneInfo, difference: int, day_shift: int
) -> None:
    """Supplier offset minus user offset at this slot's instant, and supplier date minus user's."""
    shown = rendered(start, supplier_tz, user_tz)
    assert (shown.offset_difference_minutes, shown.day_shift) == (difference, day_shift)


def test_render_auckland_monday_morning_is_los_angeles_sunday() -> None:
    shown = rendered(utc(2027, 2, 28, 20, 0), AUCKLAND, LOS_ANGELES)
    assert datetime.fromisoformat(shown.supplier_local_start).strftime("%a %H:%M") == "Mon 09:00"
    assert datetime.fromisoformat(shown.user_local_start).strftime("%a %H:%M") == "Sun 12:00"
    assert shown.offset_difference_minutes > 12 * 60


def test_render_apia_and_pago_pago_show_the_same_wall_clock() -> None:
    shown = rendered(utc(2027, 2, 28, 20, 0), APIA, PAGO_PAGO)
    assert shown.supplier_local_start[:19] == "2027-03-01T09:00:00"
    assert shown.user_local_start[:19] == "2027-02-28T09:00:00"


@pytest.mark.parametrize(
    ("supplier_tz", "user_tz"),
    [(BEIJING, LOS_ANGELES), (KATHMANDU, LONDON), (APIA, PAGO_PAGO), (LORD_HOWE, NEW_YORK)],
)
def test_rendered_local_starts_parse_back_to_the_instant(
    supplier_tz: ZoneInfo, user_tz: ZoneInfo
) -> None:
    start = utc(2027, 4, 3, 14, 30)
    shown = rendered(start, supplier_tz, user_tz, minutes=30)
    assert datetime.fromisoformat(shown.user_local_start) == start
    assert datetime.fromisoformat(shown.supplier_local_start) == start
    assert (shown.start, shown.end) == (start, start + timedelta(minutes=30))
    assert parse_slot_id(shown.slot_id) == SlotRef(supplier_id="s", start=start, minutes=30)


# expand(): invariants over random zones, rules and windows

wall_minutes = st.integers(min_value=0, max_value=1439)


@st.composite
def weekly_rules(draw: st.DrawFn) -> WeeklyRule:
    start = draw(wall_minutes)
    end = draw(st.integers(min_value=start + 1, max_value=1440))
    return WeeklyRule(
        days=frozenset(draw(st.sets(st.integers(0, 6), min_size=1))),
        start_minute=start,
        end_minute=end,
        slot_minutes=draw(st.integers(min_value=5, max_value=240)),
    )


def next_change(tz: ZoneInfo, *, after: datetime) -> datetime | None:
    """The first instant within a year after ``after`` at which the zone's offset changes."""
    offset = after.astimezone(tz).utcoffset()
    days = (after + timedelta(days=d) for d in range(1, 367))
    hi = next((day for day in days if day.astimezone(tz).utcoffset() != offset), None)
    if hi is None:
        return None
    lo = hi - timedelta(days=1)
    while hi - lo > timedelta(minutes=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == offset:
            lo = mid
        else:
            hi = mid
    return hi.replace(second=0, microsecond=0)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Availability, ZoneInfo, Window, datetime]:
    tz = ZoneInfo(draw(st.sampled_from(TRICKY_ZONES)))
    start = draw(
        st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2035, 12, 31))
    ).replace(tzinfo=UTC, second=0, microsecond=0)
    change = next_change(tz, after=start)
    if change is not None and draw(st.booleans()):  # half the windows hold a clock change
        start = change - draw(st.timedeltas(timedelta(0), timedelta(days=3)))
    window = Window(start=start, end=start + draw(st.timedeltas(timedelta(0), timedelta(days=31))))
    not_before = start + draw(st.timedeltas(timedelta(days=-2), timedelta(days=2)))
    near_window = st.datetimes(
        min_value=(start - timedelta(days=2)).replace(tzinfo=None),
        max_value=(window.end + timedelta(days=2)).replace(tzinfo=None),
    ).map(lambda wall: wall.replace(second=0, microsecond=0))
    one_offs = draw(
        st.lists(st.builds(OneOff, start=near_window, minutes=st.integers(5, 240)), max_size=4)
    )
    closed = draw(st.sets(near_window.map(lambda wall: wall.date()), max_size=4))
    availability = Availability(
        weekly=tuple(draw(st.lists(weekly_rules(), max_size=3))),
        one_off=tuple(one_offs),
        closed=frozenset(closed),
    )
    return availability, tz, window, not_before


def offered_by(availability: Availability, wall: datetime, minutes: int) -> bool:
    """Whether a local wall start and length is one the availability lists."""
    minute = wall.hour * 60 + wall.minute
    by_rule = any(
        wall.weekday() in r.days
        and r.slot_minutes == minutes
        and r.start_minute <= minute <= r.end_minute - r.slot_minutes
        and (minute - r.start_minute) % r.slot_minutes == 0
        for r in availability.weekly
    )
    by_one_off = any(o.start == wall and o.minutes == minutes for o in availability.one_off)
    return by_rule or by_one_off


@PROPERTY
@given(case=cases())
def test_expanded_slots_are_sorted_unique_and_in_the_window(
    case: tuple[Availability, ZoneInfo, Window, datetime],
) -> None:
    availability, tz, window, not_before = case
    found = expand(availability, tz=tz, window=window, not_before=not_before)
    assert found == sorted(set(found))
    for slot in found:
        assert window.start <= slot.start < window.end
        assert slot.start >= not_before
        assert slot.start.second == 0 and slot.start.microsecond == 0


@PROPERTY
@given(case=cases())
def test_expanded_slots_start_at_offered_wall_times_on_open_dates(
    case: tuple[Availability, ZoneInfo, Window, datetime],
) -> None:
    availability, tz, window, not_before = case
    for slot in expand(availability, tz=tz, window=window, not_before=not_before):
        wall = slot.start.astimezone(tz)
        assert wall.fold == 0, "a repeated wall time is sold at its first occurrence only"
        assert wall.date() not in availability.closed
        assert offered_by(availability, wall.replace(tzinfo=None), slot.minutes)


@PROPERTY
@given(case=cases())
def test_every_offered_wall_time_that_exists_is_expanded(
    case: tuple[Availability, ZoneInfo, Window, datetime],
) -> None:
    """Nothing offered is lost: each rule and one-off wall time that happens yields its slot."""
    availability, tz, window, not_before = case
    found = set(expand(availability, tz=tz, window=window, not_before=not_before))
    floor = max(window.start, not_before)
    walls = [(o.start, o.minutes) for o in availability.one_off]
    day = (window.start.astimezone(tz) - timedelta(days=1)).date()
    while day <= (window.end.astimezone(tz) + timedelta(days=1)).date():
        midnight = datetime.combine(day, time())
        for r in availability.weekly:
            if day.weekday() in r.days:
                for minute in range(
                    r.start_minute, r.end_minute - r.slot_minutes + 1, r.slot_minutes
                ):
                    walls.append((midnight + timedelta(minutes=minute), r.slot_minutes))
        day += timedelta(days=1)
    for wall, minutes in walls:
        instant = instant_of(wall, tz)
        if instant is None or wall.date() in availability.closed:
            continue
        if floor <= instant < window.end:
            assert Slot(start=instant, end=instant + timedelta(minutes=minutes)) in found
