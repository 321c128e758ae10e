"""ICC's services as child processes on one nats-server, as the end-to-end harnesses run them.

Each service (`python -m icc_<name>.main`) gets a free port, its own SQLite file in the
work directory, quiet logs and no exporter, and the addresses of the system's gRPC
services (`ICC_<NAME>_TARGET`), and its certificate of the run's CA (`Processes.pki`):
every gRPC port speaks mutual TLS, as deployed. Incidents and resources start first; dispatch once
resources serves (it loads its fleet from it).
"""

from collections.abc import Iterable, Mapping
from pathlib import Path

from bench.procs import Child, Processes, wait_serving
from icc_testing import NatsServer, free_port

GRPC_SERVICES = {
    "incidents": "icc.incident.v1.IncidentService",
    "resources": "icc.resource.v1.ResourceService",
    "dispatch": "icc.dispatch.v1.DispatchService",
}
QUIET = {"ICC_LOG_LEVEL": "WARNING", "ICC_OTLP_ENDPOINT": ""}


class System:
    """The services named, their ports, processes and gRPC channels (`close()` them)."""

    def __init__(
        self, procs: Processes, server: NatsServer, work: Path, names: Iterable[str]
    ) -> None:
        self._procs = procs
        self._work = work
        self.ports = {name: free_port() for name in names}
        self.common = {**QUIET, "ICC_NATS_URL": server.url}
        self.children: dict[str, Child] = {}
        self.channels = {
            name: procs.channel(self.address(name)) for name in self.ports if name in GRPC_SERVICES
        }

    def address(self, name: str) -> str:
        return f"127.0.0.1:{self.ports[name]}"

    def tls_env(self, identity: str) -> dict[str, str]:
        """`ICC_TLS_*` of a process that calls the services as `identity`."""
        return self._procs.pki.env(identity)

    def targets(self) -> dict[str, str]:
        """What points a process at the system's gRPC services."""
        return {f"ICC_{name.upper()}_TARGET": self.address(name) for name in self.channels}

    def start(self, name: str, env: Mapping[str, str] | None = None) -> Child:
        upper = name.upper()
        child = self._procs.python(
            name,
            ["-m", f"icc_{name}.main"],
            env={
                **self.common,
                **self.targets(),
                f"ICC_{upper}_ADDR": self.address(name),
                f"ICC_{upper}_DB_URL": f"sqlite+aiosqlite:///{self._work / f'{name}.db'}",
                **self._procs.pki.env(name),
                **(env or {}),
            },
        )
        self.children[name] = child
        return child

    async def serving(self, name: str, timeout_s: float) -> None:
        """Waits until the service answers its health check as SERVING."""
        child = self.children[name]
        await wait_serving(self.channels[name], child, GRPC_SERVICES[name], timeout_s)

    async def start_services(
        self, timeout_s: float, dispatch_env: Mapping[str, str] | None = None
    ) -> None:
        """Incidents and resources, then dispatch; each serving on return."""
        for name in ("incidents", "resources"):
            self.start(name)
        for name in ("incidents", "resources"):
            await self.serving(name, timeout_s)
        self.start("dispatch", dispatch_env)
        await self.serving("dispatch", timeout_s)

    async def close(self) -> None:
        for channel in self.channels.values():
            await channel.close()
