#!/usr/bin/env bash
# A route's delivery capacity on Kafka (kfake, in process), BASE's build
# (default HEAD~1) beside the working tree's, interleaved, with raw
# kafka-go and franz-go reading the same topic in each run: the working
# tree's BenchmarkDrain is run in both trees (copied into BASE's), so the
# two builds are measured by the same code.
set -euo pipefail
cd "$(dirname "$0")/.."
BASE=${BASE:-HEAD~1}
ROUNDS=${ROUNDS:-3}
N=${N:-20000}
work=$(mktemp -d)
trap 'git worktree remove --force "$work/base" 2>/dev/null; rm -rf "$work"' EXIT
git worktree add -q "$work/base" "$BASE"
cp internal/kafkabus/bench_test.go "$work/base/internal/kafkabus/bench_test.go"
for round in $(seq "$ROUNDS"); do
  (cd "$work/base" && go test ./internal/kafkabus -run '^$' -bench 'Drain/kafkabus' -benchtime "${N}x" -count 1) |
    awk '/^BenchmarkDrain/ {sub("kafkabus", "kafkabus-base", $1); print}'
  go test ./internal/kafkabus -run '^$' -bench 'Drain' -benchtime "${N}x" -count 1 | awk '/^BenchmarkDrain/'
done
