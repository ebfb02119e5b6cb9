#!/usr/bin/env bash
# User-space instructions per proxied request, BASE's build (default
# HEAD~1) beside the working tree's, counted by valgrind's callgrind: the
# same http-service route in front of the same upstream, 2,000 requests
# of warm-up, then the counters zeroed and exactly N (default 20,000)
# requests over 8 kept-alive connections. Instruction counts do not move
# with the host's noise (req/s here moves by 10-20 % between runs of the
# same build; two runs of one build at 20,000 requests agree within
# 0.2 %, at 4,000 within 7 %: the collector's cycles and the timers fall
# differently), but they leave out the kernel's side of every system call:
# they show a change of the composer's own work, bench-builds what it is
# worth. Every address is on loopback. Needs valgrind.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-platform.sh
BASE=${BASE:-HEAD~1}
N=${N:-20000}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null; git worktree remove --force "$work/base-src" 2>/dev/null; rm -rf "$work"' EXIT
git worktree add -q "$work/base-src" "$BASE"
(cd "$work/base-src" && go build -o "$work/base-composer" ./cmd/composer)
go build -o "$work/new-composer" ./cmd/composer
go build -o "$work/upstream" ./internal/benchtools/upstream
go build -o "$work/fixedload" ./internal/benchtools/fixedload
"$work/upstream" -listen 127.0.0.1:18001 &
for v in base new; do
  port=$([ $v = base ] && echo 18003 || echo 18005)
  bench_platform "$work/$v.tsk" "$port" "$work/data-$v"
  # No asynchronous preemption: callgrind cannot follow Go's preemption signals.
  GODEBUG=asyncpreemptoff=1 GOMAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file="$work/$v.cg" \
    "$work/$v-composer" -f "$work/$v.tsk" 2> "$work/$v.log" &
  for _ in $(seq 120); do curl -s -m 2 -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.5; done
  pid=$(pgrep -f "valgrind.bin.*$work/$v.cg" | head -1)
  timeout 300 "$work/fixedload" -url "http://127.0.0.1:$port/" -n 2000 > /dev/null
  callgrind_control -z "$pid" > /dev/null
  timeout 900 "$work/fixedload" -url "http://127.0.0.1:$port/" -n "$N" > /dev/null
  callgrind_control -d "$pid" > /dev/null
  kill "$pid"
  total=$(callgrind_annotate "$work/$v.cg".1 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1}')
  echo "$v $((total / N))"
done | tee "$work/counts.txt"
awk '{ n[$1] = $2 } END { printf "instructions per request: base %d, new %d (new/base %.3f)\n", n["base"], n["new"], n["new"] / n["base"] }' "$work/counts.txt"
