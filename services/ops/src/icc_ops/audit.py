"""What people did to dead letters, in an append-only stream.

`ICC_AUDIT` (`icc.audit.>`) refuses deletes and purges (JetStream's `deny_delete`,
`deny_purge`) and keeps a record 400 days. A dead letter's records are on
`icc.audit.dlq.<sequence>`, so what happened to one is a single lookup (its last record).
A record is JSON: when, who, the action, the dead letter and its event, the outcome.
"""

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from icc_bus import ensure_stream

AUDIT_STREAM = "ICC_AUDIT"
KEEP_DAYS = 400


@dataclass(frozen=True)
class Record:
    at: str  # ISO 8601, UTC
    who: str
    action: str  # replay, discard
    dead_letter: int  # its ICC_DLQ sequence
    consumer: str
    subject: str
    event_id: str
    event_type: str
    outcome: str  # replayed, already replayed, discarded
    reason: str = ""  # a discard's


def audit_subject(dead_letter: int) -> str:
    return f"icc.audit.dlq.{dead_letter}"


def stream_config(replicas: int) -> StreamConfig:
    return StreamConfig(
        name=AUDIT_STREAM,
        description="Who did what to dead letters, and when; append-only",
        subjects=["icc.audit.>"],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        num_replicas=replicas,
        max_age=KEEP_DAYS * 24 * 3600,
        discard=DiscardPolicy.OLD,
        deny_delete=True,
        deny_purge=True,
    )


class Audit:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js

    async def ensure(self, replicas: int = 1) -> None:
        await ensure_stream(self._js, stream_config(replicas))

    async def record(self, record: Record) -> None:
        body = json.dumps(asdict(record), ensure_ascii=False).encode()
        await self._js.publish(audit_subject(record.dead_letter), body, timeout=5)

    async def last(self, dead_letter: int) -> Record | None:
        """The last thing done to a dead letter, if anything was."""
        try:
            raw = await self._js.get_last_msg(AUDIT_STREAM, audit_subject(dead_letter))
        except NotFoundError:
            return None
        return Record(**json.loads(raw.data or b"{}"))

    async def history(self, limit: int = 100) -> list[Record]:
        """The newest `limit` records, oldest first."""
        info = await self._js.stream_info(AUDIT_STREAM)
        first = max(info.state.first_seq, info.state.last_seq - limit + 1)
        records = []
        for seq in range(first, info.state.last_seq + 1) if info.state.messages else ():
            try:
                raw = await self._js.get_msg(AUDIT_STREAM, seq)
            except NotFoundError:
                continue
            records.append(Record(**json.loads(raw.data or b"{}")))
        return records


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
