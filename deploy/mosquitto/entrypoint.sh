#!/bin/sh
# Writes Mosquitto's password file and ACL from the environment, then runs "$@" (the broker).
#
# The entrypoint of the eclipse-mosquitto:2 service in docker-compose.yml, and run on the host
# by the test suite. Passwords come from .env through the container's environment and are
# stored hashed (PBKDF2-SHA512) by `mosquitto_passwd -b`; nothing secret is in the image or the
# repository. A third user, healthcheck, gets a random password that never leaves the
# container: the compose health check reads it from $MOSQUITTO_AUTH_DIR/healthcheck.password.
#
# Environment: MQTT_HUB_PASSWORD, MQTT_SIMULATOR_PASSWORD, MQTT_EXPORTER_PASSWORD (required, at
# least 12 characters; the exporter user reads $SYS for Prometheus),
# MOSQUITTO_AUTH_DIR (default /mosquitto/auth: where passwd, acl and healthcheck.password go),
# MOSQUITTO_ACL_SOURCE (default /mosquitto/config/acl: the committed deploy/mosquitto/acl).
# The user names (hub, simulator, exporter, healthcheck) are fixed: they are the ACL's sections.
set -eu

: "${MQTT_HUB_PASSWORD:?is required (set it in .env)}"
: "${MQTT_SIMULATOR_PASSWORD:?is required (set it in .env)}"
: "${MQTT_EXPORTER_PASSWORD:?is required (set it in .env)}"
auth_dir="${MOSQUITTO_AUTH_DIR:-/mosquitto/auth}"
acl_source="${MOSQUITTO_ACL_SOURCE:-/mosquitto/config/acl}"

for variable in MQTT_HUB_PASSWORD MQTT_SIMULATOR_PASSWORD MQTT_EXPORTER_PASSWORD; do
    eval "value=\${$variable}"
    if [ "${#value}" -lt 12 ]; then
        echo "entrypoint: $variable must be at least 12 characters long" >&2
        exit 2
    fi
done

umask 077
mkdir -p "$auth_dir"
passwords="$auth_dir/passwd.new"
rm -f "$passwords"
: > "$passwords"
mosquitto_passwd -b "$passwords" hub "$MQTT_HUB_PASSWORD"
mosquitto_passwd -b "$passwords" simulator "$MQTT_SIMULATOR_PASSWORD"
mosquitto_passwd -b "$passwords" exporter "$MQTT_EXPORTER_PASSWORD"
healthcheck_password="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
mosquitto_passwd -b "$passwords" healthcheck "$healthcheck_password"
printf '%s' "$healthcheck_password" > "$auth_dir/healthcheck.password"
cp "$acl_source" "$auth_dir/acl"
mv "$passwords" "$auth_dir/passwd"
# Mosquitto reads these after dropping root for its own user: hand them over, readable by it
# alone (Mosquitto 2.0.16+ warns about password and ACL files others can read).
if [ "$(id -u)" = 0 ] && id mosquitto >/dev/null 2>&1; then
    chown -R mosquitto:mosquitto "$auth_dir"
fi
echo "entrypoint: password file for users hub, simulator, exporter, healthcheck written to $auth_dir" >&2

[ "$#" -gt 0 ] || exit 0
if [ -x /docker-entrypoint.sh ]; then
    exec /docker-entrypoint.sh "$@"  # the image's own entrypoint (fixes /mosquitto ownership)
fi
exec "$@"
