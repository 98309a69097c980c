# Shared by the benchmark sections in scripts/bench/: sourced, not run.
# Provides $runs (a temp folder removed on exit, or BENCH_RUNS, kept), `timed LOG CMD...` (runs CMD under
# /usr/bin/time -v, stdout to LOG.out), and `wall_s LOG` / `rss_mib LOG` to read it back.
# `run_pipeline FILE` runs every stage of a pipeline quietly (its log on failure).
# `synthetic_affinity_run NAME N TOP_K BLOCK M` writes $runs/pipelines/NAME.toml and runs
# prepare (N points from 10 synthetic subspaces) and the stand-in train stage (towers of
# width M) for it, ready for ebsc-affinity.
# `run_settings DIR` prints a finished run's n_clusters, eigenvector count and pretrained
# tensor (head, or backbone for the identity encoder). `input_tensor FILE`: which tensor of
# a prepare stage's inputs.safetensors holds the inputs (images or features).
# `feature_baselines DIR M PRETRAINED` scores a finished run's feature baselines through the
# caller's `cluster NAME ARGS...`.

if [ -n "${BENCH_RUNS:-}" ]; then
    runs=$BENCH_RUNS  # kept: the caller asked for the runs
    mkdir -p "$runs"
else
    runs=$(mktemp -d)
    trap 'rm -rf "$runs"' EXIT
fi

timed() {
    local log=$1; shift
    /usr/bin/time -v "$@" >"$log.out" 2>"$log" || {
        echo "bench: failed: $*" >&2; tail -n 30 "$log" >&2; exit 1; }
}

wall_s() {
    awk -F': ' '/Elapsed \(wall clock\)/ {split($2, t, ":"); s = 0; for (i = 1; i <= length(t); i++) s = s * 60 + t[i]; print s}' "$1"
}

rss_mib() {
    awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1"
}

run_pipeline() {
    scripts/stages.sh run "$1" --progress none >/dev/null 2>"$runs/stages.log" || {
        tail -n 30 "$runs/stages.log" >&2; exit 1; }
}

# From the stage manifests, which hold the merged pipeline (`extends` included).
synthetic_affinity_run() {
    local name=$1 n=$2 top_k=$3 block=$4 m=$5
    local pipeline="$runs/pipelines/$name.toml"
    mkdir -p "$runs/pipelines"
    cat >"$pipeline" <<TOML
[pipeline]
seed = 0

[prepare]
source = "synthetic-subspaces"
n_subspaces = 10
subspace_dim = 8
ambient_dim = 64
points_per_subspace = $((n / 10))
noise = 0.05
seed = 1

[affinity]
top_k = $top_k
block_size = $block
normalize_rows = true
affinity = "symmetric"
TOML
    target/release/ebsc-prepare "$pipeline" --runs-dir "$runs" --progress none >/dev/null
    target/release/examples/synthetic_train "$pipeline" "$runs" "$m" "$m" >/dev/null 2>&1
}

# The baselines on a run's own features, each clustered by the caller's `cluster NAME
# ARGS...` into NAME/: the cosine 10-NN graphs of the pretrained head (unless pretraining is
# the identity) and of the trained dictionary (M eigenvectors), k-means on the dictionary.
feature_baselines() {
    local dir=$1 m=$2 pretrained=$3
    if [ "$pretrained" = head ]; then
        cluster knn-pretrained --features "$dir/pretrain/features.safetensors" --tensor head \
            --knn 10 --n-eigenvectors "$m"
    fi
    cluster knn-trained --features "$dir/train/features.safetensors" --tensor dictionary \
        --knn 10 --n-eigenvectors "$m"
    cluster kmeans-trained --features "$dir/train/features.safetensors" --tensor dictionary \
        --normalize-rows
}

run_settings() {
    python3 - "$1" <<'PY'
import json, sys
def config(stage):
    return json.load(open(f"{sys.argv[1]}/{stage}/manifest.json"))["config"]["stage"]
c = config("cluster")
k = c["n_clusters"]
m = c.get("n_eigenvectors") or k + c.get("extra_eigenvectors", 0)
identity = config("pretrain")["encoder"]["kind"] == "identity"
print(k, max(m, k), "backbone" if identity else "head")
PY
}

# Which tensor of a prepare stage's inputs.safetensors holds the inputs: images or features.
input_tensor() {
    python3 - "$1" <<'PY'
import json, struct, sys
f = open(sys.argv[1], "rb")
header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
print("images" if "images" in header else "features")
PY
}
