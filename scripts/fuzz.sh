#!/usr/bin/env bash
# Runs every Go fuzz target in the module, one at a time, each for FUZZTIME (default 10m)
# with one worker (-parallel=1), so a long run shares the machine gently. Targets are found
# by their "func FuzzXxx" lines, so a new target runs without editing this file.
# Arguments narrow the run to packages whose path contains one of them, e.g.
#   FUZZTIME=30s scripts/fuzz.sh rules auth
# A crasher is written to the package's testdata/fuzz/FuzzXxx/, where `go test` replays it
# from then on; the script goes on with the other targets and exits non-zero at the end.
#
# Go 1.26's fuzz coordinator can end a duration-bounded run with "context deadline
# exceeded" and no crasher (go.dev/issue/75804, fixed in Go 1.27). Such an end is reported
# as that race, not as a failure: a real failure always writes its input.
set -uo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10m}
# Each new interesting input is minimized before fuzzing goes on, up to 60s by default;
# with a large seed (a whole shipped config) or a slow target (RSA verification) that
# stalled the runs for minutes on a loaded machine.
minimize=${FUZZMINIMIZETIME:-10s}
go=${GO:-go}
failed=()
log=$(mktemp -t greep-fuzz.XXXXXX)
trap 'rm -f "$log"' EXIT
while read -r file fn; do
  pkg=./$(dirname "$file")
  if (($# > 0)); then
    keep=
    for want in "$@"; do [[ $pkg == *"$want"* ]] && keep=1; done
    [[ -n $keep ]] || continue
  fi
  corpus=$pkg/testdata/fuzz/$fn
  before=$(ls "$corpus" 2>/dev/null | wc -l)
  echo "== $pkg $fn ($fuzztime)"
  # -timeout=0: go test's default 10m timeout would cut a 10m run at its very end.
  "$go" test -run='^$' -fuzz="^${fn}\$" -fuzztime="$fuzztime" -fuzzminimizetime="$minimize" -parallel=1 -timeout=0 "$pkg" >"$log" 2>&1
  rc=$?
  # The last progress line carries the totals (execs, new interesting inputs).
  grep '^fuzz: elapsed' "$log" | tail -1
  grep -v '^fuzz: elapsed' "$log"
  after=$(ls "$corpus" 2>/dev/null | wc -l)
  if ((rc != 0)); then
    if ((after == before)) && grep -q 'context deadline exceeded' "$log"; then
      echo "-- $fn: ended by the fuzz coordinator's deadline race (go.dev/issue/75804), no crasher"
    else
      failed+=("$pkg $fn")
    fi
  fi
done < <(git grep -E '^func Fuzz[A-Za-z0-9_]*\(' -- '*_test.go' | sed -E 's/^([^:]*):func (Fuzz[A-Za-z0-9_]*)\(.*/\1 \2/' | sort)
if ((${#failed[@]} > 0)); then
  printf 'FAILED: %s\n' "${failed[@]}" >&2
  exit 1
fi
