"""The deployment's topology on one machine: three nats-servers, two replicas of each service.

Each nats-server runs the deployment's own `deploy/nats/nats.conf` (accounts, users,
`sync_interval: always`, lame duck), adapted only where one machine differs from three:
its ports, its store directory and the routes to the other two. Each service connects as
its own NATS user with the development passwords of `docker-compose.yml`, to all three
nodes, and declares its streams with three replicas. `icc run --cluster` starts it (see
`start`); the fault suite (`tests/cluster`) starts the same layout and then breaks it.
"""

import ipaddress
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

NODES = 3
REPLICAS = 2
# `icc run --cluster`: replica i of a service listens on its port + i x this (the second
# incidents replica on 50151 beside 50051), its metrics likewise.
REPLICA_PORT_STEP = 100
# The passwords docker-compose.yml defaults to: development only.
NATS_PASSWORDS = {
    "INCIDENTS_NATS_PASSWORD": "incidents-dev",
    "RESOURCES_NATS_PASSWORD": "resources-dev",
    "DISPATCH_NATS_PASSWORD": "dispatch-dev",
    "GATEWAY_NATS_PASSWORD": "gateway-dev",
    "DEVICES_NATS_PASSWORD": "devices-dev",
    "OPS_NATS_PASSWORD": "ops-dev",
    "SIMULATOR_NATS_PASSWORD": "simulator-dev",
    "NATS_SYS_PASSWORD": "sys-dev",
}


def password_variable(user: str) -> str:
    """The variable deploy/nats/nats.conf reads user `user`'s password from."""
    return "NATS_SYS_PASSWORD" if user == "sys" else f"{user.upper()}_NATS_PASSWORD"


def user_of(variable: str) -> str:
    """The user whose password `variable` holds (the inverse of `password_variable`)."""
    return (
        "sys"
        if variable == "NATS_SYS_PASSWORD"
        else variable.removesuffix("_NATS_PASSWORD").lower()
    )


@dataclass(frozen=True)
class NatsNode:
    name: str
    host: str
    client_port: int
    route_port: int
    monitor_port: int
    store_dir: Path

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.client_port}"

    @property
    def route(self) -> str:
        return f"nats-route://{self.host}:{self.route_port}"

    @property
    def healthz(self) -> str:
        return f"http://{self.host}:{self.monitor_port}/healthz"


def deployment_nats_conf() -> Path:
    """`ICC_NATS_CONF`, else the repository's `deploy/nats/nats.conf`."""
    override = os.environ.get("ICC_NATS_CONF")
    if override:
        return Path(override)
    for parent in Path(__file__).resolve().parents:
        candidate = parent / "deploy" / "nats" / "nats.conf"
        if candidate.exists():
            return candidate
    raise FileNotFoundError("deploy/nats/nats.conf not found: set ICC_NATS_CONF to its path")


# What is adapted: each setting expected exactly once in the deployment's file.
_ADAPT = {
    "port": r"(?m)^port: \d+$",
    "http_port": r"(?m)^http_port: \d+$",
    "store_dir": r'(?m)^(?P<indent>\s*)store_dir: "[^"]*"$',
    "listen": r'(?m)^(?P<indent>\s*)listen: "[^"]*"$',
    "routes": r"(?ms)^(?P<indent>\s*)routes: \[.*?\]$",
}


def nats_config(template: str, node: NatsNode, nodes: Sequence[NatsNode]) -> str:
    """The deployment's configuration for `node` of `nodes` on this machine."""
    routes = "".join(f'\n    "{n.route}"' for n in nodes)
    values = {
        "port": f"port: {node.client_port}\nhost: {node.host}",
        "http_port": f"http: {node.host}:{node.monitor_port}",
        "store_dir": f'store_dir: "{node.store_dir}"',
        "listen": f'listen: "{node.host}:{node.route_port}"',
        "routes": f"routes: [{routes}\n  ]",
    }
    text = template
    for key, pattern in _ADAPT.items():
        value = values[key]

        def indented(m: re.Match[str], value: str = value) -> str:
            return (m.groupdict().get("indent") or "") + value

        text, found = re.subn(pattern, indented, text)
        if found != 1:
            raise ValueError(f"deploy/nats/nats.conf: expected one `{key}` setting, found {found}")
    return text


