"""Values a hostile client sends, as hypothesis strategies built from field descriptors.

`Known` holds what a client could have seen in earlier answers (names of records, etags,
type codes, page tokens and cursors, and the request for each next page). `messages`
fills a message of any descriptor: each field plausible five times in six (real names,
coordinates in the city, valid enum numbers), else hostile (huge and non-BMP strings,
NaN and infinities, numbers at and past their bounds, unknown enum numbers, forged
tokens). `next_pages` sends a request a server answered again for its next page, with
the token kept or forged from it.
"""

import base64
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st


@dataclass
class Known:
    """Real values a client could have seen (names of records, etags, type codes, tokens,
    cursors, field names), so that requests get past the first check to what lies behind."""

    names: list[str] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)
    etags: list[str] = field(default_factory=list)
    type_codes: list[str] = field(default_factory=lambda: ["MEDICAL.CARDIAC_ARREST"])
    field_names: list[str] = field(default_factory=list)
    # By method: requests for the page (or the events) after one a server answered, with
    # the token or cursor it handed back, and the name of the field that holds it.
    next_pages: dict[str, list[tuple[Message, str]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __repr__(self) -> str:
        # Hypothesis shows strategies by their repr (this is in most of them): kept short.
        return f"Known({len(self.names)} names, {len(self.tokens)} tokens)"

    def follow(self, path: str, request: Message, reply: Message) -> None:
        """Keep the request for what comes after `reply`, if it handed back a token."""
        fields = request.DESCRIPTOR.fields_by_name
        token_field = next((f for f in ("page_token", "cursor") if f in fields), None)
        answer = reply.DESCRIPTOR.fields_by_name
        token = next((getattr(reply, f) for f in ("next_page_token", "cursor") if f in answer), "")
        kept = self.next_pages.setdefault(path, [])
        if token_field is None or not token or len(kept) >= 100:
            return
        after = type(request)()
        after.CopyFrom(request)
        setattr(after, token_field, token)
        with self.lock:
            kept.append((after, token_field))

    def harvest(self, reply: Message) -> None:
        """Keep the names, etags, tokens and cursors of an answer (at any depth)."""
        for fd, value in reply.ListFields():
            if fd.type == FieldDescriptor.TYPE_MESSAGE:
                for sub in value if _repeated(fd) else [value]:
                    if isinstance(sub, Message):
                        self.harvest(sub)
            elif isinstance(value, str) and value:
                kept = {
                    "next_page_token": self.tokens,
                    "cursor": self.tokens,
                    "etag": self.etags,
                    "name": self.names,
                }.get(fd.name)
                if kept is not None and len(kept) < 300 and value not in kept:
                    with self.lock:
                        kept.append(value)


T = TypeVar("T")


def weighted(*options: tuple[int, st.SearchStrategy[T]]) -> st.SearchStrategy[T]:
    """One of `options`, each as often as its weight says (`st.one_of` flattens nested
    alternatives, so a branch that is itself a choice of eight would win eight to one)."""
    spread = [strategy for weight, strategy in options for _ in range(weight)]
    # An index rather than `sampled_from(spread)`, whose repr (hypothesis makes one for
    # its notes) would spell out every alternative, tens of kilobytes of it.
    return st.integers(0, len(spread) - 1).flatmap(spread.__getitem__)


def pick(pool: Callable[[], list[T]], default: T) -> st.SearchStrategy[T]:
    """One of what `pool()` holds when drawn, `default` when it holds nothing. The draw is
    one number whatever the pool holds: it grows during the run, and hypothesis needs
    each example drawn the same way when it replays it."""

    def chosen(i: int) -> T:
        held = pool()
        return held[i % len(held)] if held else default

    return st.integers(0, 2**20).map(chosen)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


_HUGE_INTS = [2**63, 2**64, -(2**63) - 1, 10**30, -1, 0, 2**31]
_ODD = st.sampled_from(
    [True, False, None, "", "²", "x", 1.5, math.inf, -math.inf, [], {}, "9" * 400, *_HUGE_INTS]
)


def _forged(known: Known) -> st.SearchStrategy[str]:
    """Base64 JSON as page tokens held it (sort keys, ids, filters): real tokens with one
    of their values made odd, and dictionaries made up of their keys."""
    ids = pick(lambda: [n.partition("/")[2] for n in known.names], "x")
    value = weighted((3, _ODD), (1, ids), (1, st.integers()), (1, st.text(max_size=8)))
    real = pick(lambda: [d for d in map(_json_of, known.tokens) if isinstance(d, dict)], {})
    changed = st.tuples(real, st.integers(0, 64), value).map(_with_changed_value)
    keys = st.sampled_from(["i", "s", "t", "id", "f", "after", "k", "v", "seq", "kind"])
    made = st.dictionaries(keys, value, max_size=4)
    return weighted((3, changed), (1, made)).map(lambda d: _b64(json.dumps(d).encode()))


def _with_changed_value(args: tuple[dict[str, Any], int, Any]) -> dict[str, Any]:
    token, at, value = args
    if not token:
        return {"s": value}
    key = sorted(token)[at % len(token)]
    return {**token, key: value}


def _json_of(token: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except ValueError:
        return None


def hostile_tokens(known: Known) -> st.SearchStrategy[str]:
    """Page tokens and cursors a client could forge: made up, altered, cut, real ones of
    another call, numbers in any script."""
    real = pick(lambda: known.tokens, "")
    return weighted(
        (4, _forged(known)),
        (1, real),
        (1, st.tuples(real, st.integers(0, 64), st.characters()).map(_altered)),
        (1, real.map(lambda t: t + ".")),
        (1, real.map(lambda t: t[: len(t) // 2])),
        (3, st.sampled_from(["²", "٣", "-1", "1e9", " 7", "9" * 40, "==", "0"])),
        (1, st.integers(-(2**70), 2**70).map(str)),
        (1, st.binary(max_size=40).map(_b64)),
    )


# Characters that look like others: digits `isdigit()` takes and `int()` does not, and
# letters of other scripts that look like base64's.
_LOOKALIKES = str.maketrans("0123456789AEOaeo", "⁰¹²³⁴⁵⁶⁷⁸⁹ΑΕΟаеο")


def _altered(args: tuple[str, int, str]) -> str:
    token, at, char = args
    if not token:
        return char
    at %= len(token)
    return token[:at] + char + token[at + 1 :]


_TEXT = st.characters(exclude_categories=["Cs"])


def hostile_strings(known: Known) -> st.SearchStrategy[str]:
    names = pick(lambda: known.names, "incidents/x")
    return st.one_of(
        st.text(_TEXT, max_size=30),
        st.text(st.characters(min_codepoint=0x10000, exclude_categories=["Cs"]), max_size=30),
        st.integers(1_000, 300_000).map(lambda n: "x" * n),
        st.integers(1_000, 100_000).map(lambda n: "\U0001f692" * n),
        names.map(lambda n: n + "/\u0000"),
        names.map(lambda n: n.upper()),
        st.sampled_from(["\u0000", "\ufeff", "\u202e", "null", "%s", "'; --"]),
        hostile_tokens(known),
    )


# Which records a string field names, by its name.
_COLLECTION = {
    "incident": "incidents",
    "duplicates": "incidents",
    "parent": "incidents",
    "unit": "units",
    "units": "units",
    "home_station": "stations",
}


def _plausible_string(fd: FieldDescriptor, known: Known) -> st.SearchStrategy[str]:
    name = fd.name
    if name.endswith("page_token") or name == "cursor":
        return pick(lambda: ["", *known.tokens], "")
    if name == "etag":
        return pick(lambda: ["", *known.etags], "")
    if name == "type_code":
        return pick(lambda: known.type_codes, "")
    if name == "paths":
        return pick(lambda: known.field_names, "priority")
    if name == "request_id":
        return st.uuids().map(str)
    if name in _COLLECTION:
        collection = _COLLECTION[name] + "/"
        return pick(
            lambda: [n for n in known.names if n.startswith(collection) and n.count("/") == 1],
            "x/y",
        )
    if name == "name":
        return pick(lambda: known.names, "x/y")
    return st.text(_TEXT, max_size=20)


_INT_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}
_FLOATS = (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT)
_NOW_S = int(time.time())


def _plausible(fd: FieldDescriptor, known: Known) -> st.SearchStrategy[Any]:
    """A value that passes the field's own checks more often than not."""
    if fd.type == FieldDescriptor.TYPE_STRING:
        return _plausible_string(fd, known)
    if fd.type == FieldDescriptor.TYPE_ENUM:
        return st.sampled_from([v.number for v in fd.enum_type.values if v.number] or [0])
    if fd.type in _FLOATS:
        if fd.name in ("lat", "latitude"):
            return st.floats(10.35, 11.15)
        if fd.name in ("lon", "lng", "longitude"):
            return st.floats(106.35, 107.0)
        return st.floats(0, 1000)
    if fd.name == "seconds":  # a Timestamp's or Duration's
        return st.integers(_NOW_S - 86_400, _NOW_S + 60)
    if fd.name == "nanos":
        return st.integers(0, 999_999_999)
    return _hostile(fd, known) if fd.type not in _INT_RANGES else st.integers(0, 10)


def _hostile(fd: FieldDescriptor, known: Known) -> st.SearchStrategy[Any]:
    if fd.type == FieldDescriptor.TYPE_STRING:
        if fd.name.endswith("page_token") or fd.name == "cursor":
            return weighted((3, hostile_tokens(known)), (1, hostile_strings(known)))
        return hostile_strings(known)
    if fd.type == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=64)
    if fd.type == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if fd.type == FieldDescriptor.TYPE_ENUM:
        return st.integers(-(2**31), 2**31 - 1)
    if fd.type == FieldDescriptor.TYPE_DOUBLE:
        return st.one_of(st.floats(), st.sampled_from([math.nan, math.inf, -math.inf, 1e308]))
    if fd.type == FieldDescriptor.TYPE_FLOAT:
        return st.one_of(st.floats(width=32), st.sampled_from([math.nan, -math.inf]))
    low, high = _INT_RANGES[fd.type]
    return st.one_of(st.sampled_from([low, high, -1, 0]), st.integers(low, high))


def _scalar(fd: FieldDescriptor, known: Known) -> st.SearchStrategy[Any]:
    """Five plausible values for one hostile one: most requests get one or two hostile
    fields, and the rest of them far enough to reach what lies behind the checks. Page
    tokens and cursors, the fields a caller is told to hand back, are hostile half the time."""
    if fd.name.endswith("page_token") or fd.name == "cursor":
        return weighted((1, _plausible(fd, known)), (1, _hostile(fd, known)))
    return weighted((5, _plausible(fd, known)), (1, _hostile(fd, known)))


@st.composite
def messages(draw: st.DrawFn, desc: Descriptor, known: Known, depth: int = 0) -> Message:
    """A message of `desc` with any of its fields set, some to hostile values."""
    msg = message_factory.GetMessageClass(desc)()
    for fd in desc.fields:
        if draw(st.integers(0, 3)) == 0:
            continue
        if fd.type == FieldDescriptor.TYPE_MESSAGE:
            if depth >= 3:
                continue
            _set_message(draw, msg, fd, known, depth)
            continue
        count = draw(st.integers(0, 3)) if _repeated(fd) else None
        value = _scalar(fd, known)
        try:
            if count is None:
                setattr(msg, fd.name, draw(value))
            else:
                getattr(msg, fd.name).extend(draw(value) for _ in range(count))
        except (ValueError, TypeError, OverflowError):
            continue  # a value the field's type cannot hold: not sendable
    return msg


def field_names(desc: Descriptor, depth: int = 0) -> set[str]:
    """The names of the fields of `desc` and of the messages in it (update masks)."""
    found = {f.name for f in desc.fields}
    for f in desc.fields:
        if f.type == FieldDescriptor.TYPE_MESSAGE and depth < 2:
            found |= field_names(f.message_type, depth + 1)
    return found


def _repeated(fd: FieldDescriptor) -> bool:
    return bool(fd.is_repeated)


def _set_message(
    draw: st.DrawFn, msg: Message, fd: FieldDescriptor, known: Known, depth: int
) -> None:
    sub = fd.message_type
    if sub.GetOptions().map_entry:
        target = getattr(msg, fd.name)
        key_fd, value_fd = sub.fields_by_name["key"], sub.fields_by_name["value"]
        for _ in range(draw(st.integers(0, 2))):
            try:
                key = draw(_scalar(key_fd, known))
                if value_fd.type == FieldDescriptor.TYPE_MESSAGE:
                    target[key].CopyFrom(draw(messages(value_fd.message_type, known, depth + 1)))
                else:
                    target[key] = draw(_scalar(value_fd, known))
            except (ValueError, TypeError, OverflowError):
                continue
        return
    if _repeated(fd):
        for _ in range(draw(st.integers(0, 2))):
            getattr(msg, fd.name).add().CopyFrom(draw(messages(sub, known, depth + 1)))
    else:
        getattr(msg, fd.name).CopyFrom(draw(messages(sub, known, depth + 1)))


def next_pages(path: str, known: Known) -> st.SearchStrategy[bytes]:
    """A request a server answered, sent again for the next page (or events), its token
    or cursor kept (the pages must follow on), or forged from it: one of its values made
    odd, its digits and some letters swapped for lookalikes, a character changed, cut, or
    the token of another request in its place."""

    def forged(args: tuple[tuple[Message, str] | None, int, int, Any, str, str]) -> bytes:
        follow_up, how, at, odd, char, other = args
        if follow_up is None:
            return b""
        request, token_field = follow_up
        token = getattr(request, token_field)
        data = _json_of(token)
        changed = [
            token,
            _b64(json.dumps(_with_changed_value((data, at, odd))).encode())
            if isinstance(data, dict)
            else token.translate(_LOOKALIKES),
            token.translate(_LOOKALIKES),
            _altered((token, at, char)),
            token[: at % len(token)],
            other,
        ][how]
        out = type(request)()
        out.CopyFrom(request)
        setattr(out, token_field, changed)
        return out.SerializeToString()

    return st.tuples(
        pick(lambda: known.next_pages.get(path, []), None),
        weighted((2, st.just(0)), (4, st.just(1)), (2, st.just(2)), (1, st.integers(3, 5))),
        st.integers(0, 64),
        _ODD,
        st.characters(exclude_categories=["Cs"]),
        pick(lambda: known.tokens, ""),
    ).map(forged)
