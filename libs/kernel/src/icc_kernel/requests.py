"""Request ids: the idempotency key of every create or reserve call."""

import re

from icc_kernel.errors import Violation

MAX_REQUEST_ID = 64
# Letters, digits and . _ : - (safe in a resource name, a log line and a NATS subject token).
REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]+$")


def request_id_violations(value: str, field: str = "request_id") -> list[Violation]:
    """What is wrong with a request id; an empty id is allowed (the caller decides)."""
    if len(value) > MAX_REQUEST_ID:
        return [Violation(field, f"at most {MAX_REQUEST_ID} characters")]
    if value and not REQUEST_ID.match(value):
        return [Violation(field, "letters, digits and . _ : - only")]
    return []
