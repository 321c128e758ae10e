"""The audit of personal data: every answer that returned an incident's personal data,
and every change to an incident, recorded append-only: who called (the certificate), on
whose behalf (the person the gateway vouched for), which incident, which fields, when,
through which RPC. Records name fields, never their values.

Changes are recorded in the transaction of the change itself; reads before their answer
is sent (a read that cannot be recorded is not answered). Personal data of incidents
ended more than the retention period ago is erased (`erasable`), and the erasure is
recorded too."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from icc_incidents.domain.lifecycle import Change
from icc_kernel.actors import Actor
from icc_kernel.vocabulary import Agency


class AuditAction(StrEnum):
    READ = "read"
    CHANGE = "change"
    ERASE = "erase"


# What an incident holds that is personal (convert.incident_to_proto shows it only to
# callers with the right to personal data), by the field's name in the API.
PERSONAL_FIELDS = ("caller", "additional_callers", "notes", "answers")
# Who the retention of personal data is recorded as.
RETENTION = Actor("retention", Agency.COMMAND_CENTER, "system")


@dataclass(frozen=True)
class AuditRecord:
    incident_id: str
    time: datetime
    action: AuditAction
    # The RPC's short name; "" for a change from a bus event or the retention.
    rpc: str
    fields: tuple[str, ...]
    # The certificate's name, and the person the gateway acted for ("" if none).
    caller: str
    person: str
    agency: Agency
    role: str
    # Assigned by the store, increasing; 0 before it is stored.
    sequence: int = 0


def record(
    incident_id: str,
    action: AuditAction,
    rpc: str,
    fields: Iterable[str],
    actor: Actor,
    now: datetime,
) -> AuditRecord:
    """A record of `actor`'s call: a person's actor names the system they came through
    (`via`, the gateway's SPIFFE ID), whose certificate name is its last segment."""
    if actor.via:
        caller, person = actor.via.rstrip("/").rpartition("/")[2], actor.user
    else:
        caller, person = actor.user, ""
    return AuditRecord(
        incident_id, now, action, rpc, tuple(fields), caller, person, actor.agency, actor.role
    )


def changed_fields(change: Change) -> tuple[str, ...]:
    """What a change set, by the API's field names (no values)."""
    if change.action == "created":
        i = change.incident
        given = ["type_code", "priority", "location", "agencies", "description"]
        if i.caller.name or i.caller.phone:
            given.append("caller")
        return tuple(given)
    if change.action == "note_added":
        return ("notes",)
    if change.fields:
        # Another caller is counted on the incident and recorded beside it.
        return tuple("additional_callers" if f == "caller_count" else f for f in change.fields)
    if change.action in ("closed", "cancelled"):
        return ("state", "resolution")
    if change.action == "merged":
        return ("state", "merged_into")
    return ("state",) if change.action == "state_changed" else (change.action,)
