# syntax=docker/dockerfile:1
# The City Data Hub image: `cityhub run` (ingest + API) by default, `cityhub sim ...` for the
# simulators. Two stages: the build stage installs the project into a virtual environment,
# the final stage copies only that environment onto a clean python:3.11-slim (no compiler,
# no pip cache, no sources) and runs it as an unprivileged user.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/cityhub
WORKDIR /src
# pyproject.toml names README.md as the package's long description.
COPY pyproject.toml README.md constraints.txt ./
COPY hub ./hub
COPY adapters ./adapters
COPY simulators ./simulators
# constraints.txt: the tested versions of every dependency (`make constraints` refreshes it).
RUN /opt/cityhub/bin/pip install --no-cache-dir -c constraints.txt . \
    && find /opt/cityhub -name '__pycache__' -prune -exec rm -rf {} +

FROM python:3.11-slim
ENV PATH=/opt/cityhub/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    CITYHUB_DATA_DIR=/data \
    CITYHUB_API__HOST=0.0.0.0 \
    CITYHUB_API__PORT=8080
# A fixed uid/gid so volume ownership is predictable. /data (dead letters, spool, DuckDB file)
# and /registry (the device registry shared with the simulators) belong to it: a named volume
# mounted there starts with this ownership.
RUN groupadd --system --gid 10001 cityhub \
    && useradd --system --uid 10001 --gid cityhub --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin cityhub \
    && mkdir -p /data /registry \
    && chown cityhub:cityhub /data /registry
COPY --from=build /opt/cityhub /opt/cityhub
USER cityhub
WORKDIR /data
# Each container (each `--scale hub=N` replica) gets its own /data: the dead-letter log and the
# spool are per process.
VOLUME ["/data"]
# 8080: the API; 9000: the OCPP-J gateway, when CITYHUB_OCPP__ENABLED=true (bind it with
# CITYHUB_OCPP__HOST=0.0.0.0).
EXPOSE 8080 9000
# Liveness: the process answers HTTP. docker-compose.yml checks /ready (broker and store) on top.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('CITYHUB_API__PORT', '8080'), timeout=4)"]
ENTRYPOINT ["cityhub"]
CMD ["run"]
