"""Starting the local system: a private nats-server, the trace sink and each service,
each checked ready before the next (the processes themselves are `icc_cli.supervisor`'s)."""

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc

from icc_bus import NatsServerMissing, nats_server_binary
from icc_cli import cluster
from icc_cli.certificates import ENGINEER, ensure_local_pki, tls_env, tls_of
from icc_cli.config import StackConfig
from icc_cli.local_secrets import local_nats_passwords, local_token_key, nats_passwords_path
from icc_cli.readiness import StackError, check_port_free, wait_healthy, wait_http_ok, wait_tcp
from icc_cli.supervisor import Child, Probe, Stopped, Supervisor

# Stop order: the services (and the gateway, the simulator) before what they drain into.
INFRASTRUCTURE, SERVICES = 0, 1


def find_nats_server() -> str:
    try:
        return nats_server_binary()
    except NatsServerMissing as e:
        raise StackError(str(e)) from None


@dataclass
class Stack:
    config: StackConfig
    supervisor: Supervisor = field(init=False)
    # The `tls` section of endpoints.json: the CA and every identity's files.
    tls: dict[str, Any] = field(default_factory=dict)
    # The three nats-servers of `icc run --cluster` (`start_nats_cluster`); empty when one
    # nats-server serves (`start_nats`).
    nats_nodes: list[cluster.NatsNode] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.supervisor = Supervisor(self.config.var_dir)

    def ensure_pki(self) -> dict[str, Any]:
        """The local CA and certificates under var/pki/, made or renewed where needed."""
        self.tls = ensure_local_pki(self.config.pki_dir, self.config.host)
        return self.tls

    def tls_env(self, name: str) -> dict[str, str]:
        """`ICC_TLS_*` of the process that runs as identity `name`."""
        return tls_env(self.tls, name)

    def credentials(self) -> grpc.ChannelCredentials:
        """The on-call engineer's: what start-up asks health with."""
        return tls_of(self.tls, ENGINEER).channel_credentials()

    def _spawn(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str] | None = None,
        *,
        probe: Probe,
        wave: int = SERVICES,
    ) -> Child:
        return self.supervisor.spawn(name, argv, env or {}, probe=probe, wave=wave)

    @property
    def nats_node(self) -> cluster.NatsNode:
        c = self.config
        # No routes: one server alone (the route port is never listened on).
        return cluster.NatsNode(
            "icc-local", c.host, c.nats_port, 0, c.nats_monitor_port, c.var_dir / "nats"
        )

    def start_nats(self) -> Child:
        """The deployment's nats-server configuration on one server: each service connects
        as its own user, allowed only its own subjects; the passwords are made once for
        this var folder (`local_nats_passwords`)."""
        c = self.config
        check_port_free(c.host, c.nats_port, "ICC_NATS_PORT")
        check_port_free(c.host, c.nats_monitor_port, "ICC_NATS_MONITOR_PORT")
        binary = find_nats_server()
        node = self.nats_node
        passwords = local_nats_passwords(c.var_dir)
        conf = c.var_dir / "nats.conf"
        template = cluster.deployment_nats_conf().read_text(encoding="utf-8")
        conf.write_text(cluster.single_node_config(template, node), encoding="utf-8")
        child = self._spawn(
            "nats-server",
            [binary, "-c", str(conf)],
            cluster.nats_env(node, passwords),
            # /healthz includes JetStream.
            probe=Probe("http", f"http://{c.host}:{c.nats_monitor_port}/healthz"),
            wave=INFRASTRUCTURE,
        )
        wait_tcp(child, c.host, c.nats_port, timeout_s=15)
        return child

    def start_nats_cluster(self) -> list[cluster.NatsNode]:
        """Three nats-servers on the deployment's `deploy/nats/nats.conf` (`icc_cli.cluster`):
        node i listens for clients on ICC_NATS_PORT + 3i, for routes on the port after, for
        monitoring on the one after that; each healthy (JetStream included) before return."""
        c = self.config
        nodes = cluster.nodes_at(c.host, c.nats_port, c.var_dir / "nats-cluster")
        for node in nodes:
            for port in (node.client_port, node.route_port, node.monitor_port):
                check_port_free(c.host, port, "ICC_NATS_PORT")
        try:
            confs = cluster.write_configs(nodes, c.var_dir / "nats-conf")
        except (OSError, ValueError) as exc:
            raise StackError(f"the deployment's NATS configuration: {exc}") from None
        binary = find_nats_server()
        children = [
            self._spawn(
                node.name,
                [binary, "--config", str(confs[node.name])],
                cluster.nats_env(node),
                probe=Probe("http", node.healthz),
                wave=INFRASTRUCTURE,
            )
            for node in nodes
        ]
        # A node's JetStream is healthy once the three have elected a meta leader.
        for child, node in zip(children, nodes, strict=True):
            wait_http_ok(child, node.healthz, timeout_s=60)
        self.nats_nodes = nodes
        return nodes

    def target(self, port: int) -> str:
        """Where a client reaches the service on `port`: every replica in a cluster."""
        if self.nats_nodes:
            return cluster.replicas_target(self.config.host, port)
        return f"{self.config.host}:{port}"

    def start_tracesink(self) -> Child:
        """The OTLP receiver every service exports spans to; listening before returning."""
        c = self.config
        child = self._spawn_module(
            "tracesink",
            "icc_tracesink.main",
            {
                "ICC_TRACESINK_ADDR": f"{c.host}:{c.tracesink_port}",
                "ICC_TRACESINK_QUERY_ADDR": f"{c.host}:{c.tracesink_query_port}",
                "ICC_TRACESINK_DB": str(c.traces_db),
                "ICC_VAR_DIR": str(c.var_dir),
                # Its query endpoint: HTTPS, timelines to the gateway and engineers only.
                **self.tls_env("tracesink"),
            },
            ports={
                "ICC_TRACESINK_PORT": c.tracesink_port,
                "ICC_TRACESINK_QUERY_PORT": c.tracesink_query_port,
            },
            probe=Probe("http", f"{c.tracesink_query_url}/healthz"),
            wave=INFRASTRUCTURE,
        )
        wait_tcp(child, c.host, c.tracesink_port, timeout_s=15)
        return child

    def start_service(
        self,
        name: str,
        port: int,
        metrics_port: int,
        env: Mapping[str, str] | None = None,
        *,
        replica: int | None = None,
    ) -> Child:
        """`python -m icc_<name>.main`, listening on `port`, healthy before returning;
        `replica` (from 0) of a cluster's: on its own ports, named `<name>-<replica + 1>`."""
        c = self.config
        child_name = name
        if replica is not None:
            child_name = f"{name}-{replica + 1}"
            port = cluster.replica_port(port, replica)
            metrics_port = cluster.replica_port(metrics_port, replica)
        child = self._spawn_module(
            child_name,
            f"icc_{name}.main",
            {
                f"ICC_{name.upper()}_ADDR": f"{c.host}:{port}",
                **self._service_env(metrics_port, name),
                **self.tls_env(name),
                **(env or {}),
            },
            ports={
                f"ICC_{name.upper()}_PORT": port,
                f"ICC_{name.upper()}_METRICS_PORT": metrics_port,
            },
            probe=Probe("grpc", f"{c.host}:{port}"),
        )
        wait_healthy(child, f"{c.host}:{port}", self.credentials(), timeout_s=60)
        return child

    def start_gateway(self, replica: int | None = None) -> Child:
        """The gateway (HTTP): the dispatcher screen and its API, after the services it
        reads the picture from; ready when `/healthz` answers (the picture is loaded).
        `replica` as in `start_service`."""
        c = self.config
        index = replica or 0
        port = cluster.replica_port(c.gateway_port, index)
        metrics_port = cluster.replica_port(c.gateway_metrics_port, index)
        partner_port = cluster.replica_port(c.gateway_partner_port, index)
        healthz = f"http://{c.host}:{port}/healthz"
        child = self._spawn_module(
            "gateway" if replica is None else f"gateway-{replica + 1}",
            "icc_gateway.main",
            {
                "ICC_GATEWAY_ADDR": f"{c.host}:{port}",
                # Partners' EIDO over WebSocket, with the gateway's certificate.
                "ICC_GATEWAY_PARTNER_ADDR": f"{c.host}:{partner_port}",
                "ICC_INCIDENTS_TARGET": self.target(c.incidents_port),
                "ICC_RESOURCES_TARGET": self.target(c.resources_port),
                "ICC_DISPATCH_TARGET": self.target(c.dispatch_port),
                # Supervisors' trace timeline (`GET /api/v1/incidents/ID/trace`).
                "ICC_TRACESINK_QUERY_URL": c.tracesink_query_url,
                **self._service_env(metrics_port, "gateway"),
                **self.tls_env("gateway"),
            },
            ports={
                "ICC_GATEWAY_PORT": port,
                "ICC_GATEWAY_METRICS_PORT": metrics_port,
                "ICC_GATEWAY_PARTNER_PORT": partner_port,
            },
            probe=Probe("http", healthz),
        )
        wait_http_ok(child, healthz, timeout_s=60)
        return child

    def start_simulator(self) -> Child | None:
        """The living city at a gentle rate (`ICC_SIMULATOR_RATE` calls a minute, default 2;
        `0` starts none): drills (`exercise`) driven through the public API, read from
        `endpoints.json`, so it starts after that file is written."""
        c = self.config
        if c.simulator_rate == 0:
            return None
        return self._spawn_module(
            "simulator",
            "icc_simulator.main",
            {
                "ICC_VAR_DIR": str(c.var_dir),
                "ICC_SIMULATOR_DURATION": os.environ.get("ICC_SIMULATOR_DURATION", "forever"),
                **self._bus_user("simulator"),
                **self._telemetry_env(),
            },
            ports={},
            probe=Probe("process"),
        )

    def _spawn_module(
        self,
        name: str,
        module: str,
        env: Mapping[str, str],
        *,
        ports: Mapping[str, int],
        probe: Probe,
        wave: int = SERVICES,
    ) -> Child:
        """`python -m module`, once each of `ports` is free (keyed by the variable that
        moves it, for the message when it is not)."""
        for variable, port in ports.items():
            check_port_free(self.config.host, port, variable)
        return self._spawn(name, [sys.executable, "-m", module], env, probe=probe, wave=wave)

    def _service_env(self, metrics_port: int, service: str) -> dict[str, str]:
        """What every service and the gateway are told: the bus (as the service's own NATS
        user), metrics, traces, var, and the one key their page tokens and cursors are
        signed with. In a cluster the bus is every node, with streams of three replicas."""
        c = self.config
        return {
            "ICC_TOKEN_KEY": local_token_key(c.var_dir),
            # Host too: the metrics URL listed in the endpoints is where it really listens.
            "ICC_METRICS_HOST": c.host,
            "ICC_METRICS_PORT": str(metrics_port),
            **self._bus_user(service),
            "ICC_VAR_DIR": str(c.var_dir),
            **self._telemetry_env(),
        }

    def _bus_user(self, user: str) -> dict[str, str]:
        """`ICC_NATS_*` of a process that connects to the bus as `user`: the local
        server with this var folder's passwords, or every node of the cluster with the
        development passwords of docker-compose.yml."""
        if self.nats_nodes:
            return cluster.bus_env(user, self.nats_nodes)
        return cluster.bus_env(user, [self.nats_node], local_nats_passwords(self.config.var_dir))

    def _telemetry_env(self) -> dict[str, str]:
        """Every process sends its spans to the local trace sink."""
        return {
            "ICC_OTLP_ENDPOINT": self.config.otlp_endpoint,
            # Metrics are read from each Prometheus endpoint; the sink would drop them.
            "ICC_OTLP_METRICS": "0",
            # Spans reach the sink within half a second (SDK default 5 s), for `icc trace`.
            "OTEL_BSP_SCHEDULE_DELAY": "500",
        }

    def write_endpoints(self) -> Path:
        """The addresses, and the `tls` section (the CA, each identity's files)."""
        path = self.config.var_dir / "endpoints.json"
        data: dict[str, Any] = {**self.config.endpoints(), "tls": self.tls}
        if not self.nats_nodes:
            # Where tools find a bus user's password (`icc dlq` as ops, the simulator).
            data["nats_passwords"] = str(nats_passwords_path(self.config.var_dir))
        else:
            data.update(cluster_endpoints(self.config, self.nats_nodes))
        path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        return path

    def exited(self) -> list[Child]:
        """Every process that has ended."""
        return [c for c in self.supervisor.children if c.process.poll() is not None]

    def stop(self) -> Stopped:
        """Stops every process (see `Supervisor.stop`)."""
        return self.supervisor.stop()


