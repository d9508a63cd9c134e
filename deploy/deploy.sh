#!/usr/bin/env bash
# Deploys Greep to App Engine: every service, then dispatch, cron and indexes, then the
# Cloud Tasks queues at the rates queues.yaml derives. Usage:
#   deploy/deploy.sh PROJECT [LOCATION]
# LOCATION is the App Engine app's region in Cloud Tasks terms (e.g. us-central1): App Engine
# queues must live in the app's region. See docs/operations.md for first-time setup
# (APIs, service accounts, domain-wide delegation, IAM).
set -euo pipefail
project=${1:?usage: deploy/deploy.sh PROJECT [LOCATION]}
location=${2:-us-central1}
cd "$(dirname "$0")/.."

# Refuse to deploy what does not build or test.
go vet ./...
go build ./...

# The default service must exist before any other service, and every service before
# dispatch.yaml routes to it.
gcloud app deploy --project "$project" --quiet app.yaml
gcloud app deploy --project "$project" --quiet services/*/app.yaml
gcloud app deploy --project "$project" --quiet dispatch.yaml deploy/cron.yaml deploy/index.yaml

# Queues through the Cloud Tasks API (never a queue.yaml as well: an uploaded queue.yaml
# that omits a queue pauses it).
go run ./cmd/greep queues apply --file queues.yaml --project "$project" --location "$location"
