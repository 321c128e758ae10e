"""Pure call-taking rules: who may be a duplicate and when, phone numbers as compared,
what the key questions' answers call for, the default line."""

from datetime import timedelta

import pytest

from icc_city.geo import Point, offset
from icc_incidents.domain.duplicates import CallFacts, DuplicateRules, find, phone_key
from icc_incidents.domain.lines import default_line
from icc_incidents.domain.model import KeyAnswer
from icc_kernel.actors import Actor
from icc_kernel.vocabulary import Agency, CallLine, DuplicateReason, IncidentState, Priority

from .test_domain import NOW, RULES, new

MARKET = Point(10.7725, 106.698)
FAMILY_OF = {t.code: t.family for t in RULES.catalog.all()}
RULE = DuplicateRules()


@pytest.mark.parametrize(
    ("phone", "key"),
    [
        ("+84 901 234 567", "901234567"),
        ("0901234567", "901234567"),
        ("84901234567", "901234567"),
        ("090-123-4567", "901234567"),
        ("113", ""),
        ("", ""),
    ],
)
def test_phone_numbers_are_compared_without_country_code_or_trunk_zero(
    phone: str, key: str
) -> None:
    assert phone_key(phone) == key


def test_an_incident_is_a_candidate_while_open_or_ended_within_the_window() -> None:
    fire = new()  # FIRE.STRUCTURE at the market, created at NOW
    call = CallFacts(offset(MARKET, 50, 0), "FIRE_RESCUE")

    def found(incident: object, later: timedelta) -> list[tuple[DuplicateReason, ...]]:
        hits = find(call, [incident], frozenset(), family_of=FAMILY_OF, now=NOW + later, rules=RULE)  # type: ignore[list-item]
        return [d.reasons for d in hits]

    assert found(fire, timedelta(minutes=9)) == [(DuplicateReason.NEARBY,)]
    assert found(fire, timedelta(minutes=11)) == []  # open, but quiet for longer
    worked = fire.bumped(NOW + timedelta(minutes=30))  # a unit's progress, another caller
    assert found(worked, timedelta(minutes=35)) == [(DuplicateReason.NEARBY,)]
    closed = fire.bumped(NOW, state=IncidentState.CLOSED, close_time=NOW)
    assert found(closed, timedelta(minutes=9)) == [(DuplicateReason.NEARBY,)]
    assert found(closed, timedelta(minutes=11)) == []
    merged = fire.bumped(NOW, state=IncidentState.MERGED, close_time=NOW)
    assert found(merged, timedelta(minutes=1)) == []
    far = CallFacts(offset(MARKET, 150, 0), "FIRE_RESCUE")
    assert find(far, [fire], frozenset(), family_of=FAMILY_OF, now=NOW, rules=RULE) == ()
    later = NOW + timedelta(hours=3)
    by_phone = find(far, [fire], frozenset({fire.id}), family_of=FAMILY_OF, now=later, rules=RULE)
    assert [d.reasons for d in by_phone] == [(DuplicateReason.SAME_PHONE,)]  # open: any age


def test_the_most_urgent_answer_sets_the_priority_and_the_last_type_wins() -> None:
    q = RULES.questions
    both = q.outcome([KeyAnswer("medical.breathing", "no"), KeyAnswer("medical.conscious", "no")])
    assert both.priority is Priority.P1
    assert both.type_code == "MEDICAL.CARDIAC_ARREST"  # breathing is asked after conscious
    assert len(both.instructions) == 2
    calmer = q.outcome([KeyAnswer("police.ongoing", "no")])
    assert calmer.priority is Priority.P3  # lowers a P2 snatch theft
    assert q.outcome([]).priority is None


def test_questions_are_asked_by_family_and_type() -> None:
    q = RULES.questions
    assert [x.id for x in q.for_type("TRAFFIC.COLLISION_NO_INJURY")][:1] == ["traffic.injured"]
    assert "traffic.injured" not in [x.id for x in q.for_type("TRAFFIC.SINKHOLE")]
    assert q.for_type("NOPE") == ()


@pytest.mark.parametrize(
    ("actor", "line"),
    [
        (Actor("a", Agency.POLICE, "call-taker"), CallLine.POLICE_113),
        (Actor("a", Agency.FIRE, "call-taker"), CallLine.FIRE_114),
        (Actor("a", Agency.MEDICAL, "call-taker"), CallLine.MEDICAL_115),
        (Actor("a", Agency.COMMAND_CENTER, "call-taker"), CallLine.EMERGENCY_112),
        (Actor("a", Agency.MEDICAL, "partner"), CallLine.PARTNER),
        (Actor("a", Agency.UTILITY, ""), CallLine.OTHER),
    ],
)
def test_the_line_defaults_to_the_call_takers(actor: Actor, line: CallLine) -> None:
    assert default_line(actor) is line