def cluster_endpoints(c: StackConfig, nodes: list[cluster.NatsNode]) -> dict[str, Any]:
    """What differs in a cluster: the bus is three nodes (comma-separated, each client
    with its own NATS user, see README), a service's gRPC target names both replicas,
    and `replicas` lists each replica's address."""
    grpc_ports = {
        "incidents_grpc": c.incidents_port,
        "resources_grpc": c.resources_port,
        "dispatch_grpc": c.dispatch_port,
        "ops_grpc": c.ops_port,
    }
    replicas: dict[str, list[str]] = {
        "nats": [n.url for n in nodes],
        "nats_monitoring": [f"http://{n.host}:{n.monitor_port}" for n in nodes],
        "gateway_http": [
            f"http://{c.host}:{cluster.replica_port(c.gateway_port, i)}/"
            for i in range(cluster.REPLICAS)
        ],
        "gateway_partners": [
            c.partners_url(cluster.replica_port(c.gateway_partner_port, i))
            for i in range(cluster.REPLICAS)
        ],
    }
    for key, port in grpc_ports.items():
        replicas[key] = [
            f"{c.host}:{cluster.replica_port(port, i)}" for i in range(cluster.REPLICAS)
        ]
    return {
        "nats": ",".join(replicas["nats"]),
        "nats_monitoring": replicas["nats_monitoring"][0],
        **{key: cluster.replicas_target(c.host, port) for key, port in grpc_ports.items()},
        "replicas": replicas,
    }
