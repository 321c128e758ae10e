"""Hospital availability as JSON shaped after OASIS EDXL-HAVE 2.0 (Hospital AVailability
Exchange): the resources service's hospitals (`ListHospitals`) in HAVE's words.

HAVE 2.0's schema could not be had here, so this follows its element names and code
lists as the standard describes them, in JSON with lower camel case, and says so in the
document (`shapedAfter`): per hospital its organisation (id, names, place), the emergency
department's status for ambulances (`emsTrafficStatus`: Normal, Advisory, Closed, from
ICC's diversion OPEN, PARTIAL, FULL) and its beds by kind (`bedType`, with the count
free and the count there is).
"""

from datetime import UTC, datetime
from typing import Any

from icc.resource.v1 import resource_pb2
from icc_kernel.vocabulary import Diversion

SHAPED_AFTER = "OASIS EDXL-HAVE 2.0 (element names and code lists; not its XML schema)"
SENDER = "icc.tphcm.gov.vn"
EMS_TRAFFIC = {
    Diversion.OPEN: "Normal",
    Diversion.PARTIAL: "Advisory",
    Diversion.FULL: "Closed",
}
# ICC's bed kinds -> HAVE's bed types.
BED_TYPES = (
    ("emergency_beds", "EmergencyDepartment"),
    ("icu", "AdultICU"),
    ("burn", "Burn"),
    ("trauma", "Trauma"),
    ("pediatric", "Pediatrics"),
)


def _time(t: datetime) -> str:
    return t.isoformat()


def hospital_status(hospital: resource_pb2.Hospital) -> dict[str, Any]:
    diversion = Diversion(hospital.diversion) if hospital.diversion else None
    beds = []
    for field, bed_type in BED_TYPES:
        total = getattr(hospital.total, field)
        free = getattr(hospital.available, field)
        if total == 0 and free == 0:
            continue  # the hospital has none of these
        beds.append(
            {
                "bedType": bed_type,
                "capacity": {
                    "capacityStatus": "Vacant/Available" if free > 0 else "NotAvailable",
                    "availableCount": free,
                    "baselineCount": total,
                },
            }
        )
    out: dict[str, Any] = {
        "organizationInformation": {
            "organizationID": hospital.name,
            "organizationName": {"vi": hospital.name_vi, "en": hospital.name_en},
            "organizationGeoLocation": {
                "latitude": hospital.location.lat,
                "longitude": hospital.location.lon,
                "approximate": hospital.approximate,
            },
            "capabilities": list(hospital.capabilities),
        },
        "emergencyDepartmentStatus": {
            "emsTraffic": {
                "emsTrafficStatus": EMS_TRAFFIC[diversion] if diversion else "NotApplicable",
            },
        },
        "hospitalBedCapacityStatus": beds,
    }
    if hospital.HasField("update_time"):
        out["lastUpdateTime"] = _time(hospital.update_time.ToDatetime(tzinfo=UTC))
    return out


def have_document(hospitals: list[resource_pb2.Hospital], now: datetime) -> dict[str, Any]:
    return {
        "shapedAfter": SHAPED_AFTER,
        "sender": SENDER,
        "sent": _time(now),
        "hospitalStatus": [hospital_status(h) for h in hospitals],
    }
