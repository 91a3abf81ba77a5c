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
# CLIENT_HEADER_TIMEOUT=10s CLIENT_BODY_TIMEOUT=10s KEEPALIVE_TIMEOUT=15s
# CONNECTIONS_PER_ADDRESS=64
# REAL_IP_FROM= (the load balancer's addresses/CIDRs in front of nginx, comma or space separated;
#   empty: nginx is the edge and its peer is the client)
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
: "${CLIENT_HEADER_TIMEOUT:=10s}"
: "${CLIENT_BODY_TIMEOUT:=10s}"
: "${KEEPALIVE_TIMEOUT:=15s}"
: "${CONNECTIONS_PER_ADDRESS:=64}"
: "${REAL_IP_FROM:=}"
export NGINX_RUN_DIR LISTEN_PORT API_UPSTREAM PROMETHEUS_UPSTREAM GRAFANA_UPSTREAM RESOLVER \
  BODY_LIMIT_BYTES PROXY_TIMEOUT LOGIN_RATE LOGIN_BURST CLIENT_HEADER_TIMEOUT \
  CLIENT_BODY_TIMEOUT KEEPALIVE_TIMEOUT CONNECTIONS_PER_ADDRESS

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
for timeout in CLIENT_HEADER_TIMEOUT CLIENT_BODY_TIMEOUT KEEPALIVE_TIMEOUT; do
  eval "value=\$$timeout"
  matches "$value" '^[0-9]+s$' || fail "$timeout must look like 10s"
done
matches "$CONNECTIONS_PER_ADDRESS" '^[1-9][0-9]*$' ||
  fail "CONNECTIONS_PER_ADDRESS must be a positive number"

# One set_real_ip_from per load-balancer range; none at all when REAL_IP_FROM is empty.
REAL_IP_CONFIG=""
for range in $(printf '%s' "$REAL_IP_FROM" | tr ',' ' '); do
  matches "$range" '^([0-9]{1,3}\.){3}[0-9]{1,3}(/[0-9]{1,2})?$|^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(/[0-9]{1,3})?$' ||
    fail "REAL_IP_FROM must list IP addresses or CIDRs, not \"$range\""
  REAL_IP_CONFIG="$REAL_IP_CONFIG    set_real_ip_from $range;
"
done
if [ -n "$REAL_IP_CONFIG" ]; then
  REAL_IP_CONFIG="${REAL_IP_CONFIG}    real_ip_header X-Forwarded-For;
    real_ip_recursive on;"
fi
export REAL_IP_CONFIG

[ -n "${MONITORING_USER:-}" ] || fail "MONITORING_USER must be set (Basic auth of /prometheus/ and /grafana/)"
[ -n "${MONITORING_PASSWORD:-}" ] || fail "MONITORING_PASSWORD must be set (Basic auth of /prometheus/ and /grafana/)"
matches "$MONITORING_USER" '^[A-Za-z0-9._-]{1,64}$' ||
  fail "MONITORING_USER must be 1 to 64 letters, digits, '.', '_' or '-'"
[ "${#MONITORING_PASSWORD}" -ge 12 ] || fail "MONITORING_PASSWORD must be at least 12 characters"

mkdir -p "$NGINX_RUN_DIR/conf.d"
envsubst '${NGINX_RUN_DIR} ${LISTEN_PORT} ${API_UPSTREAM} ${PROMETHEUS_UPSTREAM} ${GRAFANA_UPSTREAM} ${RESOLVER} ${BODY_LIMIT_BYTES} ${PROXY_TIMEOUT} ${LOGIN_RATE} ${LOGIN_BURST} ${CLIENT_HEADER_TIMEOUT} ${CLIENT_BODY_TIMEOUT} ${KEEPALIVE_TIMEOUT} ${CONNECTIONS_PER_ADDRESS} ${REAL_IP_CONFIG}' \
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
