#!/usr/bin/env bash
# The system packages a set-up command needs, on Debian/Ubuntu. Installs the missing ones with
# apt-get when run as root; otherwise prints the exact command to run and (where the command
# cannot go on without them) exits 1. Never touches the system Python's packages.
#
#   install-deps.sh venv [PYTHON]  python3 with its venv module (python3-venv): `make` makes .venv
#   install-deps.sh demo           Mosquitto for `make demo` (without it the demo falls back to
#                                  the slower in-process amqtt broker, so it only advises)
#   install-deps.sh test           what the test suite runs for real (default): Mosquitto and
#                                  mosquitto-clients (mosquitto_sub, the Mosquitto variant's health
#                                  check), NATS Server (the compose stack's broker), InfluxDB 1.x (Debian's influxdb: a real InfluxQL
#                                  engine), VictoriaMetrics (a real /api/v2/write server),
#                                  docker-compose (validates docker-compose.yml, no engine), openssl,
#                                  chromium (the dashboard's browser tests drive Debian's build
#                                  through Playwright; no browser download)
set -euo pipefail
mode="${1:-test}"
python="${2:-python3}"
missing=()

has() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || [ -x "/usr/bin/$1" ]; }

case "$mode" in
venv)
    if ! has "$python"; then
        missing+=(python3 python3-venv)
    elif ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "install-deps: $python is $("$python" -V 2>&1); City Data Hub needs Python >= 3.11" \
            "(make PYTHON=python3.11 ... picks another)" >&2
        exit 1
    elif ! "$python" -c 'import ensurepip, venv' >/dev/null 2>&1; then
        # Debian and Ubuntu ship the venv module's pip bootstrap separately.
        version="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
        default="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true)"
        if [ "$version" = "$default" ]; then missing+=(python3-venv); else missing+=("python$version-venv"); fi
    fi
    required=1
    ;;
demo)
    has mosquitto || missing+=(mosquitto)
    required=0
    ;;
test)
    has mosquitto || missing+=(mosquitto)
    has influxd || missing+=(influxdb)
    has victoria-metrics || missing+=(victoria-metrics)
    has docker-compose || missing+=(docker-compose)
    has openssl || missing+=(openssl)
    has mosquitto_passwd || missing+=(mosquitto)
    has mosquitto_sub || missing+=(mosquitto-clients)
    has nats-server || missing+=(nats-server)
    has wget || missing+=(wget)
    has chromium || missing+=(chromium)
    required=1
    ;;
*)
    echo "usage: $0 venv [PYTHON] | demo | test" >&2
    exit 2
    ;;
esac

[ ${#missing[@]} -eq 0 ] && exit 0
# shellcheck disable=SC2207
missing=($(printf '%s\n' "${missing[@]}" | sort -u))
command="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "install-deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    exit 0
fi
if [ "$required" -eq 1 ]; then
    echo "install-deps: missing system packages for '$mode': ${missing[*]}" >&2
    echo "install-deps: install them (as root) and run the command again:" >&2
    echo "    sudo $command" >&2
    exit 1
fi
echo "install-deps: for the real broker: sudo $command (going on with the in-process one)" >&2
