#!/bin/sh
# Writes the broker accounts' passwords for deploy/nats/nats.conf from the environment, then
# runs "$@" (nats-server).
#
# The entrypoint of the nats service in docker-compose.yml, and run on the host by the tests.
# nats.conf includes the file written here (auth.conf beside it) and reads the passwords from
# its variables: quoted strings, so a password is never parsed as a number, a size or a
# comment, which NATS does with a value taken straight from the environment.
#
# Environment: MQTT_HUB_PASSWORD, MQTT_SIMULATOR_PASSWORD (required, at least 12 characters,
# letters, digits and . _ ~ + / = - only: what secrets.token_urlsafe and base64 produce),
# NATS_AUTH_FILE (default /etc/nats/auth.conf).
set -eu

: "${MQTT_HUB_PASSWORD:?is required (set it in .env)}"
: "${MQTT_SIMULATOR_PASSWORD:?is required (set it in .env)}"
auth_file="${NATS_AUTH_FILE:-/etc/nats/auth.conf}"

umask 077
{
    echo "# Written by deploy/nats/entrypoint.sh at the broker's start; never committed."
    for variable in MQTT_HUB_PASSWORD MQTT_SIMULATOR_PASSWORD; do
        eval "value=\${$variable}"
        if [ "${#value}" -lt 12 ]; then
            echo "entrypoint: $variable must be at least 12 characters long" >&2
            exit 2
        fi
        case "$value" in
        *[!A-Za-z0-9._~+/=-]*)
            echo "entrypoint: $variable may only contain letters, digits and . _ ~ + / = -" >&2
            exit 2
            ;;
        esac
        printf '%s = "%s"\n' "$variable" "$value"
    done
} >"$auth_file.tmp"
mv "$auth_file.tmp" "$auth_file"

exec "$@"
