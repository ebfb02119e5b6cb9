#!/usr/bin/env bash
# CPU time per proxied request, split into user and system time, of the
# working tree's composer and of nginx (one worker), each pinned to CPU
# 0 in front of the same upstream (CPU 1, with wrk): what each proxy's own
# work costs and what its system calls cost the kernel, read from
# /proc/PID/stat around ROUNDS interleaved runs of wrk at 32 connections,
# and what the upstream behind each spent per request (it shares CPU 1
# with wrk: a proxy that costs it more is capped sooner).
# composer_2 and nginx_2 are the same on two cores (GOMAXPROCS=2, two
# workers), not pinned: on a host of two cores they share them with wrk
# and the upstream, so their throughput says nothing, but their CPU per
# request does: what running on two cores adds to each request's cost
# (locks, shared counters, the scheduler), against the one-core figure.
# Every address is on loopback. Needs wrk and nginx.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-platform.sh
ROUNDS=${ROUNDS:-5}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/composer" ./cmd/composer
go build -o "$work/upstream" ./internal/benchtools/upstream
taskset -c 1 "$work/upstream" -listen 127.0.0.1:18001 &
upstream=$!
bench_platform "$work/platform.tsk" 18003 "$work/data"
bench_platform "$work/platform2.tsk" 18023 "$work/data2"
bench_nginx "$work/nginx.conf" "$work" 18004 1
bench_nginx "$work/nginx2.conf" "$work" 18024 2
GOMAXPROCS=1 taskset -c 0 "$work/composer" -f "$work/platform.tsk" 2> "$work/composer.log" &
composer=$!
GOMAXPROCS=2 "$work/composer" -f "$work/platform2.tsk" 2> "$work/composer2.log" &
composer2=$!
taskset -c 0 nginx -c "$work/nginx.conf" &
nginx -c "$work/nginx2.conf" &
sleep 2
nginx=$(nginx_workers "$work/nginx.conf")
nginx2=$(nginx_workers "$work/nginx2.conf")
tck=$(getconf CLK_TCK)
ticks() { # pid...: the user and system ticks of them all
    for p in "$@"; do awk '{print $14, $15}' "/proc/$p/stat"; done | awk '{u += $1; s += $2} END {print u, s}'
}
cpu() { # name "pid..." port: "NAME requests user-µs sys-µs upstream-user-µs upstream-sys-µs" per request of one 5 s run
    # shellcheck disable=SC2086 # (the pids are words)
    read -r u0 s0 < <(ticks $2)
    read -r uu0 us0 < <(awk '{print $14, $15}' "/proc/$upstream/stat")
    n=$(taskset -c 1 timeout 30 wrk -t1 -c32 -d5s "http://127.0.0.1:$3/" | awk '/requests in/ {print $1}')
    # shellcheck disable=SC2086
    read -r u1 s1 < <(ticks $2)
    read -r uu1 us1 < <(awk '{print $14, $15}' "/proc/$upstream/stat")
    awk -v name="$1" -v n="$n" -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v uu=$((uu1 - uu0)) -v us=$((us1 - us0)) -v t="$tck" \
        'BEGIN { printf "%s %d %.1f %.1f %.1f %.1f\n", name, n, u / t * 1e6 / n, s / t * 1e6 / n, uu / t * 1e6 / n, us / t * 1e6 / n }'
}
for _ in $(seq "$ROUNDS"); do
    cpu composer "$composer" 18003
    cpu nginx "$nginx" 18004
    cpu composer_2 "$composer2" 18023
    cpu nginx_2 "$nginx2" 18024
done | tee "$work/rounds.txt"
awk '
  function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  { k = $1; c[k]++; u[k, c[k]] = $3; s[k, c[k]] = $4; pu[k, c[k]] = $5; ps[k, c[k]] = $6 }
  END { for (k in c) { n = c[k]; for (i = 1; i <= n; i++) { uu[i] = u[k, i]; ss[i] = s[k, i]; puu[i] = pu[k, i]; pss[i] = ps[k, i] }
        tot[k] = med(uu, n) + med(ss, n)
        printf "%s: median user %.1f µs, system %.1f µs per request; the upstream behind it: user %.1f µs, system %.1f µs\n", k, med(uu, n), med(ss, n), med(puu, n), med(pss, n) }
        printf "CPU per request on two cores / on one: composer %.2f, nginx %.2f (at most 2/1.8 = 1.11 for 1.8x the throughput on two cores of their own)\n", tot["composer_2"] / tot["composer"], tot["nginx_2"] / tot["nginx"] }' "$work/rounds.txt"
