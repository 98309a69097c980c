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
mkdir -p "$runs/pipelines"
pipeline="$runs/pipelines/affinity-bench.toml"
cat >"$pipeline" <<TOML
[pipeline]
seed = 0

[prepare]
source = "synthetic-subspaces"
n_subspaces = $n_subspaces
subspace_dim = 8
ambient_dim = 64
points_per_subspace = $per_subspace
noise = 0.05
seed = 1

[affinity]
top_k = $top_k
block_size = $block
normalize_rows = true
affinity = "symmetric"
TOML
target/release/ebsc-prepare "$pipeline" --runs-dir "$runs" --progress none >/dev/null
target/release/examples/synthetic_train "$pipeline" "$runs" $m $m >/dev/null 2>&1

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
