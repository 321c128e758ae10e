"""The dead letters of every consumer (stream `ICC_DLQ`): listed, read, replayed to the
consumer they came from, or discarded; each replay and discard audited.

A replay publishes the dead letter to its consumer's replay subject (`icc_bus.replay`)
under an id made from the dead letter (so a second replay of it is dropped by the
stream), carrying the event's own id (so the consumer's inbox drops it if the event was
handled after all), records it, then removes the dead letter. Each step is safe to do
again, so a replay cut short by a crash is finished by replaying again.
"""

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from nats.js import JetStreamContext
from nats.js.api import RawStreamMsg
from nats.js.errors import NotFoundError

from icc_bus import DLQ_STREAM, HEADER_EVENT_TYPE, HEADER_MSG_ID, REPLAY_STREAM, ensure_streams
from icc_bus.dlq import (
    DLQ_CONSUMER,
    DLQ_DELIVERIES,
    DLQ_EVENT_ID,
    DLQ_FIRST_FAILURE,
    DLQ_REASON,
    DLQ_STREAM_SEQ,
    DLQ_SUBJECT,
)
from icc_bus.replay import DLQ_REPLAYS, replay_id, replay_subject
from icc_kernel.errors import IllegalTransition, NotFound
from icc_ops.audit import Audit, Record, now

MAX_PAGE = 500


@dataclass(frozen=True)
class DeadLetter:
    sequence: int  # in ICC_DLQ
    consumer: str
    subject: str
    reason: str
    deliveries: int
    first_failure: datetime
    last_failure: datetime
    event_id: str  # "" for a dead letter written before the DLQ kept it
    event_type: str
    replays: int
    stream_sequence: int  # the event's, in its own stream
    payload: bytes
    headers: Mapping[str, str]

    @property
    def name(self) -> str:
        return f"deadLetters/{self.sequence}"

    @classmethod
    def from_raw(cls, raw: RawStreamMsg) -> "DeadLetter":
        headers = {k: str(v) for k, v in (raw.headers or {}).items()}
        written = raw.time or datetime.now(UTC)
        return cls(
            sequence=int(raw.seq or 0),
            consumer=headers.get(DLQ_CONSUMER) or (raw.subject or "").removeprefix("icc.dlq."),
            subject=headers.get(DLQ_SUBJECT, ""),
            reason=headers.get(DLQ_REASON, ""),
            deliveries=_int(headers.get(DLQ_DELIVERIES)),
            first_failure=_time(headers.get(DLQ_FIRST_FAILURE)) or written,
            last_failure=written,
            event_id=headers.get(DLQ_EVENT_ID, ""),
            event_type=headers.get(HEADER_EVENT_TYPE, ""),
            replays=_int(headers.get(DLQ_REPLAYS)),
            stream_sequence=_int(headers.get(DLQ_STREAM_SEQ)),
            payload=raw.data or b"",
            headers=headers,
        )


class Gone(NotFound):
    """No such dead letter (any more): the audit says what became of it, if anything."""

    def __init__(self, sequence: int, last: Record | None) -> None:
        self.last = last
        hint = f"{last.outcome} by {last.who} at {last.at}" if last else "no record of it either"
        super().__init__(f"deadLetters/{sequence}", hint)


class DeadLetterQueue:
    def __init__(self, js: JetStreamContext) -> None:
        self._js = js
        self.audit = Audit(js)

    async def ensure(self, replicas: int = 1) -> None:
        """The streams it reads and writes exist (each service declares them too)."""
        await ensure_streams(self._js, [DLQ_STREAM, REPLAY_STREAM], replicas=replicas)
        await self.audit.ensure(replicas)

    async def list(self, consumer: str = "", after: int = 0, limit: int = 100) -> list[DeadLetter]:
        """Up to `limit` dead letters after sequence `after`, oldest first."""
        subject = f"icc.dlq.{consumer}" if consumer else "icc.dlq.>"
        found: list[DeadLetter] = []
        seq = after + 1
        while len(found) < min(limit, MAX_PAGE):
            try:
                raw = await self._js.get_msg(DLQ_STREAM.name, seq=seq, subject=subject, next=True)
            except NotFoundError:
                break
            found.append(DeadLetter.from_raw(raw))
            seq = int(raw.seq or seq) + 1
        return found

    async def get(self, sequence: int) -> DeadLetter:
        try:
            return DeadLetter.from_raw(await self._js.get_msg(DLQ_STREAM.name, sequence))
        except NotFoundError:
            raise Gone(sequence, await self.audit.last(sequence)) from None

    async def replay(self, sequence: int, who: str) -> tuple[DeadLetter, bool]:
        """Re-delivers the dead letter to its consumer and removes it; True when this call
        delivered it, False when an earlier replay had (the stream dropped the copy)."""
        letter = await self.get(sequence)
        headers = dict(letter.headers)
        headers[DLQ_EVENT_ID] = letter.event_id or await self._original_id(letter)
        headers[DLQ_REPLAYS] = str(letter.replays + 1)
        headers[HEADER_MSG_ID] = replay_id(letter.consumer, sequence)
        ack = await self._js.publish(
            replay_subject(letter.consumer), letter.payload, timeout=5, headers=headers
        )
        delivered = not ack.duplicate
        await self.audit.record(
            _record(letter, who, "replay", "replayed" if delivered else "already replayed")
        )
        await self._remove(sequence)
        return letter, delivered

    async def discard(self, sequence: int, who: str, reason: str) -> DeadLetter:
        letter = await self.get(sequence)
        await self.audit.record(_record(letter, who, "discard", "discarded", reason))
        await self._remove(sequence)
        return letter

    async def _remove(self, sequence: int) -> None:
        with contextlib.suppress(NotFoundError):  # removed by someone else meanwhile
            await self._js.delete_msg(DLQ_STREAM.name, sequence)

    async def _original_id(self, letter: DeadLetter) -> str:
        """The event's id for a dead letter written before the DLQ kept it: read from the
        event itself while its stream still has it. Without it a replay could not be told
        from a new event, so it is refused."""
        try:
            stream = await self._js.find_stream_name_by_subject(letter.subject)
            original = await self._js.get_msg(stream, letter.stream_sequence)
        except NotFoundError:
            original = None
        event_id = ((original.headers or {}) if original else {}).get(HEADER_MSG_ID)
        if not event_id:
            raise IllegalTransition(
                f"{letter.name}: the event's id is unknown (its stream no longer has it), so "
                "a replay could apply it twice; discard it instead"
            )
        return str(event_id)


def _record(letter: DeadLetter, who: str, action: str, outcome: str, reason: str = "") -> Record:
    return Record(
        at=now(),
        who=who,
        action=action,
        dead_letter=letter.sequence,
        consumer=letter.consumer,
        subject=letter.subject,
        event_id=letter.event_id,
        event_type=letter.event_type,
        outcome=outcome,
        reason=reason,
    )


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _time(value: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
