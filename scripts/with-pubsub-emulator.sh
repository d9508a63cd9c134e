#!/usr/bin/env bash
# Runs a command with a fresh Pub/Sub emulator on a free loopback port, exported as
# PUBSUB_EMULATOR_HOST / PUBSUB_PROJECT_ID, and stops the emulator whatever happens.
# Without gcloud the command still runs; tests that need Pub/Sub skip, except under
# CI=true, where they fail. Chains with with-datastore-emulator.sh (make test).
set -euo pipefail

if ! command -v gcloud >/dev/null 2>&1; then
  echo "with-pubsub-emulator: gcloud not found; Pub/Sub tests will skip (fail under CI=true)" >&2
  exec "$@"
fi

port=$("$(dirname "$0")/free-port" 2>/dev/null || echo 18532)
log=$(mktemp -t pubsub-emulator.XXXXXX.log)
export JAVA_TOOL_OPTIONS="${JAVA_TOOL_OPTIONS:--Xmx256m}"
# Its own data directory, so that a second `make test` beside this one starts its own.
data=$(mktemp -d -t pubsub-emulator.XXXXXX)
setsid gcloud beta emulators pubsub start --data-dir="$data" --host-port="127.0.0.1:${port}" --project=greep-test >"$log" 2>&1 &
pid=$!
stop() {
  # setsid made the wrapper a session leader: its java grandchild may leave the process
  # group but stays in the session, so end the session's processes by id.
  for p in $(pgrep -s "$pid" 2>/dev/null); do kill -TERM "$p" 2>/dev/null || true; done
  wait "$pid" 2>/dev/null || true
  rm -rf "$log" "$data"
}
trap stop EXIT

for _ in $(seq 1 120); do
  if grep -q "Server started" "$log" 2>/dev/null; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "with-pubsub-emulator: the emulator exited:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.5
done
grep -q "Server started" "$log" || { echo "with-pubsub-emulator: emulator not up after 60s" >&2; cat "$log" >&2; exit 1; }

export PUBSUB_EMULATOR_HOST="127.0.0.1:${port}"
export PUBSUB_PROJECT_ID=greep-test
echo "with-pubsub-emulator: Pub/Sub emulator on ${PUBSUB_EMULATOR_HOST}" >&2
"$@"
