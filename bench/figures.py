"""What the figures mean: each one's label and unit, what it stands beside, and the goals."""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from bench.settings import Settings

Unit = Literal["ms", "/s", "rows/s", "n", "MB", "cores"]
# The rates dispatch's end-to-end benchmark and the paced floor run at.
RATES = Settings().dispatch_rates


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    unit: Unit
    reference: str = ""  # the figure in /work/shared/BASELINE.md, where it has one


FLOOR = [
    Figure("echo.seq.p50_ms", "gRPC aio echo, sequential p50", "ms", "0.495"),
    Figure("echo.seq.p99_ms", "gRPC aio echo, sequential p99", "ms"),
    Figure("echo.seq.rps", "gRPC aio echo, sequential", "/s", "1.9k"),
    Figure("echo.conc.rps", "gRPC aio echo, 32 concurrent clients", "/s", "6.7k"),
    Figure("sqlite.plain_rows_s", "sqlite3, 1 row per commit, WAL", "rows/s", "5.9k"),
    Figure("sqlite.core_rows_s", "SQLAlchemy async Core + aiosqlite, 1 row/commit", "rows/s"),
    Figure("sqlite.orm_rows_s", "SQLAlchemy async ORM + aiosqlite, 1 row/commit", "rows/s", "830"),
    Figure("js.seq.msgs_s", "JetStream publish+ack with Nats-Msg-Id, sequential", "/s", "~7k"),
    Figure("js.seq.p50_ms", "JetStream publish+ack, p50", "ms", "0.118 (no id)"),
    Figure("js.seq.p99_ms", "JetStream publish+ack, p99", "ms"),
    Figure("pipe.seq.p50_ms", "bare pipeline: call, sequential p50", "ms"),
    Figure("pipe.seq.p99_ms", "bare pipeline: call, sequential p99", "ms"),
    Figure("pipe.seq.rps", "bare pipeline: calls, sequential", "/s"),
    Figure("pipe.seq.e2e_p50_ms", "bare pipeline: call→event, sequential p50", "ms", "2.1"),
    Figure("pipe.seq.e2e_p99_ms", "bare pipeline: call→event, sequential p99", "ms", "3.8"),
    *(
        Figure(f"pipe.paced.{r}.e2e_p50_ms", f"bare pipeline: call→event at {r}/s, p50", "ms")
        for r in RATES
    ),
    Figure("pipe.conc.rps", "bare pipeline: calls, 32 clients", "/s"),
    Figure("pipe.conc.events_s", "bare pipeline: events at consumer, 32 clients", "/s", "~470"),
    Figure(
        "avl.core.msgs_s", "core NATS 100 B, publisher → subscriber process", "/s", "~270k (200 B)"
    ),
    Figure("avl.kv.seq.puts_s", "JetStream KV put, awaited one at a time", "/s", "~8k"),
    Figure("avl.kv.seq.p50_ms", "JetStream KV put, awaited, p50", "ms", "0.118"),
    Figure(
        "avl.kv.async.puts_s", "JetStream KV put, publish_async (4,000 in flight)", "/s", "40k–68k"
    ),
    Figure("avl.kv.gather.puts_s", "JetStream KV put, gathered 200 at a time", "/s", "40k–68k"),
    Figure("avl.kv.noack.puts_s", "JetStream KV put, core publish, no ack (until stored)", "/s"),
]


@dataclass(frozen=True)
class Pair:
    """A service figure and its bare-pipeline counterpart (same name after the prefix)."""

    name: str
    label: str
    unit: Unit

    @property
    def service(self) -> str:
        return f"svc.{self.name}"

    @property
    def bare(self) -> str:
        return f"pipe.{self.name}"


PAIRS = [
    Pair("seq.p50_ms", "CreateIncident sequential, p50", "ms"),
    Pair("seq.p99_ms", "CreateIncident sequential, p99", "ms"),
    Pair("seq.rps", "CreateIncident sequential, calls", "/s"),
    Pair("conc.rps", "CreateIncident 32 clients, calls", "/s"),
    Pair("conc.p50_ms", "CreateIncident 32 clients, p50", "ms"),
    Pair("conc.p99_ms", "CreateIncident 32 clients, p99", "ms"),
    Pair("seq.e2e_p50_ms", "call→event sequential, p50", "ms"),
    Pair("seq.e2e_p99_ms", "call→event sequential, p99", "ms"),
    Pair("conc.events_s", "call→event 32 clients, events at consumer", "/s"),
    Pair("conc.e2e_p50_ms", "call→event 32 clients, p50", "ms"),
    Pair("conc.e2e_p99_ms", "call→event 32 clients, p99", "ms"),
    Pair("seq.lost", "events not seen in time, sequential (sum)", "n"),
    Pair("conc.lost", "events not seen in time, 32 clients (sum)", "n"),
]


