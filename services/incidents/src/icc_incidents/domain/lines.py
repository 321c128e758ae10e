"""The line a call came in on, when the request does not say.

A partner's system (role `partner`) is PARTNER. Otherwise the call-taker's agency
says which line they answer: the police centre 113, fire and rescue 114, the
medical centre 115, and the command center 112 (which answers beside the others
since September 2025 and transfers to them). Anyone else: OTHER.
"""

from icc_kernel.actors import Actor
from icc_kernel.vocabulary import Agency, CallLine

PARTNER_ROLE = "partner"
LINE_OF_AGENCY = {
    Agency.POLICE: CallLine.POLICE_113,
    Agency.FIRE: CallLine.FIRE_114,
    Agency.MEDICAL: CallLine.MEDICAL_115,
    Agency.COMMAND_CENTER: CallLine.EMERGENCY_112,
}


def default_line(actor: Actor) -> CallLine:
    if actor.role == PARTNER_ROLE:
        return CallLine.PARTNER
    return LINE_OF_AGENCY.get(actor.agency, CallLine.OTHER)
