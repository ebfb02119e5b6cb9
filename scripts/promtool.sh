#!/usr/bin/env bash
# Puts promtool into .bin/ (ignored by git): Prometheus' own rule checker,
# taken from Debian's prometheus package without installing the package
# (no service, no maintainer scripts; the file is a static Go program).
# The alert tests use it: `promtool check rules` and `promtool test rules`
# on the output of `composer alerts`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .bin/promtool ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
if ! apt-get download prometheus >/dev/null 2>&1; then
    apt-get update -q >/dev/null
    apt-get download prometheus
fi
dpkg-deb -x prometheus_*.deb x
cd - >/dev/null
mkdir -p .bin
cp "$tmp/x/usr/bin/promtool" .bin/promtool
.bin/promtool --version | head -1
