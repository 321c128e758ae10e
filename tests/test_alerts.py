"""A real Prometheus (Debian's) scraping the real services, with the deployment's alert
rules: when dispatch is frozen (SIGSTOP) while P1 calls keep coming, "dispatch not
consuming" fires within its `for:` window; when dispatch resumes (SIGCONT), it clears.

The rules are deploy/prometheus/alerts.yml's own expressions; only their durations are
made short (a 1 s scrape, `for: 5s`, ranges of 10 s), so the test takes seconds, not the
minutes production waits.
"""

import asyncio
import contextlib
import re
import shutil
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from icc.common.v1 import common_pb2
from icc.incident.v1 import incident_pb2
from icc.incident.v1 import incident_service_pb2 as ipb
from icc.incident.v1 import incident_service_pb2_grpc as incident_grpc
from icc_testing import NatsServer, Pki, ServiceProcess, free_port
from tests.metric_names import exported_metric_names

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
ALERT = "ICCDispatchNotConsuming"
FOR_S = 5
RANGE = "10s"
SERVICES = ("incidents", "resources", "dispatch")
# P1 types that need few units of kinds the seeded fleet has plenty of, taken in turn.
P1_TYPES = ("MEDICAL.CHEST_PAIN", "POLICE.KIDNAPPING", "POLICE.SUSPICIOUS_PACKAGE")

pytestmark = pytest.mark.timeout(90)


