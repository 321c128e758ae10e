"""Reading `ICC_*` settings from an environment, the same way in every process.

An unset or empty setting takes its default; a value that does not fit fails the start
with the setting's name and what it expects (`SettingError`), never a bare traceback or a
silent default.
"""

from collections.abc import Mapping

from icc_kernel.vocabulary import Priority

_YES = ("1", "true", "yes", "on")
_NO = ("0", "false", "no", "off")


class SettingError(ValueError):
    """A setting's value does not fit; the message names the setting."""


def _raw(env: Mapping[str, str], name: str) -> str:
    return env.get(name, "").strip()


def _shown(raw: str) -> str:
    return repr(raw[:40])


def number(
    env: Mapping[str, str],
    name: str,
    default: float,
    *,
    least: float | None = None,
    most: float | None = None,
) -> float:
    """A number (`1.5`, `60`) within [least, most]."""
    raw = _raw(env, name)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingError(f"{name}: expected a number, got {_shown(raw)}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise SettingError(f"{name}: expected a number, got {_shown(raw)}")
    if least is not None and value < least:
        raise SettingError(f"{name}: at least {least:g}, got {raw[:40]}")
    if most is not None and value > most:
        raise SettingError(f"{name}: at most {most:g}, got {raw[:40]}")
    return value


def whole(
    env: Mapping[str, str],
    name: str,
    default: int,
    *,
    least: int | None = None,
    most: int | None = None,
) -> int:
    """A whole number within [least, most]."""
    raw = _raw(env, name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingError(f"{name}: expected a whole number, got {_shown(raw)}") from None
    if least is not None and value < least:
        raise SettingError(f"{name}: at least {least}, got {value}")
    if most is not None and value > most:
        raise SettingError(f"{name}: at most {most}, got {value}")
    return value


def port(env: Mapping[str, str], name: str, default: int) -> int:
    """A TCP port, 1-65535."""
    return whole(env, name, default, least=1, most=65535)


def flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    """1/true/yes/on or 0/false/no/off; anything else is refused, not read as yes."""
    raw = _raw(env, name).lower()
    if not raw:
        return default
    if raw in _YES:
        return True
    if raw in _NO:
        return False
    raise SettingError(f"{name}: expected 1 or 0, got {_shown(raw)}")


def priorities(env: Mapping[str, str], name: str, default: str) -> frozenset[Priority]:
    """`P1,P2` -> {P1, P2} (dispatch's `ICC_DISPATCH_AUTO`, which the gateway reads too);
    set but empty: none."""
    raw = env.get(name, default).strip()
    names = [p.strip().upper() for p in raw.split(",") if p.strip()]
    if not all(n in Priority.__members__ for n in names):
        raise SettingError(f"{name}: expected e.g. 'P1,P2', got {_shown(raw)}")
    return frozenset(Priority[n] for n in names)
