#!/usr/bin/env bash
# Gateway benchmark: the same upstream reached directly, through a bare
# gin + httputil.ReverseProxy program, through the composer (http service
# route: router, breaker, balancer, request id), through nginx and
# through haproxy, each also as nginx_fwd and haproxy_fwd, configured to
# do to each request what the composer does (forwarding headers, a
# request id both ways); and HTTPS with kept-alive connections through the
# composer (tls) and through nginx (ssl), with a self-signed certificate
# for 127.0.0.1. The proxy under test is pinned to CPU 0; the upstream
# and wrk share CPU 1. Every address is on loopback. Needs wrk, nginx and
# haproxy (Debian packages).
# BASE (default HEAD~1; BASE= for none) puts that commit's build of the
# composer ("base", same platform on its own port) beside the working
# tree's, in the same run. The results go to OUT.json and OUT.svg
# (default docs/bench-gateway), drawn by internal/benchtools/benchreport.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-4s}
RPS_ROUNDS=${RPS_ROUNDS:-5}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-7}
work=$(mktemp -d)
BASE=${BASE-HEAD~1}
OUT=${OUT:-docs/bench-gateway}
trap 'kill $(jobs -p) 2>/dev/null; [ -n "$BASE" ] && git worktree remove --force "$work/base-src" 2>/dev/null; rm -rf "$work"' EXIT

go build -o "$work/upstream" ./internal/benchtools/upstream
go build -o "$work/bareproxy" ./internal/benchtools/bareproxy
go build -o "$work/composer" ./cmd/composer
go run ./internal/benchtools/selfsigned -dir "$work" -name gateway
if [ -n "$BASE" ]; then
    git worktree add -q "$work/base-src" "$BASE"
    (cd "$work/base-src" && go build -o "$work/base" ./cmd/composer)
fi

cat > "$work/platform.tsk" <<TSK
[composer]
listen: "127.0.0.1:18003"
admin: "127.0.0.1:18013"
data_dir: "$work/data"
[services]
bench { kind: "http", instances: ["http://127.0.0.1:18001"], routes: ["/*path"], timeout: "5s" }
loadgen { kind: "http", instances: ["http://127.0.0.1:18001"], calls: ["bench"] }
[mesh]
listen: "127.0.0.1:18006"
[health_checks]
path: "/"
TSK

sed -e 's/18003/18007/; s/18013/18017/; s|/data"|/data-tls"|' -e '/^\[mesh\]/d; /18006/d; /^loadgen/d' \
    -e "s|^data_dir.*|&\ntls { cert_file: \"$work/gateway.pem\", key_file: \"$work/gateway-key.pem\" }|" "$work/platform.tsk" > "$work/tls.tsk"

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
    # nginx_fwd: what the composer does to each request besides
    # forwarding it: X-Forwarded-For (the client's replaced), -Host and
    # -Proto to the upstream, a request id (the client's, or a new one) to
    # the upstream and in the answer.
    map \$http_x_request_id \$reqid { default \$http_x_request_id; "" \$request_id; }
    server {
        listen 127.0.0.1:18010;
        location / {
            proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For \$remote_addr;
            proxy_set_header X-Forwarded-Host \$http_host;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Request-Id \$reqid;
            add_header X-Request-Id \$reqid;
        }
    }
    server {
        listen 127.0.0.1:18008 ssl;
        ssl_certificate $work/gateway.pem;
        ssl_certificate_key $work/gateway-key.pem;
        location / { proxy_pass http://u; proxy_http_version 1.1; proxy_set_header Connection ""; }
    }
}
NGINX

taskset -c 1 "$work/upstream" -listen 127.0.0.1:18001 &
taskset -c 0 "$work/bareproxy" -listen 127.0.0.1:18002 -upstream http://127.0.0.1:18001 &
GOMAXPROCS=1 taskset -c 0 "$work/composer" -f "$work/platform.tsk" 2> "$work/composer.log" &
GOMAXPROCS=1 taskset -c 0 "$work/composer" -f "$work/tls.tsk" 2> "$work/composer-tls.log" &
if [ -n "$BASE" ]; then
    sed -e 's/18003/18005/; s/18013/18015/; s|/data"|/data-base"|' -e '/^\[mesh\]/d; /18006/d; /^loadgen/d' "$work/platform.tsk" > "$work/base.tsk"
    GOMAXPROCS=1 taskset -c 0 "$work/base" -f "$work/base.tsk" 2> "$work/base.log" &
