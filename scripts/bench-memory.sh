#!/usr/bin/env bash
# Resident memory of the composer and of nginx (one worker) in front of
# the same upstream: idle after a warm-up, then with 1,000 idle kept-alive
# client connections (internal/benchtools/idleconns). Every address is on
# loopback. Needs nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-1000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/upstream" ./internal/benchtools/upstream
go build -o "$work/idleconns" ./internal/benchtools/idleconns
go build -o "$work/composer" ./cmd/composer
cat > "$work/platform.tsk" <<TSK
[composer]
listen: "127.0.0.1:18203"
admin: "127.0.0.1:18213"
data_dir: "$work/data"
[services]
bench { kind: "http", instances: ["http://127.0.0.1:18201"], routes: ["/*path"], timeout: "5s" }
[health_checks]
path: "/"
TSK
cat > "$work/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $work;
    proxy_temp_path $work;
    keepalive_timeout 600s;
    keepalive_requests 100000;
    upstream u { server 127.0.0.1:18201; keepalive 64; }
    server { listen 127.0.0.1:18204; location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}
NGINX
"$work/upstream" -listen 127.0.0.1:18201 &
GOMAXPROCS=1 "$work/composer" -f "$work/platform.tsk" 2> "$work/composer.log" &
composer=$!
nginx -c "$work/nginx.conf" &
sleep 2
rss() { # pids...: the sum of their resident memory, KiB
    local sum=0
    for p in "$@"; do sum=$((sum + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status"))); done
    echo "$sum"
}
nginxpids() { pgrep -f "nginx -c $work/nginx.conf" | tr '\n' ' '; pgrep -f "nginx: worker" -P "$(pgrep -f "nginx -c $work/nginx.conf" | head -1)" | tr '\n' ' '; }
for port in 18203 18204; do wrk -t1 -c32 -d3s "http://127.0.0.1:$port/" > /dev/null; done # warm up
echo "idle: composer $(rss $composer) KiB, nginx $(rss $(nginxpids)) KiB"
"$work/idleconns" -addr 127.0.0.1:18203 -n "$N" > /dev/null &
ic1=$!
"$work/idleconns" -addr 127.0.0.1:18204 -n "$N" > /dev/null &
ic2=$!
sleep 5
echo "with $N idle client connections: composer $(rss $composer) KiB, nginx $(rss $(nginxpids)) KiB"
