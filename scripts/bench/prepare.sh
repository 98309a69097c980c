#!/usr/bin/env bash
# Prepare stage: one forced run per pipeline; wall time and peak memory from /usr/bin/time.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/common.sh

echo "### prepare"
echo
echo "| stage | pipeline | samples | wall (s) | peak RSS (MiB) |"
echo "|---|---|---|---|---|"

bench_prepare() {
    local pipeline=$1 log="$runs/time.log"
    timed "$log" target/release/ebsc-prepare "pipelines/$pipeline.toml" \
        --runs-dir "$runs" --force --progress none
    local samples
    samples=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['stats'].get('n_samples', ''))" \
        "$runs/$pipeline/prepare/manifest.json")
    echo "| prepare | $pipeline | $samples | $(wall_s "$log") | $(rss_mib "$log") |"
}

bench_prepare mnist-demo
bench_prepare subspaces
if [ -f data/mnist/train-images-idx3-ubyte ]; then
    bench_prepare mnist
else
    echo "(mnist skipped: run \`just fetch mnist\` first)" >&2
fi
echo