@dataclass(frozen=True)
class Row:
    """A service figure beside the bare-stack figure it is bounded by (if any)."""

    service: str
    label: str
    unit: Unit
    bare: str = ""


def _avl(key: str, label: str, unit: Unit, bare: str = "") -> Row:
    return Row(f"avl.svc.{key}", label, unit, bare)


AVL_ROWS = [
    _avl("offered_s", "reports offered by the publisher (2% bad on purpose)", "/s"),
    _avl(
        "positions_s",
        "positions/s sustained (at the offered rate), seen in the bucket",
        "/s",
        "avl.kv.async.puts_s",
    ),
    _avl("cpu_cores", "service CPU while ingesting (1.0 = one core busy)", "cores"),
    _avl("lag_p50_ms", "publish → visible in a KV watcher, p50", "ms", "avl.kv.seq.p50_ms"),
    _avl("lag_p99_ms", "publish → visible in a KV watcher, p99", "ms", "avl.kv.seq.p99_ms"),
    _avl("lag_max_ms", "publish → visible in a KV watcher, max", "ms"),
    _avl("lost", "good reports never seen (sum)", "n"),
    _avl("bad_stored", "bad-on-purpose reports stored anyway (sum)", "n"),
    _avl("list.p50_ms", "ListUnits page_size=5000, p50", "ms"),
    _avl("list.p99_ms", "ListUnits page_size=5000, p99", "ms"),
    _avl("list.with_position", "ListUnits: units returned with a position", "n"),
    _avl("list.mb", "ListUnits: response size", "MB"),
]


DISPATCH_ROWS = [
    *(
        Row(
            f"dispatch.rec.{n}.{q}_ms",
            f"RecommendUnits, {n:,} units, {q}",
            "ms",
            f"echo.seq.{q}_ms",
        )
        for n in (1_000, 10_000, 50_000)
        for q in ("p50", "p99")
    ),
    *(
        Row(
            f"dispatch.e2e.{r}.{q}_ms",
            f"create → units assigned at {r}/s, {q}",
            "ms",
            f"pipe.paced.{r}.e2e_{q}_ms",
        )
        for r in RATES
        for q in ("p50", "p99")
    ),
    *(
        Row(f"dispatch.e2e.{r}.lost", f"not assigned within 30 s at {r}/s (sum)", "n", "")
        for r in RATES
    ),
    *(
        Row(
            f"dispatch.e2e.{r}.cpu_{s}_ms",
            f"{s} CPU per incident at {r}/s",
            "ms",
            "",
        )
        for r in RATES
        for s in ("dispatch", "incidents", "resources")
    ),
]
COUNTED = (
    ".lost",
    ".bad_stored",
    ".missing",
    ".double_booked",
)  # summed over repetitions, not medians


@dataclass(frozen=True)
class Goal:
    """`service` against `factor` × the `bare` figure, or against `factor` itself."""

    label: str
    service: str
    bare: str | None
    factor: float
    higher_is_better: bool

    def target(self, medians: Mapping[str, float]) -> float:
        if self.bare is None:
            return self.factor
        return self.factor * medians.get(self.bare, math.nan)

    def met(self, medians: Mapping[str, float]) -> bool:
        value, target = medians.get(self.service, math.nan), self.target(medians)
        if math.isnan(value) or math.isnan(target):
            return False
        return value >= target if self.higher_is_better else value <= target