def single_node_config(template: str, node: NatsNode) -> str:
    """The deployment's configuration for one server alone: its `cluster` block left out
    (no routes to form a cluster with), everything else as deployed: the same users,
    permissions and JetStream settings."""
    text = nats_config(template, node, [node])
    text, found = re.subn(r"(?ms)^cluster \{.*?^\}\n?", "", text)
    if found != 1:
        raise ValueError(f"deploy/nats/nats.conf: expected one `cluster` block, found {found}")
    return text


def nats_env(node: NatsNode, passwords: Mapping[str, str] = NATS_PASSWORDS) -> dict[str, str]:
    """What a node's configuration reads from its environment."""
    return {"NATS_SERVER_NAME": node.name, **passwords}


def bus_env(
    service: str, nodes: Sequence[NatsNode], passwords: Mapping[str, str] = NATS_PASSWORDS
) -> dict[str, str]:
    """A service's bus settings: every node, its own user, as many stream replicas as
    nodes."""
    return {
        "ICC_NATS_URL": ",".join(n.url for n in nodes),
        "ICC_NATS_REPLICAS": str(len(nodes)),
        "ICC_NATS_USER": service,
        "ICC_NATS_PASSWORD": passwords[password_variable(service)],
    }


def write_configs(nodes: Sequence[NatsNode], conf_dir: Path) -> dict[str, Path]:
    """Each node's configuration file under `conf_dir`, by node name."""
    template = deployment_nats_conf().read_text(encoding="utf-8")
    conf_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for node in nodes:
        path = conf_dir / f"{node.name}.conf"
        path.write_text(nats_config(template, node, nodes), encoding="utf-8")
        paths[node.name] = path
    return paths


def nodes_at(host: str, first_port: int, store: Path) -> list[NatsNode]:
    """Three nodes on `host`, each with three consecutive ports from `first_port` on."""
    return [
        NatsNode(
            name=f"nats-{i + 1}",
            host=host,
            client_port=first_port + 3 * i,
            route_port=first_port + 3 * i + 1,
            monitor_port=first_port + 3 * i + 2,
            store_dir=store / f"nats-{i + 1}",
        )
        for i in range(NODES)
    ]


def database_urls(
    services: Sequence[str], postgres_url: str | None, var_dir: Path
) -> Mapping[str, str]:
    """Each service's database: one PostgreSQL database each when a server is given,
    else a SQLite file that its replicas share (WAL, write transactions that take the
    lock up front: safe for processes of one machine)."""
    if postgres_url:
        base = postgres_url.rsplit("/", 1)[0]
        return {s: f"{base}/icc_{s}" for s in services}
    return {s: f"sqlite+aiosqlite:///{var_dir / f'{s}.db'}" for s in services}


def replica_port(port: int, index: int) -> int:
    """The port replica `index` (from 0) of a service on `port` listens on."""
    return port + REPLICA_PORT_STEP * index


def replicas_target(host: str, port: int, replicas: int = REPLICAS) -> str:
    """A gRPC target naming every replica (`ipv4:h:p1,h:p2`): the client fails over
    between them. gRPC lists addresses, not names, so `host` must be an IP address."""
    try:
        version = ipaddress.ip_address(host).version
    except ValueError:
        raise ValueError(f"a cluster's host must be an IP address, got {host!r}") from None
    shown = host if version == 4 else f"[{host}]"
    addresses = ",".join(f"{shown}:{replica_port(port, i)}" for i in range(replicas))
    return f"ipv{version}:{addresses}"
