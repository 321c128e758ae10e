"""Names, request ids, etags, errors and percentiles."""

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import ClassVar

import pytest

from icc_kernel.clock import as_utc
from icc_kernel.errors import InvalidInput, NotFound, StaleEtag, Unavailable, Violation
from icc_kernel.etags import etag_of, version_of
from icc_kernel.names import Named, id_of, listed_violations, name_of, parse_name
from icc_kernel.requests import request_id_violations
from icc_kernel.stats import percentile


def test_names_round_trip_and_refuse_other_collections() -> None:
    assert parse_name(name_of("units", "U-1"), "units", "unit") == "U-1"
    assert id_of("incidents/abc") == "abc"
    for bad in ["", "units/", "incidents/x", "units/a/b", "units/" + "x" * 65]:
        with pytest.raises(InvalidInput) as err:
            parse_name(bad, "units", "unit")
        assert err.value.violations[0].field == "unit"


def test_request_ids() -> None:
    assert request_id_violations("") == []
    assert request_id_violations("115-call:2026.11.24_0001") == []
    assert request_id_violations("a b")[0].field == "request_id"
    assert "64" in request_id_violations("x" * 65, "req")[0].description
    assert request_id_violations("²") != []


def test_etags_name_versions_and_garbage_names_none() -> None:
    assert etag_of(7) == 'W/"7"'
    assert version_of(etag_of(12)) == 12
    for garbage in ["", 'W/""', "W/x", "²", "9" * 40, 'W/"-1"']:
        assert version_of(garbage) is None


def test_errors_say_what_to_do() -> None:
    assert str(InvalidInput([Violation("a", "b"), Violation("c", "d")])) == "a: b; c: d"
    assert InvalidInput.one("f", "bad").violations == [Violation("f", "bad")]
    assert NotFound("units/U1").name == "units/U1"
    assert "read it again" in str(StaleEtag("incidents/1", 'W/"1"', 'W/"2"'))
    assert str(Unavailable({"units/b": "is busy", "units/a": "is out"})) == (
        "nothing reserved: units/a is out; units/b is busy"
    )


def test_percentile_is_nearest_rank() -> None:
    assert percentile([3, 1, 2], 50) == 2
    assert percentile(list(range(1, 11)), 50) == 5
    assert percentile(list(range(1, 101)), 99) == 99
    assert percentile([5], 0) == 5
    with pytest.raises(ValueError, match="empty"):
        percentile([], 50)


def test_listed_things_are_some_few_and_each_once() -> None:
    assert listed_violations(["a", "b"], "units", "unit", 2) == []
    assert [v.description for v in listed_violations([], "units", "unit", 2)] == [
        "name at least one unit"
    ]
    assert [v.description for v in listed_violations(["a", "b", "a"], "units", "unit", 2)] == [
        "at most 2 units per request",
        "a unit is named twice",
    ]


def test_a_stored_time_comes_back_aware_in_utc() -> None:
    naive = datetime(2026, 12, 1, 8, 0)
    assert as_utc(naive) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    saigon = datetime(2026, 12, 1, 15, 0, tzinfo=timezone(timedelta(hours=7)))
    assert as_utc(saigon) is saigon


def test_a_named_record_has_its_resource_name_and_etag() -> None:
    @dataclass(frozen=True)
    class Thing(Named):
        COLLECTION: ClassVar[str] = "things"

        id: str
        version: int = 1

    thing = Thing("t1")
    assert (thing.name, thing.etag) == ("things/t1", 'W/"1"')
    assert replace(thing, version=2).etag == 'W/"2"'
