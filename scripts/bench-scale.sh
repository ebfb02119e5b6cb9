#!/usr/bin/env bash
# Throughput on one core and on two, of the working tree's composer and
# of nginx side by side, on a host too small to give a proxy two cores
# of its own beside wrk and the upstream. Each proxy runs in a cgroup
# whose CPU quota makes its cores fractions of one: "one core" is
# GOMAXPROCS=1 (one nginx worker) with a quota of QUOTA of one CPU, "two
# cores" is GOMAXPROCS=2 (two workers) with twice that quota; neither is
# pinned, so that the two differ only in how many run at once. What is left (at least 2 - 2*QUOTA CPUs) runs wrk and the
# upstream, so that the proxy, not they, sets the rate; each line says
# how much of its quota the proxy used, and a proxy that used much less
# than all of it was not what set the rate. The cgroups' weight is high,
# so that the proxy runs when it is runnable and has quota left.
# A quota's period is 10 ms. Needs root, a writable cgroup cpu
# controller (v1 or v2), wrk and nginx. Every address is on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-platform.sh
ROUNDS=${ROUNDS:-5}
QUOTA=${QUOTA:-0.35}
period=10000
one=$(awk -v q="$QUOTA" -v p=$period 'BEGIN { printf "%d", q * p }')
work=$(mktemp -d)
groups=()
cleanup() {
    kill $(jobs -p) 2>/dev/null || true
    sleep 0.5
    for g in "${groups[@]}"; do rmdir "$g" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
# cgroup NAME QUOTA_US: makes a cgroup of that quota per 10 ms and prints its directory
cgroup() {
    local d
    if [ -w /sys/fs/cgroup/cpu ] && [ -e /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
        d=/sys/fs/cgroup/cpu/$1
        mkdir -p "$d"
        echo $period > "$d/cpu.cfs_period_us"
        echo "$2" > "$d/cpu.cfs_quota_us"
        echo 10240 > "$d/cpu.shares"
    elif grep -qw cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
        echo +cpu > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
        d=/sys/fs/cgroup/$1
        mkdir -p "$d"
        echo "$2 $period" > "$d/cpu.max"
        echo 1000 > "$d/cpu.weight"
    else
        echo "bench-scale: no writable cgroup cpu controller" >&2
        return 1
    fi
    echo "$d"
}
join() { for p in "${@:2}"; do echo "$p" > "$1/cgroup.procs"; done; }
g1=$(cgroup tusk-bench-one "$one")
groups+=("$g1")
g2=$(cgroup tusk-bench-two $((2 * one)))
groups+=("$g2")
g3=$(cgroup tusk-bench-nginx-one "$one")
groups+=("$g3")
g4=$(cgroup tusk-bench-nginx-two $((2 * one)))
groups+=("$g4")
go build -o "$work/composer" ./cmd/composer
go build -o "$work/upstream" ./internal/benchtools/upstream
"$work/upstream" -listen 127.0.0.1:18001 &
upstream=$!
bench_platform "$work/platform.tsk" 18003 "$work/data"
bench_platform "$work/platform2.tsk" 18023 "$work/data2"
bench_nginx "$work/nginx.conf" "$work" 18004 1
bench_nginx "$work/nginx2.conf" "$work" 18024 2
GOMAXPROCS=1 "$work/composer" -f "$work/platform.tsk" 2> "$work/composer.log" &
composer=$!
GOMAXPROCS=2 "$work/composer" -f "$work/platform2.tsk" 2> "$work/composer2.log" &
composer2=$!
nginx -c "$work/nginx.conf" &
nginx -c "$work/nginx2.conf" &
sleep 2
nginx=$(nginx_workers "$work/nginx.conf")
nginx2=$(nginx_workers "$work/nginx2.conf")
join "$g1" "$composer"
join "$g2" "$composer2"
# shellcheck disable=SC2086 # (the pids are words)
join "$g3" $nginx
# shellcheck disable=SC2086
join "$g4" $nginx2
tck=$(getconf CLK_TCK)
ticks() { # pid...: the user and system ticks of them all
    for p in "$@"; do awk '{print $14 + $15}' "/proc/$p/stat"; done | awk '{t += $1} END {print t}'
}
run() { # name "pid..." port cores: "NAME req/s share-of-quota-used" of one 5 s run
    # shellcheck disable=SC2086
    t0=$(ticks $2)
    r=$(timeout 30 wrk -t1 -c32 -d5s "http://127.0.0.1:$3/" | awk '/Requests\/sec/ {print $2}')
    # shellcheck disable=SC2086
    t1=$(ticks $2)
    awk -v name="$1" -v r="$r" -v t=$((t1 - t0)) -v tck="$tck" -v q="$QUOTA" -v cores="$4" \
        'BEGIN { printf "%s %.0f %.2f\n", name, r, t / tck / 5 / (q * cores) }'
}
for _ in $(seq "$ROUNDS"); do
    run composer "$composer" 18003 1
    run nginx "$nginx" 18004 1
    run composer_2 "$composer2" 18023 2
    run nginx_2 "$nginx2" 18024 2
done | tee "$work/rounds.txt"
awk -v q="$QUOTA" '
  function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  { k = $1; c[k]++; r[k, c[k]] = $2; u[k, c[k]] = $3 }
  END { for (k in c) { n = c[k]; for (i = 1; i <= n; i++) { rr[i] = r[k, i]; uu[i] = u[k, i] }
        m[k] = med(rr, n)
        printf "%s: median %.0f req/s, %.2f of its quota used\n", k, m[k], med(uu, n) }
        printf "cores of %s CPU: two cores / one: composer %.2fx, nginx %.2fx (the target: at least 1.8x); composer / nginx: one core %.2fx, two %.2fx\n", q, m["composer_2"] / m["composer"], m["nginx_2"] / m["nginx"], m["composer"] / m["nginx"], m["composer_2"] / m["nginx_2"] }' "$work/rounds.txt"
