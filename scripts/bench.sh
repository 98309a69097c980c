#!/usr/bin/env bash
# Benchmarks of the stages that exist, on this machine; prints a Markdown table to paste
# into RESULTS.md. Each row is one forced stage run: wall time and peak memory from
# /usr/bin/time, samples from the manifest.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT

machine="$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
echo "machine: $machine"
echo "revision: $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)"
echo
echo "| stage | pipeline | samples | wall (s) | peak RSS (MiB) |"
echo "|---|---|---|---|---|"

bench_stage() {
    local stage=$1 pipeline=$2
    local log="$runs/time.log"
    /usr/bin/time -v target/release/ebsc-"$stage" "pipelines/$pipeline.toml" \
        --runs-dir "$runs" --force --progress none >/dev/null 2>"$log" || {
        echo "bench: $stage $pipeline failed:" >&2; cat "$log" >&2; exit 1; }
    local wall rss samples
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {split($2, t, ":"); s = 0; for (i = 1; i <= length(t); i++) s = s * 60 + t[i]; print s}' "$log")
    rss=$(awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$log")
    samples=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['stats'].get('n_samples', ''))" \
        "$runs/$pipeline/$stage/manifest.json")
    echo "| $stage | $pipeline | $samples | $wall | $rss |"
}

bench_stage prepare mnist-demo
bench_stage prepare subspaces
if [ -f data/mnist/train-images-idx3-ubyte ]; then
    bench_stage prepare mnist
else
    echo "(mnist skipped: run \`just fetch mnist\` first)" >&2
fi
