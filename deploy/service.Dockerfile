# syntax=docker/dockerfile:1
#
# The image of a gRPC service (incidents, resources, dispatch, ops): one Dockerfile, the
# service named by build arguments. Build from the repository root (the uv workspace):
#
#   docker build -f deploy/service.Dockerfile --build-arg SERVICE=dispatch \
#     --build-arg PORT=50053 -t icc/dispatch:dev .
#
# Configuration is environment only (ICC_* variables, see deploy/README.md; compose and
# the Kubernetes config maps set the service's ICC_<SERVICE>_ADDR); the same image runs
# in docker compose and Kubernetes. The gateway (a Leaflet stage) and the trace sink (no
# shared libraries, a data volume) have Dockerfiles of their own.

# Both stages must use the same Python: the venv's interpreter symlinks point at
# /usr/local/bin/python3 of this image.
ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- builder ----
FROM ${PYTHON_IMAGE} AS builder

# The service's folder under services/ and its package (icc-<SERVICE>).
ARG SERVICE
# The uv that wrote uv.lock; pinned so `--frozen` reads the lock the same way.
ARG UV_VERSION=0.13.9
RUN test -n "${SERVICE}" && pip install --no-cache-dir "uv==${UV_VERSION}"

# Compile .pyc at build time (the runtime root filesystem is read-only), copy
# instead of hard-linking out of the cache mount, never download a Python.
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

WORKDIR /src
# Only what the service needs: the workspace root, the lock, the shared libraries and
# the service itself. Other workspace members (tools/, other services) stay out.
COPY pyproject.toml uv.lock ./
COPY libs/ libs/
COPY services/${SERVICE}/ services/${SERVICE}/

# Reference data, response plans and Alembic migrations are package files: they travel
# inside the wheel. --frozen: install exactly uv.lock, fail rather than re-resolve.
# --no-editable: workspace packages are built as wheels into the venv, so the runtime
# stage needs the venv only, not /src. The service's console script is linked as
# `icc-service`, the one command the runtime stage starts.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package "icc-${SERVICE}" --no-editable \
    && ln -s "icc-${SERVICE}" /app/.venv/bin/icc-service

# ---------------------------------------------------------------- runtime ----
FROM ${PYTHON_IMAGE} AS runtime

ARG PORT

# A fixed numeric uid/gid, so Kubernetes' runAsNonRoot can check it.
RUN groupadd --system --gid 10001 icc \
    && useradd --system --uid 10001 --gid icc --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin icc

COPY --from=builder /app/.venv /app/.venv

# ICC_VAR_DIR only matters when the service's database URL is unset (embedded SQLite):
# /tmp is writable (tmpfs/emptyDir) and throwaway. Deployments set a PostgreSQL URL.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ICC_VAR_DIR=/tmp/icc

WORKDIR /app
USER 10001:10001
EXPOSE ${PORT}

# No HEALTHCHECK: compose and Kubernetes probe the standard gRPC health service.
# Exec form: the service gets SIGTERM directly and shuts down in order.
CMD ["icc-service"]
