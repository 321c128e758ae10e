"""Errors a bus handler raises to steer delivery."""


class PoisonMessage(Exception):
    """The message can never be handled (malformed, unknown type, invalid): DLQ it now."""
