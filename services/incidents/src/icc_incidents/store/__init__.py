"""The incidents service's rows (SQLAlchemy Core): the tables, and the reads and writes the
use cases make on a transaction's connection, by concern:

- `tables`: the tables, with the outbox and the inbox;
- `rows`: an incident as a row and back (`intake_rows`: what intake found, as JSON), and
  who did something as the three columns `tables.actor_columns` declares;
- `records`: incidents, their notes and further callers; the inbox's claim of an event;
- `trail`: the chronology and the audit of personal data, append-only;
- `retention`: ended incidents' personal data found and erased;
- `links`: calls transferred in as EIDO documents, and merged incidents.

The use cases import this package (`store.load`, `store.append_change`, ...), not its modules.
"""

from icc_incidents.store.links import absorbed_into, add_link, find_link, links_of, touch_link
from icc_incidents.store.records import (
    add_notes,
    claim_event,
    find_by_request_id,
    insert_incident,
    insert_note,
    list_incidents,
    load,
    save_incident,
    submit_insert,
)
from icc_incidents.store.retention import ended_with_personal_data, erase_personal_data
from icc_incidents.store.rows import actor_from, actor_values, incident_from_row
from icc_incidents.store.tables import (
    audit,
    callers,
    cautions,
    chronology,
    eido_links,
    inbox,
    incidents,
    metadata,
    notes,
    outbox,
)
from icc_incidents.store.trail import (
    append_audit,
    append_change,
    append_chronology,
    list_audit,
    list_chronology,
)

__all__ = [
    "absorbed_into",
    "actor_from",
    "actor_values",
    "add_link",
    "add_notes",
    "append_audit",
    "append_change",
    "append_chronology",
    "audit",
    "callers",
    "cautions",
    "chronology",
    "claim_event",
    "eido_links",
    "ended_with_personal_data",
    "erase_personal_data",
    "find_by_request_id",
    "find_link",
    "inbox",
    "incident_from_row",
    "incidents",
    "insert_incident",
    "insert_note",
    "links_of",
    "list_audit",
    "list_chronology",
    "list_incidents",
    "load",
    "metadata",
    "notes",
    "outbox",
    "save_incident",
    "submit_insert",
    "touch_link",
]
