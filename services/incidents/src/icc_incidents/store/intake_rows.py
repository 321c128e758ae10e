"""What intake found (possible duplicates, cautions, history) as the JSON column of an
incident's row, and back. Nothing here is personal data: duplicates name incidents and
reasons, never a phone."""

import json
from datetime import datetime
from typing import Any

from icc_incidents.domain.lifecycle import Findings
from icc_incidents.domain.model import (
    Caution,
    Incident,
    Location,
    PlaceHistory,
    PossibleDuplicate,
)
from icc_kernel.actors import Actor
from icc_kernel.vocabulary import Agency, CautionKind, DuplicateReason, IncidentState


def caution_json(c: Caution) -> dict[str, Any]:
    return {
        "id": c.id,
        "kind": int(c.kind),
        "text": c.text,
        "at": [c.location.lat, c.location.lon, c.location.address, c.location.ward],
        "radius_m": c.radius_m,
        "until": c.valid_until.isoformat(),
        "by": [c.created_by.user, int(c.created_by.agency), c.created_by.role],
        "created": c.create_time.isoformat(),
    }


def caution_from(d: dict[str, Any]) -> Caution:
    lat, lon, address, ward = d["at"]
    user, agency, role = d["by"]
    return Caution(
        id=d["id"],
        kind=CautionKind(d["kind"]),
        text=d["text"],
        location=Location(lat, lon, address, ward),
        radius_m=d["radius_m"],
        valid_until=datetime.fromisoformat(d["until"]),
        created_by=Actor(user, Agency(agency), role),
        create_time=datetime.fromisoformat(d["created"]),
    )


def intake_json(i: Incident) -> str:
    if not (i.possible_duplicates or i.cautions or i.history):
        return "{}"
    return json.dumps(
        {
            "duplicates": [
                {
                    "incident": d.incident,
                    "reasons": [int(r) for r in d.reasons],
                    "distance_m": d.distance_m,
                    "type_code": d.type_code,
                    "state": int(d.state),
                    "created": d.create_time.isoformat(),
                    "summary": d.summary,
                }
                for d in i.possible_duplicates
            ],
            "cautions": [caution_json(c) for c in i.cautions],
            "history": [[h.family, h.count, h.days] for h in i.history],
        }
    )


def intake_from(text: str) -> Findings:
    if text == "{}":
        return Findings()
    data = json.loads(text)
    return Findings(
        possible_duplicates=tuple(
            PossibleDuplicate(
                incident=d["incident"],
                reasons=tuple(DuplicateReason(r) for r in d["reasons"]),
                distance_m=d["distance_m"],
                type_code=d["type_code"],
                state=IncidentState(d["state"]),
                create_time=datetime.fromisoformat(d["created"]),
                summary=d["summary"],
            )
            for d in data["duplicates"]
        ),
        cautions=tuple(caution_from(c) for c in data["cautions"]),
        history=tuple(PlaceHistory(f, n, days) for f, n, days in data["history"]),
    )
