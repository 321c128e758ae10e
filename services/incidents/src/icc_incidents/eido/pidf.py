"""Locations as the EIDO carries them: PIDF-LO (RFC 4119, 5139, 5491) by value.

ICC writes one `location-info` with the point (GML, WGS 84, "lat lon") and the civic
address (country VN, A1 the city, A3 the ward, LOC the address as the call-taker wrote it).
Reading a partner's, it takes the first point, circle centre or polygon's mean vertex, and
the civic address's parts; XML from outside is parsed with defusedxml (no entities, no DTDs).
"""

import math
from dataclasses import dataclass
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape, quoteattr

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException

CITY = "Thành phố Hồ Chí Minh"
# Where a civic address part is written; A3 is the ward since the July 2025 reform (the
# city has wards and communes and no districts).
WARD_PARTS = ("A3", "A4", "A5")
_CITY_WORDS = ("hồ chí minh", "ho chi minh", "hcm")


@dataclass(frozen=True)
class Place:
    """What a PIDF-LO said: a point (or None) and the civic address's text."""

    lat: float | None
    lon: float | None
    address: str
    ward: str

    @property
    def has_point(self) -> bool:
        return self.lat is not None and self.lon is not None


class NotPidf(ValueError):
    """Not a PIDF-LO ICC can read."""


def write(entity: str, lat: float, lon: float, address: str, ward: str) -> str:
    civic = [f"<ca:country>VN</ca:country><ca:A1>{escape(CITY)}</ca:A1>"]
    if ward:
        civic.append(f"<ca:A3>{escape(ward)}</ca:A3>")
    if address:
        civic.append(f"<ca:LOC>{escape(address)}</ca:LOC>")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<presence xmlns="urn:ietf:params:xml:ns:pidf"'
        ' xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10"'
        ' xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model"'
        ' xmlns:gml="http://www.opengis.net/gml"'
        ' xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr"'
        f" entity={quoteattr(entity)}>"
        '<dm:device id="incident"><gp:geopriv><gp:location-info>'
        '<gml:Point srsName="urn:ogc:def:crs:EPSG::4326">'
        f"<gml:pos>{lat!r} {lon!r}</gml:pos></gml:Point>"
        f'<ca:civicAddress xml:lang="vi">{"".join(civic)}</ca:civicAddress>'
        "</gp:location-info><gp:usage-rules/><gp:method>Manual</gp:method>"
        "</gp:geopriv></dm:device></presence>"
    )


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _floats(text: str | None) -> list[float]:
    try:
        values = [float(v) for v in (text or "").split()]
    except ValueError as exc:
        raise NotPidf(f"a position that is not numbers: {(text or '')[:40]!r}") from exc
    if not all(math.isfinite(v) for v in values):
        raise NotPidf("a position that is not finite")
    return values


def _point(root: Element) -> tuple[float, float] | None:
    for shape in root.iter():
        kind = _local(shape.tag)
        if kind in ("Point", "Circle", "Ellipse", "ArcBand", "Sphere", "Ellipsoid"):
            for child in shape.iter():
                if _local(child.tag) == "pos":
                    values = _floats(child.text)
                    if len(values) >= 2:
                        return values[0], values[1]
        if kind in ("Polygon", "Prism"):
            values = []
            for child in shape.iter():
                if _local(child.tag) in ("pos", "posList"):
                    values.extend(_floats(child.text))
            dims = 3 if shape.get("srsName", "").endswith("4979") else 2
            pairs = [values[n : n + 2] for n in range(0, len(values) - dims + 1, dims)]
            if pairs:
                # The ring closes on its first vertex: counted once.
                if len(pairs) > 1 and pairs[0] == pairs[-1]:
                    pairs = pairs[:-1]
                return (
                    sum(p[0] for p in pairs) / len(pairs),
                    sum(p[1] for p in pairs) / len(pairs),
                )
    return None


def _civic(root: Element) -> dict[str, str]:
    for node in root.iter():
        if _local(node.tag) == "civicAddress":
            return {
                _local(child.tag): " ".join((child.text or "").split())
                for child in node
                if (child.text or "").strip()
            }
    return {}


def read(text: str) -> Place:
    """The place a PIDF-LO gives; NotPidf when it is not XML or gives no place at all."""
    try:
        root = ElementTree.fromstring(text.encode("utf-8"))
    except (ElementTree.ParseError, DefusedXmlException) as exc:
        raise NotPidf(f"not well-formed XML: {str(exc)[:80]}") from exc
    point = _point(root)
    civic = _civic(root)
    ward = next(
        (
            civic[k]
            for k in WARD_PARTS
            if civic.get(k) and not any(w in civic[k].casefold() for w in _CITY_WORDS)
        ),
        "",
    )
    street = " ".join(
        civic[k] for k in ("HNO", "HNS", "PRD", "RD", "A6", "STS", "POD") if civic.get(k)
    )
    address = civic.get("LOC") or ", ".join(p for p in (civic.get("NAM", ""), street) if p)
    if point is None and not (address or ward):
        raise NotPidf("neither a point nor a civic address")
    lat, lon = point if point else (None, None)
    return Place(lat, lon, address, ward)
