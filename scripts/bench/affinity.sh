#!/usr/bin/env bash
# Affinity export at MNIST scale: N = 70,000 samples, towers of width m = 256, on this
# machine's CPU. The train stage is a stand-in (examples/synthetic_train.rs: prepare's
# synthetic-subspace points as the dictionary, randomly initialised towers), since the
# export does the same work whatever the weights are and real training at N = 70,000 takes
# far longer here. Reports wall time, peak RSS, and the blocked loop's achieved GFLOP/s
# (2·N²·m over its time) divided by the GFLOP/s of one large plain matrix product measured
# in the same run (goal ≥ 0.6).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/common.sh

n_subspaces=10 per_subspace=7000 m=256 top_k=${TOP_K:-20} block=${BLOCK:-4096}
cargo build --release -q -p ebsc-prepare -p ebsc-affinity --bins --examples
synthetic_affinity_run affinity-bench $((n_subspaces * per_subspace)) $top_k $block $m
pipeline="$runs/pipelines/affinity-bench.toml"

# The yardstick: one large plain product with the same inner width m, best of 3.
plain=$(target/release/examples/matmul_gflops 8192 $m 8192 3 2>/dev/null)
log="$runs/affinity.time"
timed "$log" target/release/ebsc-affinity "$pipeline" --runs-dir "$runs" --device cpu --progress none
stats=$(python3 -c "import json,sys; s=json.load(open(sys.argv[1]))['stats']; print(s['n_samples'], round(s['blocked_seconds'],1), round(s['product_seconds'],1), round(s['copy_seconds'],1), round(s['scan_seconds'],1), round(s['gflops'],1))" \
    "$runs/affinity-bench/affinity/manifest.json")
read -r n blocked product copy scan achieved <<<"$stats"
ratio=$(python3 -c "print(round($achieved / $plain, 2))")

echo "### affinity"
echo
echo "| N | m | top_k | block | wall (s) | blocked loop (s): product / copy / scan | peak RSS (MiB) | achieved GFLOP/s | plain matmul GFLOP/s | ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|"
echo "| $n | $m | $top_k | $block | $(wall_s "$log") | $blocked: $product / $copy / $scan | $(rss_mib "$log") | $achieved | $plain | $ratio |"
echo
