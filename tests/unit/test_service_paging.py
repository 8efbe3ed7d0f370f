"""Paging through the service layer alone, without a server: tokens bound to the query and the
window fixed by the first page."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from matcher.engine.catalog import Catalog
from matcher.errors import InvalidArgument
from matcher.geo.timezones import TimezoneResolver
from matcher.paging import PageTokens
from matcher.queries import LocationInput, WindowInput
from matcher.service import Matching, MatchInput, MatchPage
from matcher.settings import Limits
from tests.conftest import NOW

LOS_ANGELES = MatchInput(location=LocationInput(lat_lng=(34.05, -118.25)), radius_km=500.0)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def matching(catalog: Catalog, resolver: TimezoneResolver, clock: Clock) -> Matching:
    limits = Limits()
    tokens = PageTokens(b"unit-secret", ttl=limits.page_token_ttl)
    return Matching(
        catalog=lambda: catalog, resolver=resolver, tokens=tokens, limits=limits, clock=clock
    )


def pages(matching: Matching, request: MatchInput) -> list[MatchPage]:
    """Every page of a Match, following the tokens."""
    found = [matching.match(request, wanted=lambda: True)]
    while found[-1].next_page_token:
        following = replace(request, page_token=found[-1].next_page_token)
        found.append(matching.match(following, wanted=lambda: True))
    return found


def ids(page: MatchPage) -> list[str]:
    return [m.supplier.id for m in page.matches]


def test_pages_of_two_cover_the_whole_answer_once_in_order(matching):
    whole = matching.match(replace(LOS_ANGELES, page_size=100), wanted=lambda: True)
    paged = pages(matching, replace(LOS_ANGELES, page_size=2))
    assert len(ids(whole)) > 4  # several pages
    assert [i for page in paged for i in ids(page)] == ids(whole)
    assert all(len(ids(page)) == 2 for page in paged[:-1])
    assert paged[-1].next_page_token == ""


def test_later_pages_keep_the_window_the_first_page_fixed(matching, clock):
    first = matching.match(replace(LOS_ANGELES, page_size=1), wanted=lambda: True)
    clock.now = NOW + timedelta(minutes=30)  # an unset window would now start later
    second = matching.match(
        replace(LOS_ANGELES, page_size=1, page_token=first.next_page_token), wanted=lambda: True
    )
    assert second.window == first.window


@pytest.mark.parametrize(
    "change",
    [
        {"radius_km": 100.0},
        {"specialties": ("dermatology",)},
        {"max_slots_per_supplier": 3},
        {"window": WindowInput(start=NOW + timedelta(days=1))},
        {"location": LocationInput(lat_lng=(34.2, -118.25))},
    ],
)
def test_a_token_works_only_for_the_query_that_issued_it(matching, change):
    token = matching.match(replace(LOS_ANGELES, page_size=1), wanted=lambda: True).next_page_token
    other = replace(LOS_ANGELES, page_size=1, page_token=token, **change)
    with pytest.raises(InvalidArgument) as caught:
        matching.match(other, wanted=lambda: True)
    assert [v.field for v in caught.value.violations] == ["page_token"]


def test_the_page_size_may_change_between_pages(matching):
    """The token holds an offset, not a page number: the next page starts where this one ended."""
    whole = ids(matching.match(replace(LOS_ANGELES, page_size=100), wanted=lambda: True))
    first = matching.match(replace(LOS_ANGELES, page_size=1), wanted=lambda: True)
    rest = matching.match(
        replace(LOS_ANGELES, page_size=3, page_token=first.next_page_token), wanted=lambda: True
    )
    assert ids(first) + ids(rest) == whole[:4]


def test_an_expired_token_is_refused(matching, clock):
    token = matching.match(replace(LOS_ANGELES, page_size=1), wanted=lambda: True).next_page_token
    clock.now = NOW + timedelta(hours=1, seconds=1)
    with pytest.raises(InvalidArgument):
        matching.match(replace(LOS_ANGELES, page_size=1, page_token=token), wanted=lambda: True)