fi
taskset -c 0 nginx -c "$work/nginx.conf" &
cat > "$work/haproxy.cfg" <<HAPROXY
global
    nbthread 1
defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s
    http-reuse always
frontend f
    bind 127.0.0.1:18009
    default_backend b
backend b
    server u 127.0.0.1:18001
# haproxy_fwd: the composer's work on each request, as nginx_fwd.
frontend f_fwd
    bind 127.0.0.1:18011
    unique-id-format %{+X}o%ci%cp%fi%fp%Ts%rt%pid
    http-request set-var(txn.reqid) req.hdr(x-request-id)
    http-request set-var(txn.reqid) unique-id unless { var(txn.reqid) -m found }
    http-request set-header X-Request-Id %[var(txn.reqid)]
    http-request set-header X-Forwarded-For %[src]
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request set-header X-Forwarded-Proto http
    http-after-response set-header X-Request-Id %[var(txn.reqid)]
    default_backend b
HAPROXY
taskset -c 0 haproxy -f "$work/haproxy.cfg" &
sleep 2

# The mesh target is a call through [mesh] listen, from the caller
# loadgen to bench: one mesh hop in front of the same upstream.
hdr() { [ "$1" = mesh ] && printf '%s' "X-Composer-Caller: loadgen" || printf '%s' "X-Bench: 1"; }

throughput() { # name url: one run of DURATION at CONNS connections
    local rps
    rps=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" -H "$(hdr "$1")" "$2" | awk '/Requests\/sec/ {print $2}')
    printf "%s rps %s\n" "$1" "$rps"
}

p50() { # name url: one 2 s run at one connection: "NAME lat P50 P90 P99" in µs
    taskset -c 1 wrk -t1 -c1 -d2s --latency -H "$(hdr "$1")" "$2" | awk -v n="$1" '
        function us(s) { if (s ~ /ms$/) { sub(/ms$/, "", s); return s * 1000 } if (s ~ /us$/) { sub(/us$/, "", s); return s + 0 } sub(/s$/, "", s); return s * 1000000 }
        $1=="50%" {a=us($2)} $1=="90%" {b=us($2)} $1=="99%" {c=us($2)}
        END { print n, "lat", a, b, c }'
}

targets="direct=http://127.0.0.1:18001/ bareproxy=http://127.0.0.1:18002/ composer=http://127.0.0.1:18003/ nginx=http://127.0.0.1:18004/ haproxy=http://127.0.0.1:18009/ nginx_fwd=http://127.0.0.1:18010/ haproxy_fwd=http://127.0.0.1:18011/ mesh=http://127.0.0.1:18006/bench/ composer_tls=https://127.0.0.1:18007/ nginx_tls=https://127.0.0.1:18008/"
[ -n "$BASE" ] && targets="$targets base=http://127.0.0.1:18005/"
{
    # Throughput moves with the host too (a virtual machine's neighbours):
    # a target's req/s is the median of $RPS_ROUNDS runs, taken in turns.
    for t in $targets; do # warm up: connections, heap
        taskset -c 1 wrk -t1 -c"$CONNS" -d2s -H "$(hdr "${t%%=*}")" "${t#*=}" > /dev/null
    done
    for _ in $(seq "$RPS_ROUNDS"); do
        for t in $targets; do throughput "${t%%=*}" "${t#*=}"; done
    done
    # Latency at one connection varies from run to run by more than the
    # differences between the targets (the virtual CPUs' wake-ups): the
    # p50 of a target is the median of $ROUNDS runs, taken in turns so
    # that every target sees the same conditions.
    for t in $targets; do p50 "${t%%=*}" "${t#*=}" > /dev/null; done # warm up
    for _ in $(seq "$ROUNDS"); do
        for t in $targets; do p50 "${t%%=*}" "${t#*=}"; done
    done
} | tee "$work/results"

go run ./internal/benchtools/benchreport -in "$work/results" -conns "$CONNS" -json "$OUT.json" -svg "$OUT.svg"
