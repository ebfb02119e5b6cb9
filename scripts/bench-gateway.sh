#!/usr/bin/env bash
# Gateway benchmark: the same upstream reached directly, through a bare
# gin + httputil.ReverseProxy program, through the composer (http service
# route: router, breaker, balancer, request id) and through nginx; and
# HTTPS with kept-alive connections through the composer (tls) and
# through nginx (ssl), with a self-signed certificate for 127.0.0.1. The
# proxy under test is pinned to CPU 0; the upstream and wrk share CPU 1.
# Every address is on loopback. Needs wrk and nginx (Debian packages).
# BASE=<commit> adds that commit's build of the composer ("base", same
# platform on its own port) beside the working tree's, in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
ROUNDS=${ROUNDS:-7}
work=$(mktemp -d)
BASE=${BASE:-}
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
sleep 2

# The mesh target is a call through [mesh] listen, from the caller
# loadgen to bench: one mesh hop in front of the same upstream.
hdr() { [ "$1" = mesh ] && printf '%s' "X-Composer-Caller: loadgen" || printf '%s' "X-Bench: 1"; }

throughput() { # name url
    taskset -c 1 wrk -t1 -c"$CONNS" -d3s -H "$(hdr "$1")" "$2" > /dev/null # warm up: connections, heap
    local rps
    rps=$(taskset -c 1 wrk -t1 -c"$CONNS" -d"$DURATION" -H "$(hdr "$1")" "$2" | awk '/Requests\/sec/ {print $2}')
    printf "%s rps %s\n" "$1" "$rps"
}

p50() { # name url: one 2 s run at one connection
    taskset -c 1 wrk -t1 -c1 -d2s --latency -H "$(hdr "$1")" "$2" | awk -v n="$1" '$1=="50%" {v=$2; sub(/us$/, "", v); if ($2 ~ /ms$/) {sub(/ms$/, "", v); v*=1000}; print n, "p50", v}'
}

targets="direct=http://127.0.0.1:18001/ bareproxy=http://127.0.0.1:18002/ composer=http://127.0.0.1:18003/ nginx=http://127.0.0.1:18004/ mesh=http://127.0.0.1:18006/bench/ composer_tls=https://127.0.0.1:18007/ nginx_tls=https://127.0.0.1:18008/"
[ -n "$BASE" ] && targets="$targets base=http://127.0.0.1:18005/"
{
    for t in $targets; do throughput "${t%%=*}" "${t#*=}"; done
    # Latency at one connection varies from run to run by more than the
    # differences between the targets (the virtual CPUs' wake-ups): the
    # p50 of a target is the median of $ROUNDS runs, taken in turns so
    # that every target sees the same conditions.
    for t in $targets; do p50 "${t%%=*}" "${t#*=}" > /dev/null; done # warm up
    for _ in $(seq "$ROUNDS"); do
        for t in $targets; do p50 "${t%%=*}" "${t#*=}"; done
    done
} | tee "$work/results"

awk '
    $2 == "rps" { rps[$1] = $3 }
    $2 == "p50" { n[$1]++; lat[$1, n[$1]] = $3 }
    function median(t,    i, j, k, v, m) {
        m = n[t]
        for (i = 1; i <= m; i++) v[i] = lat[t, i]
        for (i = 2; i <= m; i++) for (j = i; j > 1 && v[j-1] > v[j]; j--) { k = v[j]; v[j] = v[j-1]; v[j-1] = k }
        return (m % 2) ? v[(m+1)/2] : (v[m/2] + v[m/2+1]) / 2
    }
    END {
        printf "\n| target | req/s (%s conns) | p50 at 1 conn (median of %d) | added p50 |\n|---|--:|--:|--:|\n", "'"$CONNS"'", n["direct"]
        nt = split("direct bareproxy composer mesh nginx composer_tls nginx_tls base", order, " ")
        d = median("direct")
        for (i = 1; i <= nt; i++) { t = order[i]; if (!(t in rps)) continue; p[t] = median(t); printf "| %s | %.0f | %.0f µs | %.0f µs |\n", t, rps[t], p[t], p[t] - d }
        printf "\ncomposer / bare gin+ReverseProxy (req/s): %.2f\ncomposer / nginx (req/s): %.2f\nbare / nginx (req/s): %.2f\n",
            rps["composer"]/rps["bareproxy"], rps["composer"]/rps["nginx"], rps["bareproxy"]/rps["nginx"]
        printf "added p50, composer / nginx: %.2f\nadded p50, bare / nginx: %.2f\n", (p["composer"]-d)/(p["nginx"]-d), (p["bareproxy"]-d)/(p["nginx"]-d)
        if ("composer_tls" in rps) printf "HTTPS, composer / nginx (req/s): %.2f\nadded p50 over HTTPS, composer / nginx: %.2f\n", rps["composer_tls"]/rps["nginx_tls"], (p["composer_tls"]-d)/(p["nginx_tls"]-d)
        if ("mesh" in rps) printf "mesh hop / nginx sidecar (req/s): %.2f\nadded p50, mesh hop / nginx sidecar: %.2f\n", rps["mesh"]/rps["nginx"], (p["mesh"]-d)/(p["nginx"]-d)
        if ("base" in rps) printf "composer / base build (req/s): %.2f\nadded p50, composer / base build: %.2f\n", rps["composer"]/rps["base"], (p["composer"]-d)/(p["base"]-d)
    }' "$work/results"
