"""Public warnings as OASIS CAP 1.2 messages and as an Atom feed of them.

One `info` block per language (Vietnamese first, then English), each with the same areas:
polygons and circles as drawn, chosen wards as geocodes. Every message is checked against
the OASIS schema (vendored in data/cap, see its SOURCE.md) before it is stored, so a
message that does not conform is never published.
"""

from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from functools import cache
from importlib.resources import files
from xml.etree import ElementTree as ET

import xmlschema

from icc_gateway.domain.warnings import (
    LANGUAGES,
    SENDER,
    Area,
    Message,
    PublicWarning,
    Text,
)

CAP = "urn:oasis:names:tc:emergency:cap:1.2"
ATOM = "http://www.w3.org/2005/Atom"
CAP_MEDIA_TYPE = "application/cap+xml"
ATOM_MEDIA_TYPE = "application/atom+xml"
# The city's time: CAP's times carry their offset and no fraction of a second.
CITY_TIME = timezone(timedelta(hours=7))
WARD_GEOCODE = "VN-ward"
SENDER_NAME = {"vi-VN": "Trung tâm Chỉ huy TP.HCM", "en-US": "Ho Chi Minh City Command Center"}

ET.register_namespace("", CAP)


def cap_time(t: datetime) -> str:
    return t.astimezone(CITY_TIME).replace(microsecond=0).isoformat()


def _sub(parent: ET.Element, tag: str, text: str | None = None, ns: str = CAP) -> ET.Element:
    node = ET.SubElement(parent, f"{{{ns}}}{tag}")
    if text is not None:
        node.text = text
    return node


def _area(info: ET.Element, area: Area, lang: str) -> None:
    node = _sub(info, "area")
    _sub(node, "areaDesc", area.description_vi if lang == "vi-VN" else area.description_en)
    for polygon in area.polygons:
        _sub(node, "polygon", " ".join(f"{lat},{lon}" for lat, lon in polygon))
    for c in area.circles:
        _sub(node, "circle", f"{c.lat},{c.lon} {c.radius_km}")
    for ward in area.wards:
        geocode = _sub(node, "geocode")
        _sub(geocode, "valueName", WARD_GEOCODE)
        _sub(geocode, "value", ward)


def _info(alert: ET.Element, w: PublicWarning, lang: str, text: Text) -> None:
    d = w.draft
    info = _sub(alert, "info")
    _sub(info, "language", lang)
    _sub(info, "category", d.category.value)
    _sub(info, "event", text.event)
    _sub(info, "urgency", d.urgency.value)
    _sub(info, "severity", d.severity.value)
    _sub(info, "certainty", d.certainty.value)
    _sub(info, "expires", cap_time(d.expires))
    _sub(info, "senderName", SENDER_NAME[lang])
    _sub(info, "headline", text.headline)
    if text.description:
        _sub(info, "description", text.description)
    if text.instruction:
        _sub(info, "instruction", text.instruction)
    for area in d.areas:
        _area(info, area, lang)


def reference(m: Message) -> str:
    return f"{SENDER},{m.identifier},{cap_time(m.sent)}"


def to_cap(w: PublicWarning, message: Message | None = None) -> bytes:
    """The CAP message (the warning's current one unless `message` names another)."""
    m = message or w.current
    index = w.messages.index(m)
    alert = ET.Element(f"{{{CAP}}}alert")
    _sub(alert, "identifier", m.identifier)
    _sub(alert, "sender", SENDER)
    _sub(alert, "sent", cap_time(m.sent))
    _sub(alert, "status", w.status)
    _sub(alert, "msgType", m.msg_type.value)
    _sub(alert, "scope", "Public")
    if w.draft.exercise:
        _sub(alert, "note", "Diễn tập - không phải cảnh báo thật / Exercise - not a real warning")
    earlier = w.messages[:index]
    if earlier:
        _sub(alert, "references", " ".join(reference(e) for e in earlier))
    for lang, text in zip(LANGUAGES, (w.draft.vi, w.draft.en), strict=True):
        _info(alert, w, lang, text)
    document: bytes = ET.tostring(alert, encoding="utf-8", xml_declaration=True)
    return document


@cache
def schema() -> xmlschema.XMLSchema:
    path = files("icc_gateway") / "data" / "cap" / "CAP-v1.2.xsd"
    return xmlschema.XMLSchema(path.read_text(encoding="utf-8"))


def faults(document: bytes) -> list[str]:
    """Where a CAP message breaks the OASIS schema; empty when it conforms."""
    return [f"{e.path}: {e.reason}" for e in schema().iter_errors(document.decode("utf-8"))]


def to_atom(warnings: Iterable[PublicWarning], *, base_url: str, now: datetime) -> bytes:
    """The public feed: each real, unexpired warning's current message (a cancellation
    stays until the warning would have expired, so pollers learn of it)."""
    listed = sorted(
        (w for w in warnings if w.public(now)), key=lambda w: w.current.sent, reverse=True
    )
    feed = ET.Element(f"{{{ATOM}}}feed")
    feed.set("{http://www.w3.org/XML/1998/namespace}lang", "vi")
    _sub(feed, "id", f"urn:icc:warnings:{SENDER}", ATOM)
    _sub(feed, "title", "Cảnh báo công cộng - TP.HCM / Public warnings - Ho Chi Minh City", ATOM)
    _sub(feed, "updated", cap_time(listed[0].current.sent if listed else now), ATOM)
    author = _sub(feed, "author", ns=ATOM)
    _sub(author, "name", SENDER_NAME["vi-VN"], ATOM)
    link = _sub(feed, "link", ns=ATOM)
    link.set("rel", "self")
    link.set("href", f"{base_url}/public/warnings.atom")
    for w in listed:
        entry = _sub(feed, "entry", ns=ATOM)
        _sub(entry, "id", w.current.identifier, ATOM)
        prefix = "[HỦY / CANCELLED] " if w.cancelled else ""
        _sub(entry, "title", prefix + w.draft.vi.headline, ATOM)
        _sub(entry, "updated", cap_time(w.current.sent), ATOM)
        _sub(entry, "summary", w.draft.en.headline, ATOM)
        alternate = _sub(entry, "link", ns=ATOM)
        alternate.set("rel", "alternate")
        alternate.set("type", CAP_MEDIA_TYPE)
        alternate.set("href", f"{base_url}/public/warnings/{w.id}.cap")
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document