GOALS = [
    Goal(
        "call→event p50 within 2× the bare pipeline's",
        "svc.seq.e2e_p50_ms",
        "pipe.seq.e2e_p50_ms",
        2.0,
        higher_is_better=False,
    ),
    Goal(
        "32 clients: events/s at least 2× the bare pipeline's",
        "svc.conc.events_s",
        "pipe.conc.events_s",
        2.0,
        higher_is_better=True,
    ),
    Goal(
        "AVL: positions/s sustained (5,000 units)",
        "avl.svc.positions_s",
        None,
        10_000,
        higher_is_better=True,
    ),
    Goal("AVL: publish → visible p99 at that rate", "avl.svc.lag_p99_ms", None, 500, False),
    Goal("RecommendUnits p99 at 10,000 units", "dispatch.rec.10000.p99_ms", None, 5, False),
    Goal(
        "RecommendUnits p99 at 50,000 units within 3× that at 1,000",
        "dispatch.rec.50000.p99_ms",
        "dispatch.rec.1000.p99_ms",
        3.0,
        higher_is_better=False,
    ),
    *(
        Goal(
            f"create → assigned p50 at {r}/s within 4× the bare call→event at {r}/s",
            f"dispatch.e2e.{r}.p50_ms",
            f"pipe.paced.{r}.e2e_p50_ms",
            4.0,
            higher_is_better=False,
        )
        for r in RATES
    ),
    Goal(
        "AVL: ListUnits of 5,000 units with positions, p50", "avl.svc.list.p50_ms", None, 50, False
    ),
    Goal(
        "gateway: one change to 50 screens, last screen p99",
        "gateway.fanout.last_p99_ms",
        None,
        100,
        False,
    ),
    Goal("SearchPlaces p99 under 20 ms", "calltaking.search.p99_ms", None, 20, False),
    Goal("sustained load: incidents lost", "sustained.lost", None, 0, False),
    Goal("sustained load: units double-booked", "sustained.double_booked", None, 0, False),
    *(
        Goal(
            f"sustained load: {name} memory flat (last minute within 1.25× the first)",
            f"sustained.rss.{name}.last_mb",
            f"sustained.rss.{name}.first_mb",
            1.25,
            higher_is_better=False,
        )
        for name in ("incidents", "resources", "dispatch")
    ),
    Goal(
        "mutual TLS and authorization on: 32-client events/s at least 0.85× off",
        "svc.conc.events_s",
        "plain.conc.events_s",
        0.85,
        higher_is_better=True,
    ),
    Goal(
        "mutual TLS and authorization on: call→event p50 at most 1.2× off",
        "svc.seq.e2e_p50_ms",
        "plain.seq.e2e_p50_ms",
        1.2,
        higher_is_better=False,
    ),
    Goal(
        "tracing on: 32-client events/s lose under 10% to tracing off",
        "traced.conc.events_s",
        "svc.conc.events_s",
        0.9,
        higher_is_better=True,
    ),
]

GATEWAY_ROWS = [
    Row("gateway.fanout.p50_ms", "one change → each of 50 screens, p50", "ms"),
    Row("gateway.fanout.p99_ms", "one change → each of 50 screens, p99", "ms"),
    Row("gateway.fanout.last_p99_ms", "one change → the last of 50 screens, p99", "ms"),
    Row("gateway.fanout.missing", "changes a screen missed", "n"),
    Row("screen.first_render_ms", "screen: page load → 2,000 incidents, 1,000 units painted", "ms"),
    Row("screen.snapshot_to_render_ms", "screen: snapshot received → painted", "ms"),
    Row("screen.burst_applied_ms", "screen: a burst of 500 changes applied", "ms"),
    Row("screen.burst_painted_ms", "screen: … and painted", "ms"),
]

SUSTAINED_PROCESSES = ("incidents", "resources", "dispatch", "nats-server")
SUSTAINED_ROWS = [
    Row("sustained.created_per_s", "flood scenario: incidents created", "/s"),
    Row("sustained.lost", "incidents lost", "n"),
    Row("sustained.double_booked", "units held by two incidents", "n"),
    Row("sustained.decision.p50_ms", "P1/P2: created → first decision, p50", "ms"),
    Row("sustained.decision.p99_ms", "P1/P2: created → first decision, p99", "ms"),
    *(
        Row(
            f"sustained.rss.{name}.last_mb",
            f"{name}: memory, last minute (beside: first)",
            "MB",
            f"sustained.rss.{name}.first_mb",
        )
        for name in SUSTAINED_PROCESSES
    ),
]

# Call-taking: the duplicate check at intake beside the same service without it.
CALLTAKING_ROWS = [
    Row(
        "calltaking.dup.e2e_p50_ms",
        "CreateIncident → event p50, duplicate check on (beside: off)",
        "ms",
        "calltaking.nodup.e2e_p50_ms",
    ),
    Row(
        "calltaking.dup.e2e_p99_ms",
        "CreateIncident → event p99, duplicate check on (beside: off)",
        "ms",
        "calltaking.nodup.e2e_p99_ms",
    ),
    Row("calltaking.search.p50_ms", "SearchPlaces p50 (537 places)", "ms"),
    Row("calltaking.search.p99_ms", "SearchPlaces p99", "ms"),
    Row("calltaking.search.rps", "SearchPlaces sequential", "/s"),
]

