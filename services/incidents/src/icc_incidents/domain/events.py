"""What the incidents service announces, in the domain's words: one event per change.

Use cases return them; `icc_incidents.events` turns each into its protobuf event on
the outbox (the subject is `icc.incident.<action>`)."""

from dataclasses import dataclass
from datetime import datetime

from icc_incidents.domain.lifecycle import Change
from icc_incidents.domain.model import Incident
from icc_kernel.actors import Actor


@dataclass(frozen=True)
class IncidentChanged:
    """`change` (the incident as it now is, and what happened to it), by whom and when."""

    change: Change
    actor: Actor
    time: datetime
    # note_added: the new note's name (never its text: notes may hold medical details).
    note: str = ""
    # merged: the incident folded into `change.incident`.
    duplicate: Incident | None = None
