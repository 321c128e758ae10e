"""ICC's words beside the standard's: incident types, lines, agencies, unit states, cautions.

Incident types map to the APCO common incident type codes (APCO ANS 2.103.2) that NENA's
schema lists (`apco.yaml`, `apcoIncidentCategoryCodeSimpleType`): the EIDO's
`incidentTypeCommonRegistryText`. Several ICC types share one code (a market fire and a
structure fire are both FSTRU); ICC's own code travels beside it
(`incidentTypeInternalCode`), so nothing is lost between ICC systems. Reading a partner's
document, its internal code wins when ICC knows it, then the first ICC type of its APCO
code (`TYPE_OF_APCO`).
"""

from icc_kernel.vocabulary import Agency, AssignmentState, CallLine, CautionKind

APCO_OF_TYPE: dict[str, str] = {
    "FIRE.STRUCTURE": "FSTRU",
    "FIRE.HIGH_RISE": "FSTRU",
    "FIRE.MARKET": "FSTRU",
    "FIRE.KARAOKE_VENUE": "FSTRU",
    "FIRE.INDUSTRIAL": "FSTRU",
    "FIRE.VEHICLE": "FVEH",
    "FIRE.BOAT": "FMARINE",
    "FIRE.ELECTRICAL_POLE": "FELEC",
    "FIRE.FOREST_GRASS": "FBRUSH",
    "FIRE.RUBBISH": "FTRASH",
    "FIRE.SMOKE_ODOUR": "FSMOKE",
    "FIRE.ALARM": "ALRF",
    "RESCUE.DROWNING": "DROWN",
    "RESCUE.BOAT_SINKING": "RESCUE",
    "RESCUE.COLLAPSE": "BLDCLPSE",
    "RESCUE.TRAPPED_PERSON": "ENTRAP",
    "RESCUE.FALL_FROM_HEIGHT": "FALL",
    "RESCUE.FALL_INTO_PIT": "RESCUE",
    "RESCUE.SUICIDE_THREAT": "SUICTHRT",
    "RESCUE.TRAPPED_ELEVATOR": "ENTRAP",
    "RESCUE.ANIMAL": "ANIMAL",
    "MEDICAL.CARDIAC_ARREST": "CARDIAC",
    "MEDICAL.CHEST_PAIN": "CHESPAIN",
    "MEDICAL.STROKE": "STROKE",
    "MEDICAL.BREATHING_DIFFICULTY": "RESP",
    "MEDICAL.UNCONSCIOUS": "PERUNCON",
    "MEDICAL.ANAPHYLAXIS": "ALLERGIC",
    "MEDICAL.ELECTRIC_SHOCK": "ELEC",
    "MEDICAL.OVERDOSE": "OD",
    "MEDICAL.MASS_CASUALTY": "MCI",
    "MEDICAL.TRAUMA": "TRAUMA",
    "MEDICAL.CHILDBIRTH": "PREG",
    "MEDICAL.POISONING": "OD",
    "MEDICAL.SEIZURE": "SEIZURE",
    "MEDICAL.HEAT_ILLNESS": "EXPOSURE",
    "MEDICAL.DENGUE_SEVERE": "SICK",
    "MEDICAL.ANIMAL_BITE": "BITE",
    "MEDICAL.SICK_PERSON": "SICK",
    "POLICE.ROBBERY": "ROBBERY",
    "POLICE.ASSAULT": "ASSAULT",
    "POLICE.GANG_FIGHT": "FIGHT",
    "POLICE.SHOOTING": "SHOOT",
    "POLICE.KIDNAPPING": "ABDUCTNF",
    "POLICE.SUSPICIOUS_PACKAGE": "BOMB",
    "POLICE.SNATCH_THEFT": "ROBBERY",
    "POLICE.BURGLARY": "BURGLARY",
    "POLICE.DOMESTIC_VIOLENCE": "DVA",
    "POLICE.MISSING_PERSON": "PERMISS",
    "POLICE.ILLEGAL_RACING": "RECKDRV",
    "POLICE.THEFT_MOTORBIKE": "VEHSTLN",
    "POLICE.PUBLIC_DISORDER": "DISORD",
    "POLICE.DRUGS": "DRUGS",
    "POLICE.FRAUD": "FRAUD",
    "TRAFFIC.COLLISION_INJURY": "MVAINJY",
    "TRAFFIC.MULTI_VEHICLE": "MVAINJY",
    "TRAFFIC.HIGHWAY_COLLISION": "MVAINJY",
    "TRAFFIC.VEHICLE_IN_WATER": "RESCUE",
    "TRAFFIC.RAIL_INCIDENT": "TRAIN",
    "TRAFFIC.HIT_AND_RUN": "MVAHR",
    "TRAFFIC.SINKHOLE": "THAZ",
    "TRAFFIC.COLLISION_NO_INJURY": "MVA",
    "TRAFFIC.ROAD_BLOCKED": "THAZ",
    "TRAFFIC.SIGNAL_FAILURE": "THAZ",
    "FLOOD.PEOPLE_TRAPPED": "RESCUE",
    "FLOOD.LANDSLIDE_RIVERBANK": "RESCUE",
    "FLOOD.TREE_FALLEN": "THAZ",
    "FLOOD.STORM_DAMAGE": "THAZ",
    "FLOOD.RESERVOIR_RELEASE": "WATER",
    "FLOOD.STREET_FLOODING": "WATER",
    "FLOOD.TIDAL_SURGE": "WATER",
    "HAZMAT.GAS_LEAK": "GASLEAK",
    "HAZMAT.CHEMICAL_SPILL": "HAZMAT",
    "HAZMAT.CHEMICAL_FIRE": "HAZMAT",
    "HAZMAT.EXPLOSION": "EXPLOS",
    "HAZMAT.AMMONIA_LEAK": "HAZMAT",
    "HAZMAT.CONFINED_SPACE_GAS": "HAZMAT",
    "HAZMAT.RADIOLOGICAL": "RADIAT",
    "HAZMAT.OIL_SPILL_RIVER": "HAZMAT",
}
# A type ICC does not know (a catalog newer than this table): the APCO code for "other".
UNKNOWN_APCO = "INFO"

