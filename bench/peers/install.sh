#!/usr/bin/env bash
# The benchmark's peers, installed beside it and nowhere else (python -m bench --only peers
# runs this when they are missing):
#   Node-RED 4 + node-red-contrib-influxdb → bench/peers/node_modules (npm ci: package-lock.json)
#   mqtt2influxdb                          → bench/peers/.venv         (PyPI, a venv of its own)
# Both folders are gitignored. mqtt2influxdb gets its own venv because it brings its own pins
# (influxdb3-python, pyarrow, paho-mqtt) that must not touch the project's environment.
# Node-RED 5 needs Node.js ≥ 22.9; 4.1 runs on the Node.js 18 and 20 of Debian and this machine.
# Idempotent: a second run only checks.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-/usr/bin/python3}
mqtt2influxdb_version=2.0.6

if ! command -v npm >/dev/null; then
    echo "install.sh: npm is missing (Debian: apt-get install nodejs npm)" >&2
    exit 1
fi
if [ ! -f "$here/node_modules/node-red/red.js" ] ||
   [ ! -d "$here/node_modules/node-red-contrib-influxdb" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

if [ ! -x "$here/.venv/bin/mqtt2influxdb" ]; then
    "$python" -m venv "$here/.venv"
    "$here/.venv/bin/pip" install -q --disable-pip-version-check \
        "mqtt2influxdb==$mqtt2influxdb_version"
fi
echo "peers installed in $here"
