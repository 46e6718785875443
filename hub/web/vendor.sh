#!/usr/bin/env bash
# Refreshes the dashboard's vendored JavaScript libraries from the npm registry (run by a
# developer when upgrading, never at install time: the package ships these files). Needs npm.
#   hub/web/vendor.sh            the pinned versions below
#   LEAFLET=1.9.4 UPLOT=1.6.32 hub/web/vendor.sh
set -euo pipefail
LEAFLET="${LEAFLET:-1.9.4}"
UPLOT="${UPLOT:-1.6.32}"
here="$(cd "$(dirname "$0")" && pwd)"
vendor="$here/static/vendor"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "leaflet@$LEAFLET" "uplot@$UPLOT" >/dev/null
mkdir leaflet uplot
tar xzf "leaflet-$LEAFLET.tgz" -C leaflet
tar xzf "uplot-$UPLOT.tgz" -C uplot
rm -rf "$vendor/leaflet" "$vendor/uplot"
mkdir -p "$vendor/leaflet" "$vendor/uplot"
cp leaflet/package/dist/leaflet.js leaflet/package/dist/leaflet.css leaflet/package/LICENSE \
    "$vendor/leaflet/"
cp uplot/package/dist/uPlot.iife.min.js uplot/package/dist/uPlot.min.css uplot/package/LICENSE \
    "$vendor/uplot/"
# The npm builds name source maps we do not ship; a browser with developer tools open would
# ask for them and log a 404.
sed -i '/^\/\/# sourceMappingURL=/d' "$vendor/leaflet/leaflet.js" "$vendor/uplot/uPlot.iife.min.js"
printf 'leaflet %s\nuplot %s\n' "$LEAFLET" "$UPLOT" >"$vendor/VERSIONS"
echo "vendored leaflet $LEAFLET and uplot $UPLOT into $vendor"