# Tracing on (exporting to the trace sink) beside tracing off, both measured in this run.
TRACING_ROWS = [
    Row(f"traced.{p.name}", p.label, p.unit, f"svc.{p.name}")
    for p in PAIRS
    if not p.name.endswith(".lost")
]


# Mutual TLS and authorization on (as deployed) beside both off, both measured in this run.
TRUST_ROWS = [
    Row(f"svc.{p.name}", p.label, p.unit, f"plain.{p.name}")
    for p in PAIRS
    if not p.name.endswith(".lost")
]


@dataclass(frozen=True)
class Section:
    """A table of service figures beside the bare stack, and its place in the JSON."""

    key: str
    title: str
    caption: str
    rows: list[Row]
    bare_column: str = "bare stack"


# The JSON names these by the pair's name (`PAIRS`), not the service figure's.
COMPARISON = Section(
    "comparison",
    "B. Incidents service beside the bare pipeline (median of repetitions)",
    "service / bare: above 1 is slower for latencies, below 1 is less for rates",
    [Row(p.service, p.label, p.unit, p.bare) for p in PAIRS],
    bare_column="bare pipeline",
)
# The deployment's topology (bench/cluster.py): the cluster's figure beside one node's.
CLUSTER_ROWS = [
    *(
        Row(
            f"cluster.cluster.{r}.{q}_ms",
            f"create → units assigned at {r}/s, {q}",
            "ms",
            f"cluster.one.{r}.{q}_ms",
        )
        for r in RATES
        for q in ("p50", "p99")
    ),
    *(
        Row(f"cluster.{side}.{r}.lost", f"{side}: not assigned within 30 s at {r}/s (sum)", "n")
        for r in RATES
        for side in ("one", "cluster")
    ),
    *(
        Row(
            f"cluster.cluster.{r}.cpu_{s}_ms",
            f"{s} CPU per incident at {r}/s (both replicas)",
            "ms",
            f"cluster.one.{r}.cpu_{s}_ms",
        )
        for r in RATES
        for s in ("dispatch", "incidents", "resources")
    ),
]
SECTIONS = [
    Section(
        "avl",
        "C. Unit positions (AVL): resources service beside the bare stack (median)",
        "bare: pipelined KV puts for the rate; one awaited KV put for the lag."
        " Lag is measured by a KV watcher in the driver process.",
        AVL_ROWS,
    ),
    Section(
        "dispatch",
        "E. Dispatch beside the bare stack (median of repetitions)",
        "bare: gRPC echo for RecommendUnits; for create → assigned, the bare create→event"
        " pipeline driven at the same rate (one commit and one event, where the path to"
        " assigned has four commits in three services, five under a backlog, and two events)",
        DISPATCH_ROWS,
    ),
    Section(
        "cluster",
        "E2. The deployment's topology: create → assigned on three nats-servers with two"
        " replicas of each service, beside one of each on one node (median)",
        "the 'bare stack' column is one node (one nats-server, one replica each); both on"
        " SQLite, the cluster's replicas sharing a file; streams R3 with sync_interval always"
        " on the cluster (deploy/nats/nats.conf), R1 and the default sync on one node",
        CLUSTER_ROWS,
        bare_column="one node",
    ),
    Section(
        "trust",
        "F0. Mutual TLS and authorization: the incidents service as deployed, beside both off",
        "the 'bare stack' column here is the same service in plaintext with no authorization"
        " (bench.plain_incidents, the benchmark's switch only)",
        TRUST_ROWS,
    ),
    Section(
        "tracing",
        "F. Tracing cost: incidents service exporting every span to the trace sink",
        "the 'bare stack' column here is the same service with tracing off (no exporter)",
        TRACING_ROWS,
    ),
    Section(
        "gateway",
        "G. Gateway fan-out and the dispatcher screen (Chromium)",
        "fan-out: real services and gateway, 50 SSE clients; screen: a synthetic picture",
        GATEWAY_ROWS,
    ),
    Section(
        "calltaking",
        "I. Call-taking: place search and the duplicate check at intake (median)",
        "the 'bare stack' column is the same service with the duplicate check off",
        CALLTAKING_ROWS,
    ),
    Section(
        "sustained",
        "H. Sustained load: the simulator's flood scenario, every process real (one run)",
        "the 'bare stack' column holds each process's memory in the first minute",
        SUSTAINED_ROWS,
    ),
]
