"""A short simulation against the real system (three services on a real nats-server):
every incident ends or is explained, no unit is held by two incidents, and the report
is written."""

import json
from pathlib import Path

from icc_simulator.config import SimConfig
from icc_simulator.players.api import Endpoints
from icc_simulator.report.files import write_files
from icc_simulator.run import Simulation
from icc_simulator.world.eventlog import IncidentCreated, IncidentEnded, UnitAssigned


async def test_a_short_run_ends_every_incident_or_explains_it(
    running_city: Endpoints, tmp_path: Path
) -> None:
    config = SimConfig(
        scenario="normal",
        start_hour=10,
        # ~20 calls in the first few real seconds, at 900× (a minute in 67 ms), then up to
        # 22 real seconds (5.5 simulated hours) for the crews to finish.
        rate_per_min=300.0,
        max_calls=20,
        duration_s=20.0,
        speed=900.0,
        seed=7,
        drain_s=22.0,
        out_dir=tmp_path / "sim",
    )
    sim = Simulation(config, running_city)
    result = await sim.run()

    created = [r for r in result.log.records if isinstance(r, IncidentCreated)]
    ended = {r.incident for r in result.log.records if isinstance(r, IncidentEnded)}
    explained = {o.incident: o.why for o in result.open_incidents}
    assert 15 <= len(created) <= 20
    assert result.stats.calls == 20
    assert not [e for e in result.stats.errors if e.startswith("create:")]
    for inc in created:
        assert inc.incident in ended or explained.get(inc.incident), inc
    # Most of a quiet morning's incidents are over within the drain time.
    assert len(ended) >= len(created) // 2
    # Duplicates were merged into the first caller's incident (or worked like any).
    duplicates = [r for r in created if r.duplicate]
    assert result.kpis.duplicates == len(duplicates)
    assert result.double_booked == []
    assert result.stats.conflicts == 0
    assert [r for r in result.log.records if isinstance(r, UnitAssigned)]
    assert result.stats.positions > 0
    # Ambulances take their patients where dispatch sent them.
    assert result.stats.transports > 0
    assert result.stats.transports_as_dispatched == result.stats.transports

    files = write_files(result, tmp_path / "sim")
    assert files["chart"].stat().st_size > 10_000
    data = json.loads(files["kpis"].read_text())
    assert data["kpis"]["incidents"] == len(created) - len(duplicates)
    assert data["double_booked"] == []
