"""The Grafana dashboards of deploy/grafana, checked offline: valid JSON that Grafana can
provision, every panel's PromQL parsed by promtool, and every metric they and the alert
rules read one that the services export."""

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.metric_names import PROCESS, PROMETHEUS_OWN, exported_metric_names, metric_names

ROOT = Path(__file__).resolve().parents[1]
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
# Grafana's own variables, replaced by what it would put there before PromQL sees them.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def load(path: Path) -> dict[str, Any]:
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    assert isinstance(dashboard, dict)
    return dashboard


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for panel in dashboard["panels"]:
        out.append(panel)
        out.extend(panel.get("panels", []))  # inside collapsed rows
    return out


def expressions() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target of every dashboard."""
    found = []
    for path in DASHBOARDS:
        for panel in panels(load(path)):
            for target in panel.get("targets", []):
                where = f"{path.name}: panel {panel['id']} {panel['title']!r} {target['refId']}"
                found.append((where, target["expr"]))
    return found


def with_grafana_variables(expr: str) -> str:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a Grafana variable this test does not know: {expr}"
    return expr


def test_the_three_dashboards_are_provisioned_with_unique_uids() -> None:
    names = {path.stem for path in DASHBOARDS}
    assert {"dispatch-floor", "bus", "services"} <= names
    datasource = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    uids = [load(path)["uid"] for path in DASHBOARDS]
    assert len(set(uids)) == len(uids)
    for path in DASHBOARDS:
        dashboard = load(path)
        assert dashboard["title"] and dashboard["panels"], path.name
        ids = [panel["id"] for panel in panels(dashboard)]
        assert len(set(ids)) == len(ids), f"{path.name}: panel ids repeat"
        for panel in panels(dashboard):
            if panel["type"] == "row":
                continue
            assert panel["datasource"] == {"type": "prometheus", "uid": uid}, panel["title"]
            assert panel["targets"], f"{path.name}: {panel['title']!r} has no query"
            for target in panel["targets"]:
                assert target.get("datasource", panel["datasource"]) == panel["datasource"]
            grid = panel["gridPos"]
            assert grid["x"] + grid["w"] <= 24, f"{path.name}: {panel['title']!r} is too wide"
    provider = yaml.safe_load((GRAFANA / "provisioning/dashboards/icc.yml").read_text())
    assert provider["providers"][0]["options"]["path"] == "/etc/grafana/dashboards"


def test_every_panel_query_parses(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: apt-get install -y prometheus (Debian's package)")
    # promtool has no command to parse a lone expression; as recording rules it parses
    # each one and names the one that fails.
    rules = [
        {"record": f"dashboard:query_{n}", "expr": with_grafana_variables(expr)}
        for n, (_, expr) in enumerate(expressions())
    ]
    path = tmp_path / "dashboards.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    done = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(rules)} rules found" in done.stdout


def test_dashboards_and_alerts_read_only_metrics_the_services_export() -> None:
    known = exported_metric_names() | PROCESS | PROMETHEUS_OWN
    unknown = {}
    for where, expr in expressions():
        if missing := metric_names(with_grafana_variables(expr)) - known:
            unknown[where] = missing
    for group in yaml.safe_load(RULES.read_text())["groups"]:
        for rule in group["rules"]:
            if missing := metric_names(rule["expr"]) - known:
                unknown[f"alerts.yml: {rule.get('alert') or rule.get('record')}"] = missing
    assert unknown == {}


def test_the_metric_name_reader_finds_selectors_and_nothing_else() -> None:
    expr = (
        'sum by (le, job) (rate(a_bucket{job="x", le=~"1|2"}[5m])) > 0 unless on () '
        'absent(up{job="dispatch"}) or count(ALERTS{alertstate="firing"}) * 60 or vector(0)'
    )
    assert metric_names(expr) == {"a_bucket", "up", "ALERTS"}
