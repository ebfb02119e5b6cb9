#!/usr/bin/env bash
# Two builds of the composer side by side: BASE (a commit, default
# HEAD~1) and the working tree, the same http-service route in front of
# the same upstream, interleaved rounds of wrk (32 connections, then one
# for the added p50). Each composer has GOMAXPROCS=1 on CPU 0; the
# upstream and wrk share CPU 1. Every address is on loopback. Needs wrk.
# The answer is the ratio of the medians: ratios to nginx move with the
# machine, so compare builds in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-platform.sh
BASE=${BASE:-HEAD~1}
ROUNDS=${ROUNDS:-9}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; git worktree remove --force "$work/base-src" 2>/dev/null; rm -rf "$work"' EXIT
git worktree add -q "$work/base-src" "$BASE"
(cd "$work/base-src" && go build -o "$work/base-composer" ./cmd/composer)
go build -o "$work/new-composer" ./cmd/composer
go build -o "$work/upstream" ./internal/benchtools/upstream
taskset -c 1 "$work/upstream" -listen 127.0.0.1:18001 &
for v in base new; do
  port=$([ $v = base ] && echo 18003 || echo 18005)
  bench_platform "$work/$v.tsk" "$port" "$work/data-$v"
  GOMAXPROCS=1 taskset -c 0 "$work/$v-composer" -f "$work/$v.tsk" 2> "$work/$v.log" &
done
sleep 2
for round in $(seq "$ROUNDS"); do
  for v in base new; do
    port=$([ $v = base ] && echo 18003 || echo 18005)
    rps=$(taskset -c 1 timeout 30 wrk -t1 -c32 -d4s "http://127.0.0.1:$port/" | awk '/Requests\/sec/ {print $2}')
    p50=$(taskset -c 1 timeout 30 wrk -t1 -c1 -d3s --latency "http://127.0.0.1:$port/" | awk '$1=="50%" {print $2}')
    echo "$v $rps $p50"
  done
done | tee "$work/rounds.txt"
awk '
  function med(a, n,   i, j, t) { for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }; return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
  { p = $3; if (p ~ /ms$/) { sub(/ms$/, "", p); p *= 1000 } else sub(/us$/, "", p); if ($1 == "base") { nb++; rb[nb] = $2; pb[nb] = p } else { nn++; rn[nn] = $2; pn[nn] = p } }
  END { printf "median req/s: base %.0f, new %.0f (new/base %.2f)\nmedian p50 at one connection (us): base %.0f, new %.0f (new/base %.2f)\n",
        med(rb, nb), med(rn, nn), med(rn, nn) / med(rb, nb), med(pb, nb), med(pn, nn), med(pn, nn) / med(pb, nb) }' "$work/rounds.txt"
