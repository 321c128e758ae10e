"""The incidents service's own settings: what intake looks for around a call
(`ICC_DUPLICATE_*`, `ICC_HISTORY_*`) and the deployment's geocoder (`ICC_GEOCODER*`).
Read once at start; a value that does not fit fails the start with its name."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from icc_incidents.calltaking import IntakeSettings
from icc_incidents.domain.duplicates import DuplicateRules
from icc_kernel.settings import SettingError, flag, number

GEOCODERS = ("", "nominatim")


@dataclass(frozen=True)
class GeocoderSettings:
    # "" (none: the gazetteer alone) or "nominatim".
    kind: str = ""
    url: str = ""
    timeout_s: float = 0.8


def intake_from_env(env: Mapping[str, str]) -> IntakeSettings:
    return IntakeSettings(
        duplicates=DuplicateRules(
            radius_m=number(env, "ICC_DUPLICATE_RADIUS_M", 100.0, least=0.0),
            window=timedelta(minutes=number(env, "ICC_DUPLICATE_WINDOW_MIN", 10.0, least=0.0)),
            at_intake=flag(env, "ICC_DUPLICATE_CHECK", True),
        ),
        history_radius_m=number(env, "ICC_HISTORY_RADIUS_M", 100.0, least=0.0),
        history_days=int(number(env, "ICC_HISTORY_DAYS", 30.0, least=1.0)),
    )


# Personal data of ended incidents is kept this long by default (Decree 13/2023 sets no
# number; a deployment sets its own from its legal basis). 0 keeps it.
RETENTION_DAYS = 180.0


def retention_from_env(env: Mapping[str, str]) -> timedelta | None:
    """`ICC_PERSONAL_DATA_RETENTION_DAYS`: how long callers' details, notes and answers
    of an ended incident are kept; None (0) keeps them."""
    days = number(env, "ICC_PERSONAL_DATA_RETENTION_DAYS", RETENTION_DAYS, least=0.0)
    return timedelta(days=days) if days > 0 else None


def geocoder_from_env(env: Mapping[str, str]) -> GeocoderSettings:
    kind = env.get("ICC_GEOCODER", "").strip().lower()
    if kind not in GEOCODERS:
        raise SettingError(f"ICC_GEOCODER: expected empty or nominatim, got {kind[:40]!r}")
    url = env.get("ICC_GEOCODER_URL", "").strip()
    if kind and not url.startswith(("http://", "https://")):
        raise SettingError("ICC_GEOCODER_URL: expected the geocoder's http(s) base URL")
    timeout_ms = number(env, "ICC_GEOCODER_TIMEOUT_MS", 800.0, least=1.0)
    return GeocoderSettings(kind, url, timeout_ms / 1000)
