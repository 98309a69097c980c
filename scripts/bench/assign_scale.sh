#!/usr/bin/env bash
# Out-of-sample assignment at scale (`scripts/bench.sh assign_scale`; not an everyday
# section): a pipeline fitted on 10,000 points of 10 synthetic 8-dimensional subspaces of
# R^32 (identity encoder, energy towers of width 64 trained for 60 steps, top_k 20), then
# COPIES (default 1000) noisy copies of those points, 10,000,000 samples
# (scripts/bench/repeat_inputs.py), assigned on this machine: wall time, peak RSS, ACC.
# THREADS: libtorch threads of the assignment (default 0: one per core).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/common.sh

py=${BENCH_PYTHON:-target/bench-venv/bin/python}
"$py" -c 'import numpy, pyarrow' || { echo "assign_scale: $py lacks numpy or pyarrow (BENCH_PYTHON)" >&2; exit 1; }
copies=${COPIES:-1000}
cargo build --release -q -p ebsc-prepare -p ebsc-pretrain -p ebsc-train -p ebsc-affinity \
    -p ebsc-cluster -p ebsc-assign
mkdir -p "$runs/pipelines"
pipeline="$runs/pipelines/synth-fit.toml"
cat >"$pipeline" <<'TOML'
[pipeline]
seed = 0

[prepare]
source = "synthetic-subspaces"
n_subspaces = 10
subspace_dim = 8
ambient_dim = 32
points_per_subspace = 1000
noise = 0.05
seed = 1

[pretrain]
[pretrain.encoder]
kind = "identity"

[train]
method = "ebsc"
freeze_encoder = true
dictionary = "backbone"
coefficients = "gibbs"
geometry = 1.0
residual_init = "zero"
gamma = 200.0
lambda = 0.9
alpha = 1.0
beta = 1.0
ssl_temperature = 0.5
energy_temperature = 0.1
queue_size = 0
energy_dim = 64
energy_hidden = [256]
epochs = 3
batch_size = 500
[train.optimizer]
kind = "adam"
lr = 1e-3
[train.augment]
noise = { std = 0.01 }

[affinity]
top_k = 20
block_size = 4096
normalize_rows = true
affinity = "symmetric"

[cluster]
n_clusters = 10
kmeans_restarts = 10
TOML
timed "$runs/stages.time" scripts/stages.sh run "$pipeline" --runs-dir "$runs" --progress none
fit_acc=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['acc'], 4))" "$runs/synth-fit/cluster/metrics.json")
target/release/ebsc-prepare "$pipeline" --out "$runs/fit-input" 2>/dev/null
"$py" scripts/bench/repeat_inputs.py "$runs/fit-input" "$copies" 0.02 0 "$runs/big/input"
log="$runs/assign.time"
timed "$log" target/release/ebsc-assign "$pipeline" --input "$runs/big/input" --out "$runs/big" \
    --runs-dir "$runs" --progress none --threads "${THREADS:-0}"
line=$(grep ' samples/s ' "$log" | head -n 1)
per_s=$(sed -n 's/.*: \([0-9]*\) samples\/s.*/\1/p' <<<"$line")
acc=$(sed -n 's/.*ACC \([0-9.]*\),.*/\1/p' "$log" | head -n 1)

echo "### assign at scale: noisy copies of 10,000 synthetic points"
echo
echo "| samples | landmarks | wall (s) | samples/s | peak RSS (MiB) | ACC | fit's ACC (10,000) |"
echo "|---|---|---|---|---|---|---|"
echo "| $((copies * 10000)) | 10000 | $(wall_s "$log") | $per_s | $(rss_mib "$log") | $acc | $fit_acc |"
echo
echo "The assign log: \`$line\`."