# The APCO code read back: the first ICC type in the table that maps to it.
TYPE_OF_APCO: dict[str, str] = {}
for _code, _apco in APCO_OF_TYPE.items():
    TYPE_OF_APCO.setdefault(_apco, _code)

# A call transferred with no type ICC can read: the least committal type of the agency it
# was sent to (a call-taker classifies it); a 115 sick-person call when nothing says.
UNCLASSIFIED_TYPE: dict[Agency, str] = {
    Agency.POLICE: "POLICE.PUBLIC_DISORDER",
    Agency.FIRE: "FIRE.SMOKE_ODOUR",
    Agency.MEDICAL: "MEDICAL.SICK_PERSON",
}
UNCLASSIFIED_DEFAULT = "MEDICAL.SICK_PERSON"

# The IANA `urn:emergency:service:responder` registry's words (the prefix left out, as the
# EIDO asks); the command center is the PSAP.
RESPONDER_OF_AGENCY: dict[Agency, str] = {
    Agency.POLICE: "police",
    Agency.FIRE: "fire",
    Agency.MEDICAL: "ems",
    Agency.COMMAND_CENTER: "psap",
    Agency.UTILITY: "utility",
}
AGENCY_OF_RESPONDER: dict[str, Agency] = {
    "police": Agency.POLICE,
    "fire": Agency.FIRE,
    "ems": Agency.MEDICAL,
    "ambulance": Agency.MEDICAL,
    "psap": Agency.COMMAND_CENTER,
    "utility": Agency.UTILITY,
}

# The line a call came in on: `localCallType`, and the number as the queue.
LOCAL_CALL_TYPE: dict[CallLine, str] = {
    CallLine.EMERGENCY_112: "112",
    CallLine.POLICE_113: "113",
    CallLine.FIRE_114: "114",
    CallLine.MEDICAL_115: "115",
    CallLine.PARTNER: "partner",
    CallLine.OTHER: "other",
}
LINE_OF_LOCAL_CALL_TYPE = {v: k for k, v in LOCAL_CALL_TYPE.items()}

# An assignment's state as the NENA Primary Unit Status registry words it.
UNIT_STATUS: dict[AssignmentState, str] = {
    AssignmentState.PROPOSED: "Pending",
    AssignmentState.ASSIGNED: "Dispatched",
    AssignmentState.ACKNOWLEDGED: "Acknowledged",
    AssignmentState.RELEASED: "Cleared",
}

CAUTION_TYPE: dict[CautionKind, str] = {
    CautionKind.VIOLENCE: "Violence",
    CautionKind.WEAPONS: "Weapons",
    CautionKind.HAZARDOUS_MATERIALS: "HazardousMaterials",
    CautionKind.ANIMAL: "Animal",
    CautionKind.STRUCTURE: "Structure",
    CautionKind.ACCESS: "Access",
    CautionKind.MEDICAL: "Medical",
    CautionKind.OTHER: "Other",
}
CAUTION_SEVERITY: dict[CautionKind, str] = {
    CautionKind.VIOLENCE: "high",
    CautionKind.WEAPONS: "highest",
    CautionKind.HAZARDOUS_MATERIALS: "highest",
    CautionKind.STRUCTURE: "high",
}
