#!/bin/sh
# Render the edge proxy's configuration from the environment, then (with --exec) run nginx in
# the foreground. Used as the nginx container's entrypoint and by the tests.
#
#   render.sh [--exec]
#
# Required: MONITORING_USER, MONITORING_PASSWORD (>= 12 characters) — the Basic credentials of
# /prometheus/ and /grafana/, written hashed (SHA-512 crypt) to $NGINX_RUN_DIR/htpasswd.
# Optional (defaults for compose): NGINX_RUN_DIR=/tmp/nginx LISTEN_PORT=8080
# API_UPSTREAM=api:8080 PROMETHEUS_UPSTREAM=prometheus:9090 GRAFANA_UPSTREAM=grafana:3000
# RESOLVER=127.0.0.11 BODY_LIMIT_BYTES=1048576 PROXY_TIMEOUT=35s LOGIN_RATE=10r/m LOGIN_BURST=5
set -eu

here=$(cd "$(dirname "$0")" && pwd)

fail() {
  echo "nginx/render.sh: $*" >&2
  exit 1
}

: "${NGINX_RUN_DIR:=/tmp/nginx}"
: "${LISTEN_PORT:=8080}"
: "${API_UPSTREAM:=api:8080}"
: "${PROMETHEUS_UPSTREAM:=prometheus:9090}"
: "${GRAFANA_UPSTREAM:=grafana:3000}"
: "${RESOLVER:=127.0.0.11}"
: "${BODY_LIMIT_BYTES:=1048576}"
: "${PROXY_TIMEOUT:=35s}"
: "${LOGIN_RATE:=10r/m}"
: "${LOGIN_BURST:=5}"
export NGINX_RUN_DIR LISTEN_PORT API_UPSTREAM PROMETHEUS_UPSTREAM GRAFANA_UPSTREAM RESOLVER \
  BODY_LIMIT_BYTES PROXY_TIMEOUT LOGIN_RATE LOGIN_BURST

# Values land in nginx.conf verbatim: accept only their expected shapes.
matches() { printf '%s' "$1" | grep -Eq "$2"; }
upstream='^[A-Za-z0-9._-]+(:[0-9]{1,5})?$'
matches "$LISTEN_PORT" '^[0-9]{1,5}$' || fail "LISTEN_PORT must be a port number"
matches "$API_UPSTREAM" "$upstream" || fail "API_UPSTREAM must be host:port"
matches "$PROMETHEUS_UPSTREAM" "$upstream" || fail "PROMETHEUS_UPSTREAM must be host:port"
matches "$GRAFANA_UPSTREAM" "$upstream" || fail "GRAFANA_UPSTREAM must be host:port"
matches "$RESOLVER" '^[][0-9A-Fa-f.:]+$' || fail "RESOLVER must be an IP address"
matches "$BODY_LIMIT_BYTES" '^[0-9]+$' || fail "BODY_LIMIT_BYTES must be a number of bytes"
matches "$PROXY_TIMEOUT" '^[0-9]+s$' || fail "PROXY_TIMEOUT must look like 35s"
matches "$LOGIN_RATE" '^[0-9]+r/[sm]$' || fail "LOGIN_RATE must look like 10r/m"
matches "$LOGIN_BURST" '^[0-9]+$' || fail "LOGIN_BURST must be a number"

[ -n "${MONITORING_USER:-}" ] || fail "MONITORING_USER must be set (Basic auth of /prometheus/ and /grafana/)"
[ -n "${MONITORING_PASSWORD:-}" ] || fail "MONITORING_PASSWORD must be set (Basic auth of /prometheus/ and /grafana/)"
matches "$MONITORING_USER" '^[A-Za-z0-9._-]{1,64}$' ||
  fail "MONITORING_USER must be 1 to 64 letters, digits, '.', '_' or '-'"
[ "${#MONITORING_PASSWORD}" -ge 12 ] || fail "MONITORING_PASSWORD must be at least 12 characters"

mkdir -p "$NGINX_RUN_DIR/conf.d"
envsubst '${NGINX_RUN_DIR} ${LISTEN_PORT} ${API_UPSTREAM} ${PROMETHEUS_UPSTREAM} ${GRAFANA_UPSTREAM} ${RESOLVER} ${BODY_LIMIT_BYTES} ${PROXY_TIMEOUT} ${LOGIN_RATE} ${LOGIN_BURST}' \
  <"$here/nginx.conf.template" >"$NGINX_RUN_DIR/nginx.conf"
cp "$here/security-headers.conf" "$here/proxy-headers.conf" "$NGINX_RUN_DIR/"

# The worker processes read the file; it holds only a salted hash.
hash=$(printf '%s\n' "$MONITORING_PASSWORD" | openssl passwd -6 -stdin) ||
  fail "openssl could not hash MONITORING_PASSWORD"
printf '%s:%s\n' "$MONITORING_USER" "$hash" >"$NGINX_RUN_DIR/htpasswd"
chmod 0644 "$NGINX_RUN_DIR/htpasswd"

if [ "${1:-}" = "--exec" ]; then
  exec nginx -g 'daemon off;' -e stderr -p "$NGINX_RUN_DIR/" -c "$NGINX_RUN_DIR/nginx.conf"
fi
echo "Rendered $NGINX_RUN_DIR/nginx.conf"
