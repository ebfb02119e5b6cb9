#!/usr/bin/env bash
# Registry benchmark: N instances (default 1,000) on loopback register
# with a composer under one discovery: "registry" service and beat once a
# second; registryload reports the time to the first routed request, the
# time until all are in the balancer, and the composer's CPU per
# heartbeat. Every address is on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
DURATION=${DURATION:-10s}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/composer" ./cmd/composer
go build -o "$work/registryload" ./internal/benchtools/registryload
cat > "$work/platform.tsk" <<TSK
[composer]
listen: "127.0.0.1:18041"
admin: "127.0.0.1:18043"
data_dir: "$work/data"
[services]
bench { kind: "http", discovery: "registry", routes: ["/bench"] }
[health_checks]
interval: "5s"
path: "/"
TSK
"$work/composer" -f "$work/platform.tsk" 2> "$work/composer.log" &
pid=$!
sleep 1
"$work/registryload" -admin 127.0.0.1:18043 -gateway 127.0.0.1:18041 -pid "$pid" -n "$N" -duration "$DURATION"
