#!/usr/bin/env bash
# Runs `make test` N times, each with -count=1 (no cached results), while a second
# `make test` runs again and again beside it as load, and reports how many of the N
# passed and which tests failed. Issue 18's must-show 3 is N=10 with 10 of 10 green
# (docs/testing.md).
#
#   scripts/stress-tests.sh [N]        N defaults to 10
#
# TESTFLAGS is passed to make (default: -race -timeout 15m; -count=1 is added), MAKE
# picks the make program, LOGDIR keeps every run's output (default: a new temp dir).
set -euo pipefail

n=${1:-10}
case "$n" in '' | *[!0-9]*) echo "stress-tests: N must be a number, not '$n'" >&2; exit 2 ;; esac
cd "$(dirname "$0")/.."
make=${MAKE:-make}
flags="${TESTFLAGS:--race -timeout 15m} -count=1"
logdir=${LOGDIR:-$(mktemp -d -t greep-stress.XXXXXX)}
mkdir -p "$logdir"

# The load, in its own process group so that it ends whole (its make, go test and test
# binaries) when the measured runs are over.
# A load run that ends within a minute (it could not start) is followed by a pause, so a
# broken environment shows as failed load logs, not as a loop that spins.
setsid bash -c 'i=0; while :; do i=$((i + 1)); s=$(date +%s); "$0" test TESTFLAGS="$1" >"$2/load-$i.log" 2>&1 || true; (($(date +%s) - s > 60)) || sleep 30; done' \
  "$make" "$flags" "$logdir" &
load=$!
stop_load() {
  kill -TERM -- "-$load" 2>/dev/null || true
  wait "$load" 2>/dev/null || true
}
trap stop_load EXIT

echo "stress-tests: $n runs of '$make test TESTFLAGS=\"$flags\"' beside a looping one; logs in $logdir" >&2
pass=0
fail=0
for i in $(seq 1 "$n"); do
  start=$(date +%s)
  if "$make" test TESTFLAGS="$flags" >"$logdir/run-$i.log" 2>&1; then
    pass=$((pass + 1))
    verdict=pass
  else
    fail=$((fail + 1))
    verdict=FAIL
  fi
  echo "run $i/$n: $verdict in $(($(date +%s) - start))s (load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'))"
  if [ "$verdict" = FAIL ]; then
    grep -E '^(--- FAIL|FAIL|panic:)|timed out' "$logdir/run-$i.log" | sed 's/^/    /' | head -20 || true
  fi
done
echo "stress-tests: $pass of $n passed, $fail failed"
[ "$fail" -eq 0 ]
