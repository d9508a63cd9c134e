#!/usr/bin/env bash
# Runs a command with a fresh, strongly consistent Datastore emulator on a free loopback
# port, exported as DATASTORE_EMULATOR_HOST / DATASTORE_PROJECT_ID, and stops the emulator
# whatever happens. Without the emulator (no gcloud) the command still runs; tests that need
# Datastore skip, except under CI=true, where they fail.
#
# GREEP_EMULATOR=firestore runs the Firestore emulator in Datastore mode instead (the
# database a new Cloud project gets; same Datastore API and client): it is always strongly
# consistent and, at the origin tenant's size, loads about five times faster than the
# legacy Datastore emulator, which slows down as it fills (docs/storage.md).
set -euo pipefail

if ! command -v gcloud >/dev/null 2>&1; then
  echo "with-datastore-emulator: gcloud not found; Datastore tests will skip (fail under CI=true)" >&2
  exec "$@"
fi

port=$("$(dirname "$0")/free-port" 2>/dev/null || echo 18432)
log=$(mktemp -t datastore-emulator.XXXXXX.log)
# Its own data directory: gcloud's default (~/.config/gcloud/emulators/datastore) is shared,
# and a second `make test` beside this one would find it in use and refuse to start.
data=$(mktemp -d -t datastore-emulator.XXXXXX)
export JAVA_TOOL_OPTIONS="${JAVA_TOOL_OPTIONS:--Xmx512m}"
# --consistency=1.0: without it the emulator answers queries from deliberately stale
# indexes, and tests would see random misses that production's strongly consistent
# ancestor queries never show.
case "${GREEP_EMULATOR:-datastore}" in
datastore)
  setsid gcloud beta emulators datastore start --no-store-on-disk --consistency=1.0 \
    --data-dir="$data" --host-port="127.0.0.1:${port}" --project=greep-test >"$log" 2>&1 &
  ;;
firestore)
  setsid gcloud emulators firestore start --database-mode=datastore-mode \
    --host-port="127.0.0.1:${port}" >"$log" 2>&1 &
  ;;
*)
  echo "with-datastore-emulator: GREEP_EMULATOR must be datastore or firestore, not ${GREEP_EMULATOR}" >&2
  exit 2
  ;;
esac
pid=$!
stop() {
  # The emulator is a java grandchild of the gcloud wrapper that leaves its process group,
  # so ask it to shut down over HTTP (it was started with --allow_remote_shutdown), then
  # end whatever is left of the group and anything still holding our port.
  curl -fsS -X POST "http://127.0.0.1:${port}/shutdown" >/dev/null 2>&1 || true
  kill -TERM -- "-$pid" 2>/dev/null || true
  pkill -f "CloudDatastore.jar.*--port=${port}" 2>/dev/null || true
  pkill -f "cloud-firestore-emulator.*--port=${port}" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  rm -rf "$log" "$data"
}
trap stop EXIT

for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:${port}/" 2>/dev/null | grep -q Ok; then
    break
  fi
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "with-datastore-emulator: the emulator exited:" >&2
    cat "$log" >&2
    exit 1
  fi
  sleep 0.5
done
curl -fsS "http://127.0.0.1:${port}/" >/dev/null || { echo "with-datastore-emulator: emulator not healthy after 60s" >&2; cat "$log" >&2; exit 1; }

export DATASTORE_EMULATOR_HOST="127.0.0.1:${port}"
export DATASTORE_PROJECT_ID=greep-test
echo "with-datastore-emulator: ${GREEP_EMULATOR:-datastore} emulator on ${DATASTORE_EMULATOR_HOST}" >&2
"$@"
