"""Settings of the gateway, from `ICC_*` environment variables with embedded defaults."""

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from icc_bus import BusConfig
from icc_gateway.domain.kpis import KpiSettings
from icc_gateway.security import normal_origin
from icc_kernel.settings import SettingError, flag, number, priorities
from icc_rpc import TlsConfig
from icc_storage import database_url_from_env

# services/gateway/, when running from the repository (editable install).
_SERVICE_DIR = Path(__file__).resolve().parents[2]
# Leaflet as npm installs it beside the screen (`npm ci` in services/gateway/web).
LEAFLET_DIR = _SERVICE_DIR / "web" / "node_modules" / "leaflet" / "dist"


def _optional_flag(env: Mapping[str, str], name: str) -> bool | None:
    """1 or 0; None when unset (the gateway decides)."""
    return flag(env, name, False) if env.get(name, "").strip() else None


def _origins(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """`https://icc.example,https://icc-backup.example` -> each as browsers send it."""
    out = []
    for raw in (o.strip() for o in env.get(name, "").split(",")):
        if not raw:
            continue
        origin = normal_origin(raw)
        if origin is None:
            raise SettingError(
                f"{name}: expected origins such as https://icc.example, got {raw[:60]!r}"
            )
        out.append(origin)
    return tuple(out)


def _proxies(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """Addresses or networks (`10.0.0.0/8`) of the proxies whose X-Forwarded-For and
    X-Forwarded-Proto are believed; `*` for any (only where nothing else can connect)."""
    out = []
    for raw in (p.strip() for p in env.get(name, "").split(",")):
        if not raw:
            continue
        if raw != "*":
            try:
                ipaddress.ip_network(raw, strict=False)
            except ValueError:
                raise SettingError(
                    f"{name}: expected addresses or networks, got {raw[:60]!r}"
                ) from None
        out.append(raw)
    return tuple(out)


def kpi_settings_from_env(env: Mapping[str, str]) -> KpiSettings:
    return KpiSettings(
        window_s=number(env, "ICC_GATEWAY_KPI_WINDOW_MIN", 60.0, least=1.0) * 60.0,
        # The same setting as dispatch's, so "waiting for units" means what it does there.
        auto_priorities=priorities(env, "ICC_DISPATCH_AUTO", "P1,P2"),
    )


@dataclass(frozen=True)
class PictureSettings:
    # Changes kept for screens that reconnect (Last-Event-ID); older ones get a snapshot.
    ring_size: int = 10_000
    # At most one position change per unit in this time: a moving fleet must not flood screens.
    position_interval_s: float = 1.0
    # Frames a screen may fall behind before it is dropped (it reconnects and resumes).
    client_queue: int = 2_000
    keepalive_s: float = 15.0
    # A slow screen that takes no bytes for this long is cut off.
    send_timeout_s: float = 30.0
    # A full re-read from the services heals anything the event feed missed.
    resync_every_s: float = 300.0
    # First cursor number; None: random, so that ids from another gateway process
    # (a restart, another replica) are never mistaken for this one's.
    cursor_base: int | None = None


@dataclass(frozen=True)
class Config:
    address: str = "127.0.0.1:8080"
    incidents_target: str = "127.0.0.1:50051"
    resources_target: str = "127.0.0.1:50052"
    dispatch_target: str = "127.0.0.1:50053"
    bus: BusConfig = field(default_factory=BusConfig)
    database_url: str = "sqlite+aiosqlite:///var/gateway.db"
    # The trace sink's HTTP query base URL; None: traces are not offered (503).
    tracesink_query_url: str | None = None
    demo_users: bool = True
    # Session cookies only over HTTPS: True always, False never, None (the default) when
    # the sign-in came over HTTPS (directly or through a trusted proxy that says so).
    cookie_secure: bool | None = None
    # Origins besides the gateway's own from which state may be changed (security.py).
    allowed_origins: tuple[str, ...] = ()
    # Proxies whose X-Forwarded-For (the client's address) and X-Forwarded-Proto are
    # believed; none by default: a header anyone can send never decides who is throttled.
    trusted_proxies: tuple[str, ...] = ()
    session_hours: float = 12.0
    # The screen (static files) and Leaflet from npm; either may be missing.
    web_dir: Path | None = None
    leaflet_dir: Path | None = LEAFLET_DIR
    picture: PictureSettings = field(default_factory=PictureSettings)
    # The response-time KPIs (GET /api/v1/kpis): window, targets, what "waiting" means.
    kpis: KpiSettings = field(default_factory=KpiSettings)
    # The gateway's certificate and key (mutual TLS to the services, and the key that
    # signs its assertions of who is signed in), and the CA.
    tls: TlsConfig | None = None
    # The partner listener (partners.py: EIDO over WebSocket, mutual TLS with the
    # gateway's certificate): "host:port", port 0 picks one; empty: not served.
    partner_address: str = ""

    @property
    def host_port(self) -> tuple[str, int]:
        host, sep, port = self.address.rpartition(":")
        if not sep or not port.isdigit():
            raise SettingError(f"ICC_GATEWAY_ADDR: expected host:port, got {self.address!r}")
        return host.strip("[]") or "0.0.0.0", int(port)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Config":
        leaflet = env.get("ICC_GATEWAY_LEAFLET_DIR") or str(LEAFLET_DIR)
        return cls(
            address=env.get("ICC_GATEWAY_ADDR", "127.0.0.1:8080"),
            incidents_target=env.get("ICC_INCIDENTS_TARGET", "127.0.0.1:50051"),
            resources_target=env.get("ICC_RESOURCES_TARGET", "127.0.0.1:50052"),
            dispatch_target=env.get("ICC_DISPATCH_TARGET", "127.0.0.1:50053"),
            bus=BusConfig.from_env(env),
            database_url=database_url_from_env("gateway", env),
            tracesink_query_url=(env.get("ICC_TRACESINK_QUERY_URL") or "").rstrip("/") or None,
            demo_users=flag(env, "ICC_GATEWAY_DEMO_USERS", True),
            cookie_secure=_optional_flag(env, "ICC_GATEWAY_COOKIE_SECURE"),
            allowed_origins=_origins(env, "ICC_GATEWAY_ALLOWED_ORIGINS"),
            trusted_proxies=_proxies(env, "ICC_GATEWAY_TRUSTED_PROXIES"),
            session_hours=number(env, "ICC_GATEWAY_SESSION_HOURS", 12.0, least=0.01),
            web_dir=Path(env["ICC_GATEWAY_WEB_DIR"]) if env.get("ICC_GATEWAY_WEB_DIR") else None,
            leaflet_dir=Path(leaflet),
            picture=PictureSettings(
                position_interval_s=number(env, "ICC_GATEWAY_POSITION_INTERVAL_S", 1.0, least=0.0),
                resync_every_s=number(env, "ICC_GATEWAY_RESYNC_S", 300.0, least=1.0),
            ),
            kpis=kpi_settings_from_env(env),
            tls=TlsConfig.from_env("gateway", env),
            partner_address=env.get("ICC_GATEWAY_PARTNER_ADDR", "").strip(),
        )

    def screen_dir(self) -> Path:
        """The screen's static files: `ICC_GATEWAY_WEB_DIR`, else the package's `web/`."""
        if self.web_dir is not None:
            return self.web_dir
        return Path(str(resources.files("icc_gateway") / "web"))
