"""What a patient of an incident type needs of a hospital: the specialty (capability)
the case calls for, or None for a general emergency department. Dispatch chooses
destinations by it, and the simulator's hospitals fill beds by it: one rule for both."""

from collections.abc import Iterable

# What a case needs of a hospital, by incident type (prefix or exact code).
_TRAUMA = ("TRAFFIC", "RESCUE", "MEDICAL.TRAUMA", "MEDICAL.MASS_CASUALTY", "FLOOD")
_TRAUMA_CODES = ("POLICE.SHOOTING", "POLICE.ASSAULT", "POLICE.GANG_FIGHT", "POLICE.ROBBERY")
_BURN = ("FIRE", "HAZMAT.CHEMICAL_FIRE", "HAZMAT.EXPLOSION")
_CAPABILITY = {
    "MEDICAL.STROKE": "STROKE_CENTER",
    "MEDICAL.CARDIAC_ARREST": "CARDIAC_CATH_LAB",
    "MEDICAL.CHEST_PAIN": "CARDIAC_CATH_LAB",
    "MEDICAL.CHILDBIRTH": "OBSTETRIC",
}

BURN_UNIT = "BURN_UNIT"
TRAUMA_CENTER = "TRAUMA_CENTER"


def _starts(code: str, prefixes: Iterable[str]) -> bool:
    return any(code == p or code.startswith(p + ".") for p in prefixes)


def needed_capability(type_code: str) -> str | None:
    """The specialty the case calls for, or None for a general emergency department."""
    if _starts(type_code, _BURN):
        return BURN_UNIT
    if _starts(type_code, _TRAUMA) or type_code in _TRAUMA_CODES:
        return TRAUMA_CENTER
    return _CAPABILITY.get(type_code)
