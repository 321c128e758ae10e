"""Weak etags that count versions: every change bumps the version, `W/"7"` names version 7."""


def etag_of(version: int) -> str:
    return f'W/"{version}"'


def version_of(etag: str) -> int | None:
    """The version an etag names; None when it names none (so it matches no version)."""
    digits = etag.removeprefix("W/").strip('"')
    if not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        return None
    return int(digits)
