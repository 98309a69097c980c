#!/usr/bin/env bash
# Ablations: does each part of the method earn its place? On one pipeline's prepared data
# and pretrained encoder, with the same metrics code:
#   kmeans-raw         k-means++ on the raw inputs (pixels scaled to [0, 1])
#   kmeans-pretrained  k-means++ on the pretrained head features, rows L2-normalised
#   knn-pretrained     spectral clustering of a 10-NN cosine graph of the same features
#   knn-trained        the same, on the train stage's final dictionary (did training move
#                      the features?) — for the pipeline and each joint ablation
#   every pipelines/ablations/P-*.toml (SENet, frozen encoder, no coding rate, no L_ebm,
#                      no L_se, random energy start, …), each extending P and changing [train]
#   full               the pipeline itself
# Outputs stay in data/runs/P/ablations/ and data/runs/P-*/, so `just report` lists them.
# PIPELINE=mnist scripts/bench.sh ablations for the 70,000 (after `just fetch mnist`).
set -euo pipefail
pipeline=${PIPELINE:-mnist-demo}
source scripts/bench/common.sh  # $runs: a temp folder for logs, removed on exit
data=data/runs
here=$data/$pipeline

# The full model; a finished run is up to date and costs nothing.
run_pipeline "$pipeline"
labels=$here/prepare/samples.parquet
read -r n_clusters n_eigenvectors pretrained_tensor < <(run_settings "$here")
input_tensor=$(python3 -c 'import json, sys; h = open(sys.argv[1], "rb").read(); n = int.from_bytes(h[:8], "little"); print("images" if "images" in json.loads(h[8:8 + n]) else "features")' "$here/prepare/inputs.safetensors")

# A baseline: ebsc-cluster on a tensor, into $here/ablations/NAME; its wall time is kept.
declare -A wall
baseline() {
    local name=$1; shift
    rm -rf "${here:?}/ablations/$name"
    timed "$runs/$name.log" target/release/ebsc-cluster --labels "$labels" \
        --n-clusters "$n_clusters" --out "$here/ablations/$name" "$@"
    wall[$name]=$(wall_s "$runs/$name.log")
}
knn() { baseline "$1" --features "$2" --tensor "$3" --knn 10 --n-eigenvectors "$n_eigenvectors"; }

baseline kmeans-raw --features "$here/prepare/inputs.safetensors" --tensor "$input_tensor"
baseline kmeans-pretrained --features "$here/pretrain/features.safetensors" --tensor "$pretrained_tensor" --normalize-rows
knn knn-pretrained "$here/pretrain/features.safetensors" "$pretrained_tensor"
knn knn-trained "$here/train/features.safetensors" dictionary

# Each ablation: the same prepare and pretrain stages (equal keys: copied, then up to date).
ablations=()
for file in pipelines/ablations/"$pipeline"-*.toml; do
    [ -f "$file" ] || continue
    name=$(basename "$file" .toml)
    for stage in prepare pretrain; do
        if [ ! -f "$data/$name/$stage/manifest.json" ]; then
            mkdir -p "$data/$name" && rm -rf "${data:?}/$name/$stage" && cp -a "$here/$stage" "$data/$name/$stage"
        fi
    done
    run_pipeline "$file"
    knn "knn-trained-${name#"$pipeline"-}" "$data/$name/train/features.safetensors" dictionary
    ablations+=("$name")
done

walls=()
for name in kmeans-raw kmeans-pretrained knn-pretrained knn-trained; do walls+=("$name=${wall[$name]}"); done
python3 - "$data" "$pipeline" "${walls[*]}" "${ablations[@]}" <<'PY'
import json, sys
runs, pipeline, walls, *ablations = sys.argv[1:]
walls = dict(w.split("=") for w in walls.split())

def scores(path):
    m = json.load(open(f"{runs}/{path}/metrics.json"))
    return f"{m['acc']:.4f} | {m['nmi']:.4f} | {m['ari']:.4f}"

def stage(p, s):
    return json.load(open(f"{runs}/{p}/{s}/manifest.json"))

def train_cells(p):
    stats = stage(p, "train").get("stats", {})
    rank = stats.get("final_effective_rank")
    seconds = sum(stage(p, s)["provenance"]["wall_seconds"] for s in ["train", "affinity", "cluster"])
    return f"{rank:.1f}" if rank is not None else "–", f"{seconds:.1f}"

print(f"### Ablations on {pipeline}\n")
print("| variant | ACC | NMI | ARI | effective rank of d | seconds after pretraining | outputs |")
print("|---|---|---|---|---|---|---|")
base = [
    ("k-means on raw inputs", "kmeans-raw"),
    ("k-means on pretrained features", "kmeans-pretrained"),
    ("spectral, 10-NN graph of pretrained features", "knn-pretrained"),
]
for label, name in base:
    path = f"{pipeline}/ablations/{name}"
    print(f"| {label} | {scores(path)} | – | {float(walls[name]):.1f} | data/runs/{path} |")
for name in ablations:
    variant = name[len(pipeline) + 1:]
    rank, seconds = train_cells(name)
    print(f"| ablation `{variant}` | {scores(name + '/cluster')} | {rank} | {seconds} | data/runs/{name} |")
    path = f"{pipeline}/ablations/knn-trained-{variant}"
    print(f"| └ 10-NN graph of its trained dictionary | {scores(path)} | – | – | data/runs/{path} |")
rank, seconds = train_cells(pipeline)
print(f"| **full model** | {scores(pipeline + '/cluster')} | {rank} | {seconds} | data/runs/{pipeline} |")
path = f"{pipeline}/ablations/knn-trained"
print(f"| └ 10-NN graph of its trained dictionary | {scores(path)} | – | – | data/runs/{path} |")
print()
PY
