"""Match filters that cannot silently miss, and ListFilterValues, through the real gRPC API.

A specialty or language is matched whatever its case and through the synonyms of
data/specialties.json; an unknown one is INVALID_ARGUMENT naming it with the closest known
values, never an empty OK.
"""

from __future__ import annotations

import grpc
import pytest
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from matcher_api.v1 import matcher_pb2 as pb
from tests.integration.helpers import bad_fields, match, window

LONDON = (51.5136, -0.1365)
WEEK = window("2027-03-01T00:00:00Z", "2027-03-08T00:00:00Z")


def found(stub, **filters) -> set[str]:
    """The ids of every supplier a Match from London finds with these filters, remote included."""
    response = match(stub, LONDON, window=WEEK, page_size=100, **filters)
    return {m.supplier.id for m in response.matches}


def violations(error: grpc.RpcError) -> dict[str, str]:
    """An INVALID_ARGUMENT's field violations, field to description."""
    bad_fields(error)  # asserts the status code
    status = rpc_status.from_call(error)
    assert status is not None
    described = {}
    for detail in status.details:
        request = error_details_pb2.BadRequest()
        if detail.Unpack(request):
            described.update({v.field: v.description for v in request.field_violations})
    return described


@pytest.mark.parametrize(
    ("filters", "same_as"),
    [
        ({"specialties": ["Dermatology"]}, {"specialties": ["dermatology"]}),
        ({"specialties": ["DERMATOLOGY"]}, {"specialties": ["dermatology"]}),
        ({"specialties": ["gp"]}, {"specialties": ["general_practice"]}),
        ({"specialties": ["General Practice"]}, {"specialties": ["general_practice"]}),
        ({"specialties": ["psychiatry"]}, {"specialties": ["mental_health"]}),
        ({"languages": ["EN"]}, {"languages": ["en"]}),
        ({"languages": ["Zh"]}, {"languages": ["zh"]}),
    ],
    ids=["capitalised", "upper case", "gp", "spaced", "a synonym", "EN", "Zh"],
)
def test_a_filter_matches_whatever_its_case_or_synonym(stub, filters, same_as):
    expected = found(stub, **same_as)
    assert expected  # the canonical filter finds someone, so the comparison means something
    assert found(stub, **filters) == expected


def test_filters_find_what_the_tiny_feed_holds(stub):
    assert found(stub, specialties=["dermatology"]) == {"kathmandu-derm"}
    assert found(stub, languages=["ne"]) == {"kathmandu-derm"}
    assert "london-gp" in found(stub, specialties=["GP"], languages=["EN"])


@pytest.mark.parametrize(
    ("filters", "field", "description"),
    [
        (
            {"specialties": ["dermatolgy"]},
            "specialties[0]",
            "must be a known specialty (ListFilterValues lists those served), got 'dermatolgy';"
            " did you mean 'dermatology'?",
        ),
        (
            {"specialties": ["cardio"]},
            "specialties[0]",
            "got 'cardio'; did you mean 'cardiology'?",
        ),
        (
            {"specialties": ["xyz"]},
            "specialties[0]",
            "got 'xyz'; known: cardiology, dentistry, dermatology, general_practice,",
        ),
        (
            {"languages": ["German"]},
            "languages[0]",
            "must be a known language code (ListFilterValues lists those served), got 'German';"
            " did you mean 'de'?",
        ),
        ({"languages": ["en-GB"]}, "languages[0]", "got 'en-GB'; did you mean 'en'?"),
        ({"languages": ["eng"]}, "languages[0]", "got 'eng'; did you mean 'en'?"),
        ({"languages": ["xx"]}, "languages[0]", "must be a known language code"),
    ],
    ids=["misspelt", "shortened", "unknown", "a language name", "a region tag", "ISO 639-2", "xx"],
)
def test_an_unknown_value_is_invalid_argument_naming_it_with_the_closest(
    stub, filters, field, description
):
    with pytest.raises(grpc.RpcError) as caught:
        match(stub, LONDON, **filters)
    described = violations(caught.value)
    assert list(described) == [field]
    assert description in described[field]


def test_every_unknown_value_is_named_and_the_known_ones_are_not(stub):
    with pytest.raises(grpc.RpcError) as caught:
        match(stub, LONDON, specialties=["dermatology", "dentistr"], languages=["Nepali", "en"])
    assert violations(caught.value) == {
        "specialties[1]": "must be a known specialty (ListFilterValues lists those served),"
        " got 'dentistr'; did you mean 'dentistry'?",
        "languages[0]": "must be a known language code (ListFilterValues lists those served),"
        " got 'Nepali'; did you mean 'ne'?",
    }


def test_list_filter_values_counts_what_the_catalogue_serves(stub):
    response = stub.ListFilterValues(pb.ListFilterValuesRequest(), timeout=10)
    specialties = [(v.value, v.label, v.suppliers) for v in response.specialties]
    assert specialties == [
        ("general_practice", "General practice", 7),
        ("nursing", "Nursing", 2),
        ("dermatology", "Dermatology", 1),
        ("mental_health", "Mental health", 1),
        ("pediatrics", "Pediatrics", 1),
    ]
    languages = {v.value: (v.label, v.suppliers) for v in response.languages}
    assert languages["en"] == ("English", 12)
    assert languages["ne"] == ("Nepali (macrolanguage)", 1)
    assert [v.suppliers for v in response.languages] == sorted(
        (v.suppliers for v in response.languages), reverse=True
    )


def test_every_listed_value_is_one_match_accepts_and_finds(stub):
    response = stub.ListFilterValues(pb.ListFilterValuesRequest(), timeout=10)
    for value in response.specialties:
        assert found(stub, specialties=[value.value]) is not None  # accepted: no error
    assert found(stub, specialties=[response.specialties[0].value])
