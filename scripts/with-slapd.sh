#!/usr/bin/env bash
# Runs a command with a throwaway OpenLDAP slapd on a free loopback port (its own config
# and database in a temporary directory), exported as LDAP_URL, LDAP_BIND_DN,
# LDAP_BIND_PASSWORD and LDAP_BASE_DN, and stops it whatever happens. slapd and
# ldap-utils are installed from Debian when missing (as root); without them the command
# still runs and the LDAP tests skip (fail under CI=true).
set -euo pipefail

if ! command -v slapd >/dev/null 2>&1 && [ ! -x /usr/sbin/slapd ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "with-slapd: installing slapd and ldap-utils" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slapd ldap-utils >/dev/null
  else
    echo "with-slapd: slapd not found and cannot be installed; LDAP tests will skip (fail under CI=true)" >&2
    exec "$@"
  fi
fi
slapd=$(command -v slapd || echo /usr/sbin/slapd)

dir=$(mktemp -d -t greep-slapd.XXXXXX)
port=$("$(dirname "$0")/free-port" 2>/dev/null || echo 18389)
mkdir -p "$dir/db"
cat >"$dir/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
pidfile $dir/slapd.pid
modulepath /usr/lib/ldap
moduleload back_mdb
database mdb
maxsize 104857600
suffix "dc=greep,dc=test"
rootdn "cn=admin,dc=greep,dc=test"
rootpw secret
directory $dir/db
CONF
# -d 0: in the foreground (no daemon fork), so it is our child and ends by its id.
"$slapd" -d 0 -f "$dir/slapd.conf" -h "ldap://127.0.0.1:${port}/" 2>"$dir/log" &
pid=$!
stop() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap stop EXIT
for _ in $(seq 1 100); do
  [ -f "$dir/slapd.pid" ] && break
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "with-slapd: slapd exited:" >&2
    cat "$dir/log" >&2
    exit 1
  fi
  sleep 0.1
done

export LDAP_URL="ldap://127.0.0.1:${port}"
export LDAP_BIND_DN="cn=admin,dc=greep,dc=test"
export LDAP_BIND_PASSWORD=secret
export LDAP_BASE_DN="dc=greep,dc=test"
echo "with-slapd: slapd on ${LDAP_URL}" >&2
"$@"
