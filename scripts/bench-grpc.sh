#!/usr/bin/env bash
# gRPC benchmark: unary calls (shop.v1.Users/GetUser) to the same grpc-go
# upstream reached directly, through a bare httputil.ReverseProxy on h2c,
# through the composer (a protocol "grpc" service: router, breaker,
# balancer, grpc-status read from the trailers) and through nginx's
# grpc_pass. The proxy under test is pinned to CPU 0; the upstream and
# the load generator (ghz, installed with go install into .bin) share
# CPU 1. Every address is on loopback. Needs nginx (Debian's nginx-light
# has grpc_pass) and protoc's include files (protobuf-compiler) for ghz
# to read proto/shop/v1/shop.proto. ghz ends a timed run by closing its
# connections: the calls in flight then ("transport is closing" or "the
# client connection is closing", at most one per stream) are not counted
# as errors; any other error is printed with its count.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-7}
GHZ_VERSION=${GHZ_VERSION:-v0.93.0}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT

[ -x .bin/ghz ] || GOBIN="$PWD/.bin" go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
go build -o "$work/upstream" ./internal/benchtools/grpcupstream
go build -o "$work/bareproxy" ./internal/benchtools/bareproxy
go build -o "$work/composer" ./cmd/composer

cat > "$work/platform.tsk" <<TSK
[composer]
listen: "127.0.0.1:18023"
admin: "127.0.0.1:18033"
data_dir: "$work/data"
[services]
bench { kind: "http", protocol: "grpc", instances: ["http://127.0.0.1:18021"], routes: ["/shop.v1.Users/*method"], timeout: "5s" }
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
    upstream g { server 127.0.0.1:18021; keepalive 64; keepalive_requests 1000000; }
    server {
        listen 127.0.0.1:18024 http2;
        keepalive_requests 1000000;
        location / { grpc_pass grpc://g; }
    }
}
NGINX

taskset -c 1 "$work/upstream" -listen 127.0.0.1:18021 &
taskset -c 0 "$work/bareproxy" -h2c -listen 127.0.0.1:18022 -upstream http://127.0.0.1:18021 &
GOMAXPROCS=1 taskset -c 0 "$work/composer" -f "$work/platform.tsk" 2> "$work/composer.log" &
taskset -c 0 nginx -c "$work/nginx.conf" &
sleep 2

ghz() { # addr connections concurrency duration
    taskset -c 1 .bin/ghz --insecure --proto proto/shop/v1/shop.proto -i proto,/usr/include \
        --call shop.v1.Users.GetUser -d '{"id":1}' --connections "$2" -c "$3" -z "$4" --format json "$1"
}

throughput() { # name addr
    ghz "$2" 4 "$CONNS" 3s > /dev/null # warm up: connections, heap
    ghz "$2" 4 "$CONNS" "$DURATION" | python3 -c 'import json,sys; r=json.load(sys.stdin); e=r.get("errorDistribution") or {}; end=lambda k: "transport is closing" in k or "client connection is closing" in k; c=sum(v for k, v in e.items() if end(k)); print(sys.argv[1], "rps", r["rps"], "errors", sum(e.values()) - c, "closed_at_end", c); [print("  error:", v, k, file=sys.stderr) for k, v in e.items() if not end(k)]' "$1"
}

p50() { # name addr: one 2 s run at one connection, one call at a time
    ghz "$2" 1 1 2s | python3 -c 'import json,sys; r=json.load(sys.stdin); print(sys.argv[1], "p50", [d["latency"] for d in r["latencyDistribution"] if d["percentage"] == 50][0] / 1000)' "$1"
}

targets="direct=127.0.0.1:18021 bareproxy=127.0.0.1:18022 composer=127.0.0.1:18023 nginx=127.0.0.1:18024"
{
    for t in $targets; do throughput "${t%%=*}" "${t#*=}"; done
    for t in $targets; do p50 "${t%%=*}" "${t#*=}" > /dev/null; done # warm up
    for _ in $(seq "$ROUNDS"); do
        for t in $targets; do p50 "${t%%=*}" "${t#*=}"; done
    done
} | tee "$work/results"

awk '
    $2 == "rps" { rps[$1] = $3; errs[$1] = $5 }
    $2 == "p50" { n[$1]++; lat[$1, n[$1]] = $3 }
    function median(t,    i, j, k, v, m) {
        m = n[t]
        for (i = 1; i <= m; i++) v[i] = lat[t, i]
        for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { k = v[j]; v[j] = v[j-1]; v[j-1] = k }
        return (m % 2) ? v[(m+1)/2] : (v[m/2] + v[m/2+1]) / 2
    }
    END {
        printf "\n| target | calls/s (%s streams on 4 conns) | errors | p50 at 1 conn (median of %d) | added p50 |\n|---|--:|--:|--:|--:|\n", "'"$CONNS"'", n["direct"]
        nt = split("direct bareproxy composer nginx", order, " ")
        d = median("direct")
        for (i = 1; i <= nt; i++) { t = order[i]; p[t] = median(t); printf "| %s | %.0f | %d | %.0f µs | %.0f µs |\n", t, rps[t], errs[t], p[t], p[t] - d }
        printf "\ncomposer / bare ReverseProxy h2c (calls/s): %.2f\ncomposer / nginx grpc_pass (calls/s): %.2f\nbare / nginx (calls/s): %.2f\n",
            rps["composer"]/rps["bareproxy"], rps["composer"]/rps["nginx"], rps["bareproxy"]/rps["nginx"]
        printf "added p50, composer / nginx: %.2f\nadded p50, bare / nginx: %.2f\n", (p["composer"]-d)/(p["nginx"]-d), (p["bareproxy"]-d)/(p["nginx"]-d)
    }' "$work/results"
