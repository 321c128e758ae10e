"""Where `icc run` puts each process: ports, addresses and the var folder, from `ICC_*`."""

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from icc_kernel.settings import number, port


@dataclass(frozen=True)
class StackConfig:
    var_dir: Path
    host: str
    nats_port: int
    nats_monitor_port: int
    incidents_port: int
    resources_port: int
    dispatch_port: int
    ops_port: int
    gateway_port: int
    # The gateway's partner listener: EIDO over WebSocket (wss://HOST:PORT/eido).
    gateway_partner_port: int
    tracesink_port: int
    tracesink_query_port: int
    incidents_metrics_port: int
    resources_metrics_port: int
    dispatch_metrics_port: int
    ops_metrics_port: int
    gateway_metrics_port: int
    # The living city's calls a minute (`ICC_SIMULATOR_RATE`); 0: no simulator.
    simulator_rate: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "StackConfig":
        return cls(
            var_dir=Path(env.get("ICC_VAR_DIR", "var")).resolve(),
            host=env.get("ICC_HOST", "127.0.0.1"),
            # Not 4222: a system nats-server often holds it, and this one is private.
            nats_port=port(env, "ICC_NATS_PORT", 14222),
            nats_monitor_port=port(env, "ICC_NATS_MONITOR_PORT", 18222),
            incidents_port=port(env, "ICC_INCIDENTS_PORT", 50051),
            resources_port=port(env, "ICC_RESOURCES_PORT", 50052),
            dispatch_port=port(env, "ICC_DISPATCH_PORT", 50053),
            ops_port=port(env, "ICC_OPS_PORT", 50054),
            gateway_port=port(env, "ICC_GATEWAY_PORT", 8080),
            gateway_partner_port=port(env, "ICC_GATEWAY_PARTNER_PORT", 8443),
            tracesink_port=port(env, "ICC_TRACESINK_PORT", 4317),  # OTLP/gRPC's own port
            tracesink_query_port=port(env, "ICC_TRACESINK_QUERY_PORT", 4320),
            # 9464 is OpenTelemetry's Prometheus exporter port; one each from there.
            incidents_metrics_port=port(env, "ICC_INCIDENTS_METRICS_PORT", 9464),
            resources_metrics_port=port(env, "ICC_RESOURCES_METRICS_PORT", 9465),
            dispatch_metrics_port=port(env, "ICC_DISPATCH_METRICS_PORT", 9466),
            gateway_metrics_port=port(env, "ICC_GATEWAY_METRICS_PORT", 9467),
            ops_metrics_port=port(env, "ICC_OPS_METRICS_PORT", 9468),
            simulator_rate=number(env, "ICC_SIMULATOR_RATE", 2.0, least=0.0),
        )

    @property
    def nats_url(self) -> str:
        return f"nats://{self.host}:{self.nats_port}"

    @property
    def otlp_endpoint(self) -> str:
        return f"http://{self.host}:{self.tracesink_port}"

    @property
    def tracesink_query_url(self) -> str:
        """The sink's waterfalls as JSON (`/incidents/ID/waterfall`), for the gateway and
        `icc trace --sink`: HTTPS with a client certificate (theirs)."""
        return f"https://{self.host}:{self.tracesink_query_port}"

    @property
    def pki_dir(self) -> Path:
        """The local CA and every process's certificate (`icc_pki.local`)."""
        return self.var_dir / "pki"

    @property
    def traces_db(self) -> Path:
        return self.var_dir / "traces.db"

    def metrics_url(self, port: int) -> str:
        return f"http://{self.host}:{port}/metrics"

    @property
    def screen_url(self) -> str:
        """The dispatcher screen (and the gateway's HTTP API under /api)."""
        return f"http://{self.host}:{self.gateway_port}/"

    def partners_url(self, port: int) -> str:
        """Partners' EIDO subscribe/notify (mutual TLS, a partner's certificate)."""
        return f"wss://{self.host}:{port}/eido"

    def endpoints(self) -> dict[str, str]:
        return {
            "nats": self.nats_url,
            "nats_monitoring": f"http://{self.host}:{self.nats_monitor_port}",
            "trace_sink_otlp": self.otlp_endpoint,
            "trace_sink_query": self.tracesink_query_url,
            "incidents_grpc": f"{self.host}:{self.incidents_port}",
            "resources_grpc": f"{self.host}:{self.resources_port}",
            "dispatch_grpc": f"{self.host}:{self.dispatch_port}",
            "ops_grpc": f"{self.host}:{self.ops_port}",
            "incidents_metrics": self.metrics_url(self.incidents_metrics_port),
            "resources_metrics": self.metrics_url(self.resources_metrics_port),
            "dispatch_metrics": self.metrics_url(self.dispatch_metrics_port),
            "ops_metrics": self.metrics_url(self.ops_metrics_port),
            "gateway_http": self.screen_url,
            "gateway_partners": self.partners_url(self.gateway_partner_port),
            "gateway_metrics": self.metrics_url(self.gateway_metrics_port),
        }