def short_rules() -> dict[str, Any]:
    """alerts.yml with every `for:` and every range made short; expressions unchanged."""
    rules: dict[str, Any] = yaml.safe_load(RULES.read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            rule["expr"] = re.sub(r"\[\d+[smhd]\]", f"[{RANGE}]", rule["expr"])
            if "for" in rule:
                rule["for"] = f"{FOR_S}s"
    return rules


@dataclass
class Prometheus:
    process: subprocess.Popen[bytes]
    url: str

    async def get(self, path: str, **params: str) -> Any:
        async with httpx.AsyncClient() as http:
            reply = await http.get(f"{self.url}{path}", params=params, timeout=5)
        reply.raise_for_status()
        return reply.json()["data"]

    async def alerts(self, name: str) -> list[dict[str, Any]]:
        found = await self.get("/api/v1/alerts")
        return [a for a in found["alerts"] if a["labels"]["alertname"] == name]

    async def value(self, query: str) -> float | None:
        result = await self.get("/api/v1/query", query=query)
        return float(result["result"][0]["value"][1]) if result["result"] else None


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> float:
    """Seconds until `check` holds, polled every 0.25 s."""
    start = time.monotonic()
    while not await check():
        assert time.monotonic() - start < timeout_s, f"{what}: not within {timeout_s} s"
        await asyncio.sleep(0.25)
    return time.monotonic() - start


def start_prometheus(tmp_path: Path, metrics_ports: dict[str, int]) -> Prometheus:
    """Debian's prometheus on a free port, scraping every second with the short rules."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus not found: apt-get install -y prometheus (Debian's package)")
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(short_rules()))
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yml"],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [f"127.0.0.1:{port}"]}]}
            for job, port in metrics_ports.items()
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    with (tmp_path / "prometheus.log").open("ab") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Prometheus(process, f"http://127.0.0.1:{port}")


def stop_process(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.asynccontextmanager
async def prometheus(tmp_path: Path, metrics_ports: dict[str, int]) -> AsyncIterator[Prometheus]:
    server = await asyncio.to_thread(start_prometheus, tmp_path, metrics_ports)
    try:

        async def ready() -> bool:
            assert server.process.poll() is None, f"prometheus exited: see {tmp_path}"
            with contextlib.suppress(httpx.HTTPError):
                async with httpx.AsyncClient() as http:
                    return (await http.get(f"{server.url}/-/ready", timeout=1)).status_code == 200
            return False

        await eventually(ready, 20, "prometheus ready")
        yield server
    finally:
        await asyncio.to_thread(stop_process, server.process)


def service(
    name: str, nats: NatsServer, tmp_path: Path, ports: dict[str, tuple[int, int]], pki: Pki
) -> ServiceProcess:
    grpc_port, metrics_port = ports[name]
    env = {
        f"ICC_{name.upper()}_ADDR": f"127.0.0.1:{grpc_port}",
        f"ICC_{name.upper()}_DB_URL": f"sqlite+aiosqlite:///{tmp_path / (name + '.db')}",
        "ICC_NATS_URL": nats.url,
        "ICC_RESOURCES_TARGET": f"127.0.0.1:{ports['resources'][0]}",
        "ICC_METRICS_PORT": str(metrics_port),
        "ICC_LOG_LEVEL": "WARNING",
        **pki.env(name),
    }
    return ServiceProcess(
        f"icc_{name}.main",
        f"127.0.0.1:{grpc_port}",
        env,
        tmp_path / f"{name}.log",
        pki.credentials(),
    )


async def keep_calling(target: str, stop: asyncio.Event, pki: Pki) -> int:
    """A P1 call every 0.5 s until `stop`; returns how many were taken."""
    n = 0
    async with pki.channel(target) as channel:
        stub = incident_grpc.IncidentServiceStub(channel)
        while not stop.is_set():
            incident = incident_pb2.Incident(
                type_code=P1_TYPES[n % len(P1_TYPES)],
                location=common_pb2.Location(lat=10.7740, lon=106.7035, ward="Sài Gòn"),
            )
            await stub.CreateIncident(ipb.CreateIncidentRequest(incident=incident), timeout=5)
            n += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.5)
    return n


async def test_dispatch_not_consuming_fires_when_dispatch_freezes_and_clears_when_it_resumes(
    pki: Pki, nats_server: NatsServer, tmp_path: Path
) -> None:
    # One test from start to end: the alert's life needs the services, Prometheus and a
    # stream of calls together, in this order (dispatching, frozen, resumed).
    began = time.monotonic()
    ports = {name: (free_port(), free_port()) for name in SERVICES}
    procs = {name: service(name, nats_server, tmp_path, ports, pki) for name in SERVICES}
    stop_calling = asyncio.Event()
    caller: asyncio.Task[int] | None = None
    try:
        await asyncio.gather(*(asyncio.to_thread(p.start) for p in procs.values()))
        started = time.monotonic() - began
        dispatch = procs["dispatch"].process
        assert dispatch is not None
        async with prometheus(tmp_path, {n: ports[n][1] for n in SERVICES}) as prom:
            caller = asyncio.create_task(keep_calling(procs["incidents"].target, stop_calling, pki))
            dispatched = (
                "sum(increase(icc_incident_time_to_dispatch_seconds_count"
                f'{{icc_incident_priority="P1"}}[{RANGE}]))'
            )

            async def dispatching() -> bool:
                return (await prom.value(dispatched) or 0) > 0

            warm = await eventually(dispatching, 30, "P1 incidents dispatched")

            async def quiet() -> bool:
                # Calls may come in before the first dispatch is scraped (a slow start can
                # even fire it): quiet once P1s get units.
                return await prom.alerts(ALERT) == []

            await eventually(quiet, 5, f"{ALERT} quiet while dispatch works")

            dispatch.send_signal(signal.SIGSTOP)
            paused = time.monotonic()
            try:

                async def firing() -> bool:
                    return [a["state"] for a in await prom.alerts(ALERT)] == ["firing"]

                # No dispatch left in the range, then `for:`, plus a scrape and an
                # evaluation or two.
                fired_after = await eventually(firing, 10 + FOR_S + 8, f"{ALERT} firing")
                # The frozen replica fails its scrapes too.
                down = await prom.alerts("ICCServiceDown")
                assert ("dispatch", "firing") in [(a["labels"]["job"], a["state"]) for a in down]
            finally:
                dispatch.send_signal(signal.SIGCONT)
            resumed = time.monotonic()

            async def cleared() -> bool:
                return await prom.alerts(ALERT) == []

            cleared_after = await eventually(cleared, 20, f"{ALERT} cleared")
            seen = set(await prom.get("/api/v1/label/__name__/values"))
        stop_calling.set()
        calls = await caller
    finally:
        stop_calling.set()
        if caller is not None and not caller.done():
            caller.cancel()
            with contextlib.suppress(BaseException):
                await caller
        for p in procs.values():
            if p.process is not None and p.process.poll() is None:
                p.process.send_signal(signal.SIGCONT)
        await asyncio.gather(*(asyncio.to_thread(p.stop) for p in procs.values()))

    assert fired_after >= FOR_S, "fired before its `for:` could have passed"
    print(
        f"\n{calls} P1 calls; fired {fired_after:.1f} s after the pause "
        f"(frozen {resumed - paused:.1f} s), cleared {cleared_after:.1f} s after resuming; "
        f"services up in {started:.1f} s, dispatching seen in {warm:.1f} s; "
        f"whole test {time.monotonic() - began:.1f} s"
    )
    # What Prometheus scraped is named as tests/metric_names.py says the exporter names it.
    ours = {name for name in seen if name.startswith(("icc_", "rpc_"))}
    assert ours and ours <= exported_metric_names(), ours - exported_metric_names()
