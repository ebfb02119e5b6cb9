#!/usr/bin/env bash
# Gateway benchmark: the same upstream reached directly, through a bare
# gin + httputil.ReverseProxy program, through the composer (http service
# route: router, breaker, balancer, request id) and through nginx. The
# proxy under test is pinned to CPU 0; the upstream and wrk share CPU 1.
# Every address is on loopback. Needs wrk and nginx (Debian packages).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

go build -o "$work/upstream" ./internal/benchtools/upstream
go build -o "$work/bareproxy" ./internal/benchtools/bareproxy
go build -o "$work/composer" ./cmd/composer

cat > "$work/platform.tsk" <<TSK
[composer]
listen: "127.0.0.1:18003"
admin: "127.0.0.1:18013"
data_dir: "$work/data"
[services]
bench { kind: "http", instances: ["http://127.0.0.1:18001"], routes: ["/*path"], timeout: "5s" }
[health_checks]
path: "/"
TSK

cat > "$work/nginx.conf" <<NGINX
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work;
    proxy_temp_path $work;
    upstream u { server 127.0.0.1:18001; keepalive 64; }
    server {
        listen 127.0.0.1:18004;
        location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
NGINX

taskset -c 1 "$work/upstream" -listen 127.0.0.1:18001 &
taskset -c 0 "$work/bareproxy" -listen 127.0.0.1:18002 -upstream http://127.0.0.1:18001 &
GOMAXPROCS=1 taskset -c 0 "$work/composer" -f "$work/platform.tsk" 2> "$work/composer.log" &
taskset -c 0 nginx -c "$work/nginx.conf" &
sleep 2

run() { # name url
    local out
    taskset -c 1 wrk -t1 -c"$CONNS" -d3s "$2" > /dev/null # warm up: connections, heap
    out=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" --latency "$2")
    local rps p50
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    p50=$(taskset -c 1 wrk -t1 -c1 -d5s --latency "$2" | awk '$1=="50%" {print $2}')
    printf "%s %s %s\n" "$1" "$rps" "$p50"
}

{
    run direct http://127.0.0.1:18001/
    run bareproxy http://127.0.0.1:18002/
    run composer http://127.0.0.1:18003/
    run nginx http://127.0.0.1:18004/
} | tee "$work/results"

awk '
    { rps[$1]=$2; p50[$1]=$3 }
    END {
        printf "\n| target | req/s (%s conns) | p50 at 1 conn |\n|---|--:|--:|\n", "'"$CONNS"'"
        split("direct bareproxy composer nginx", order, " ")
        for (i = 1; i <= 4; i++) { n = order[i]; printf "| %s | %.0f | %s |\n", n, rps[n], p50[n] }
        printf "\ncomposer / bare gin+ReverseProxy: %.2f\ncomposer / nginx: %.2f\nbare / nginx: %.2f\n",
            rps["composer"]/rps["bareproxy"], rps["composer"]/rps["nginx"], rps["bareproxy"]/rps["nginx"]
    }' "$work/results"
