"""A run's files: the event log (JSON lines), the KPIs and counters (JSON), the chart."""

import json
from dataclasses import asdict
from pathlib import Path

from icc_simulator.report.chart import write_chart
from icc_simulator.report.result import RunResult


def write_json(result: RunResult, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "run": asdict(result.log.info),
        "scenario": result.scenario.name,
        "kpis": result.kpis.to_json(),
        "stats": {
            **{k: v for k, v in asdict(result.stats).items() if k != "errors"},
            "errors": dict(result.stats.errors),
        },
        "open_incidents": [asdict(o) for o in result.open_incidents],
        "double_booked": result.double_booked,
        "stations_closed": result.stations_closed,
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def write_files(result: RunResult, out_dir: Path) -> dict[str, Path]:
    files = {
        "events": out_dir / "events.jsonl",
        "kpis": out_dir / "kpis.json",
        "chart": out_dir / "kpis.png",
    }
    result.log.write_jsonl(files["events"])
    write_json(result, files["kpis"])
    write_chart(result, files["chart"])
    result.files.update(files)
    return files
