#!/usr/bin/env bash
# The first `just run` from a fresh clone of this repository's HEAD, timed step by step:
# `just setup` (the torch venv), `cargo fetch`, the release build (with `--timings`: the
# HTML report lands in the clone's target/cargo-timings/), `just run` (mnist-demo) and then
# `just new` (which must reuse the build). Needs `just` on PATH. The clone goes to
# FRESH_DIR (default a new temp folder; it holds a 4.6 GB venv and the build, so delete it
# afterwards). For a number that means anything, run it on a quiet machine.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
dir=${FRESH_DIR:-$(mktemp -d)}
git clone --quiet "$repo" "$dir/ebsc"
cd "$dir/ebsc"
now() { date +%s.%N; }
t0=$(now)
just setup
t1=$(now)
cargo fetch --quiet
t2=$(now)
cargo build --release --workspace --bins --exclude ebsc-report --timings 2>&1 | tail -n 1
t3=$(now)
just run 2>&1 | grep -E '^cluster: (metrics|done)'
t4=$(now)
just new timing-check data/mnist-test | tail -n 1
t5=$(now)
echo
echo "Fresh clone of $(git rev-parse --short=12 HEAD) in $dir/ebsc:"
echo
echo "| step | seconds |"
echo "|---|---:|"
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v f="$t5" 'BEGIN {
    printf "| just setup (.venv with torch) | %.0f |\n", b - a
    printf "| cargo fetch | %.0f |\n", c - b
    printf "| cargo build --release (stage binaries) | %.0f |\n", d - c
    printf "| just run (mnist-demo) | %.0f |\n", e - d
    printf "| fresh clone -> scored demo | %.0f |\n", e - a
    printf "| then just new (reuses the build) | %.0f |\n", f - e
}'
