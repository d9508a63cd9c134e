#!/usr/bin/env bash
# Makes sure wrk (the HTTP load generator the read benchmark can use instead of its own
# client: `greep bench --scenario read --read-client wrk`) is installed, installing
# Debian's package when it is missing, then runs the command given, if any:
#   scripts/wrk.sh go run ./cmd/greep bench --json --scenario read --read-client wrk
set -euo pipefail
if ! command -v wrk >/dev/null; then
  sudo=
  if [[ $(id -u) != 0 ]]; then sudo=sudo; fi
  if ! command -v apt-get >/dev/null; then
    echo "wrk is not installed and there is no apt-get here: install wrk (https://github.com/wg/wrk)" >&2
    exit 1
  fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq wrk
fi
if (($# > 0)); then
  exec "$@"
fi
