"""`icc.ops.v1.DeadLetterService`: the dead letters for a supervisor, over gRPC.

Who may call is the service's policy (`policy.py`: the center's supervisors and on-call
engineers); the caller's name, from its certificate (or the gateway's assertion), goes
into the audit of each replay and discard.
"""

import re

from google.protobuf import struct_pb2

from icc.ops.v1 import dead_letter_service_pb2 as pb
from icc.ops.v1 import dead_letter_service_pb2_grpc as pb_grpc
from icc_kernel.errors import InvalidInput
from icc_ops.deadletters import MAX_PAGE, DeadLetter, DeadLetterQueue
from icc_ops.payloads import Undecodable, decode
from icc_rpc import Context
from icc_rpc.authz import scope
from icc_rpc.convert import decode_page_token, encode_page_token, timestamp

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["DeadLetterService"].full_name
add_servicer = pb_grpc.add_DeadLetterServiceServicer_to_server
DEFAULT_PAGE = 100
# The kind of page token ListDeadLetters hands out (bound to the consumer listed).
LIST = "ListDeadLetters"
# A durable consumer's name as NATS allows it in a subject token.
_CONSUMER = re.compile(r"^[A-Za-z0-9_-]{1,100}$")


def sequence_of(name: str, field: str = "name") -> int:
    """`deadLetters/42` (or `42`) as 42. ASCII digits only: `isdigit()` also takes "²",
    which `int()` does not."""
    text = name.strip().removeprefix("deadLetters/")
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) < 1:
        raise InvalidInput.one(field, "expected deadLetters/{sequence}, a positive number")
    return int(text)


def to_proto(letter: DeadLetter, *, with_event: bool = False) -> pb.DeadLetter:
    out = pb.DeadLetter(
        name=letter.name,
        consumer=letter.consumer,
        subject=letter.subject,
        reason=letter.reason,
        delivery_count=letter.deliveries,
        first_failure_time=timestamp(letter.first_failure),
        last_failure_time=timestamp(letter.last_failure),
        event_id=letter.event_id,
        event_type=letter.event_type,
        replays=letter.replays,
        stream_sequence=letter.stream_sequence,
    )
    if with_event:
        try:
            event = struct_pb2.Struct()
            event.update(decode(letter.event_type, letter.payload))
            out.event.CopyFrom(event)
        except Undecodable as exc:
            out.decode_error = str(exc)
    return out


class DeadLetterApi(pb_grpc.DeadLetterServiceServicer):
    def __init__(self, queue: DeadLetterQueue) -> None:
        self._queue = queue

    async def ListDeadLetters(
        self, request: pb.ListDeadLettersRequest, context: Context
    ) -> pb.ListDeadLettersResponse:
        if request.consumer and not _CONSUMER.match(request.consumer):
            raise InvalidInput.one("consumer", "a durable consumer's name, like dispatch-incidents")
        if not 0 <= request.page_size <= MAX_PAGE:
            raise InvalidInput.one("page_size", f"between 1 and {MAX_PAGE} (0: {DEFAULT_PAGE})")
        after = 0
        if request.page_token:
            page = decode_page_token(request.page_token, LIST, scope=request.consumer)
            after = page.number(0)
        size = request.page_size or DEFAULT_PAGE
        letters = await self._queue.list(request.consumer, after, limit=size)
        token = ""
        if len(letters) == size:
            token = encode_page_token(LIST, (letters[-1].sequence,), scope=request.consumer)
        return pb.ListDeadLettersResponse(
            dead_letters=[to_proto(letter) for letter in letters], next_page_token=token
        )

    async def GetDeadLetter(
        self, request: pb.GetDeadLetterRequest, context: Context
    ) -> pb.GetDeadLetterResponse:
        letter = await self._queue.get(sequence_of(request.name))
        return pb.GetDeadLetterResponse(dead_letter=to_proto(letter, with_event=True))

    async def ReplayDeadLetter(
        self, request: pb.ReplayDeadLetterRequest, context: Context
    ) -> pb.ReplayDeadLetterResponse:
        sequence = sequence_of(request.name)
        letter, _ = await self._queue.replay(sequence, _supervisor(context))
        return pb.ReplayDeadLetterResponse(dead_letter=to_proto(letter))

    async def DiscardDeadLetter(
        self, request: pb.DiscardDeadLetterRequest, context: Context
    ) -> pb.DiscardDeadLetterResponse:
        sequence = sequence_of(request.name)
        reason = request.reason.strip()
        if not 1 <= len(reason) <= 500:
            raise InvalidInput.one("reason", "say why it is dropped, in 1 to 500 characters")
        letter = await self._queue.discard(sequence, _supervisor(context), reason)
        return pb.DiscardDeadLetterResponse(dead_letter=to_proto(letter))


def _supervisor(context: Context) -> str:
    """The caller's name, for the audit (the policy let only operators in)."""
    return f"{scope().principal.name} (rpc)"
