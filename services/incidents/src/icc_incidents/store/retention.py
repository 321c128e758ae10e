"""Retention of personal data: the ended incidents that still hold some, and its erasure
(the incident's facts stay)."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from icc_incidents.audit import PERSONAL_FIELDS
from icc_incidents.store.tables import callers, incidents, notes
from icc_kernel.vocabulary import IncidentState

# Ended incidents: their personal data may go once the retention period has passed.
_ENDED = (int(IncidentState.CLOSED), int(IncidentState.CANCELLED), int(IncidentState.MERGED))


async def ended_with_personal_data(
    conn: AsyncConnection, ended_before: datetime, limit: int
) -> list[tuple[str, tuple[str, ...]]]:
    """Incidents that ended before `ended_before` and still hold personal data, with
    the personal fields each holds, oldest first."""
    t = incidents
    has_notes = select(notes.c.id).where(notes.c.incident_id == t.c.id, notes.c.text != "")
    has_callers = select(callers.c.id).where(
        callers.c.incident_id == t.c.id, or_(callers.c.name != "", callers.c.phone != "")
    )
    rows = (
        await conn.execute(
            select(
                t.c.id,
                or_(t.c.caller_name != "", t.c.caller_phone != "").label("caller"),
                has_callers.exists().label("additional_callers"),
                has_notes.exists().label("notes"),
                (t.c.answers != "[]").label("answers"),
            )
            .where(
                t.c.state.in_(_ENDED),
                t.c.close_time.is_not(None),
                t.c.close_time < ended_before,
                or_(
                    t.c.caller_name != "",
                    t.c.caller_phone != "",
                    t.c.answers != "[]",
                    has_notes.exists(),
                    has_callers.exists(),
                ),
            )
            .order_by(t.c.close_time, t.c.id)
            .limit(limit)
        )
    ).all()
    return [(r.id, tuple(f for f in PERSONAL_FIELDS if getattr(r, f))) for r in rows]


async def erase_personal_data(conn: AsyncConnection, incident_ids: Sequence[str]) -> None:
    """Callers' names and phones, note texts and answers to key questions of these
    incidents emptied; everything else (type, priority, place, times, units, the
    chronology's coded facts) stays."""
    if not incident_ids:
        return
    ids = list(incident_ids)
    await conn.execute(
        update(incidents)
        .where(incidents.c.id.in_(ids))
        .values(caller_name="", caller_phone="", caller_phone_key="", answers="[]")
    )
    await conn.execute(
        update(callers)
        .where(callers.c.incident_id.in_(ids))
        .values(name="", phone="", phone_key="")
    )
    await conn.execute(update(notes).where(notes.c.incident_id.in_(ids)).values(text=""))
