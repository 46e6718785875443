#!/usr/bin/env bash
# Installs what the test suite runs for real, when absent: Mosquitto (the broker), InfluxDB 1.x
# (Debian's influxdb: a real InfluxQL engine), VictoriaMetrics (a real /api/v2/write server)
# docker-compose (validates docker-compose.yml without an engine) and mosquitto-clients
# (mosquitto_sub: the compose broker's health check, run by tests/deploy). Debian/Ubuntu, as root.
set -euo pipefail
missing=()
command -v mosquitto >/dev/null || [ -x /usr/sbin/mosquitto ] || missing+=(mosquitto)
command -v influxd >/dev/null || [ -x /usr/bin/influxd ] || missing+=(influxdb)
command -v victoria-metrics >/dev/null || [ -x /usr/bin/victoria-metrics ] || missing+=(victoria-metrics)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v openssl >/dev/null || missing+=(openssl)
command -v mosquitto_passwd >/dev/null || missing+=(mosquitto)
command -v mosquitto_sub >/dev/null || missing+=(mosquitto-clients)
if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
