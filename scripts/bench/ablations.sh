#!/usr/bin/env bash
# Ablations (issue 6): does each part of the method earn its place? On one pipeline's
# prepared data and pretrained encoder, with the same metrics code:
#   kmeans-raw         k-means++ on the raw inputs (pixels scaled to [0, 1])
#   kmeans-pretrained  k-means++ on the pretrained head features, rows L2-normalised
#   spectral-knn       spectral clustering of a 10-NN cosine graph of the same features
#   senet              method = "senet" on the same features (pipelines/ablations/P-senet.toml)
#   full               the pipeline itself (the energy-based model)
# Outputs stay in data/runs/P/ablations/ and data/runs/P-senet/, so `just report` lists
# them. PIPELINE=mnist scripts/bench.sh ablations for the 70,000 (after `just fetch mnist`).
set -euo pipefail
pipeline=${PIPELINE:-mnist-demo}
source scripts/bench/common.sh  # $runs: a temp folder for logs, removed on exit
data=data/runs
here=$data/$pipeline
senet=$pipeline-senet
senet_file=pipelines/ablations/$senet.toml
[ -f "$senet_file" ] || { echo "bench: error: no $senet_file for the SENet ablation" >&2; exit 1; }

# The full model; a finished run is up to date and costs nothing.
scripts/stages.sh run "$pipeline" --progress none >/dev/null 2>"$runs/stages.log" || {
    tail -n 30 "$runs/stages.log" >&2; exit 1; }
labels=$here/prepare/samples.parquet
n_clusters=$(python3 -c 'import sys, tomllib; print(tomllib.load(open(sys.argv[1], "rb"))["cluster"]["n_clusters"])' "pipelines/$pipeline.toml")

baseline() {
    local name=$1; shift
    rm -rf "${here:?}/ablations/$name"
    timed "$runs/$name.log" target/release/ebsc-cluster --labels "$labels" \
        --n-clusters "$n_clusters" --out "$here/ablations/$name" "$@"
    wall[$name]=$(wall_s "$runs/$name.log")
}
declare -A wall
baseline kmeans-raw --features "$here/prepare/inputs.safetensors" --tensor images
baseline kmeans-pretrained --features "$here/pretrain/features.safetensors" --tensor head --normalize-rows
baseline spectral-knn --features "$here/pretrain/features.safetensors" --tensor head --knn 10 --n-eigenvectors 12

# SENet: the same prepare and pretrain stages (equal keys: copied, then up to date).
for stage in prepare pretrain; do
    if [ ! -f "$data/$senet/$stage/manifest.json" ]; then
        mkdir -p "$data/$senet" && rm -rf "${data:?}/$senet/$stage" && cp -a "$here/$stage" "$data/$senet/$stage"
    fi
done
scripts/stages.sh run "$senet_file" --progress none >/dev/null 2>"$runs/stages.log" || {
    tail -n 30 "$runs/stages.log" >&2; exit 1; }

python3 - "$data" "$pipeline" "${wall[kmeans-raw]}" "${wall[kmeans-pretrained]}" "${wall[spectral-knn]}" <<'PY'
import json, sys
runs, pipeline, *walls = sys.argv[1:]
def stage_seconds(p, stages):
    return sum(json.load(open(f"{runs}/{p}/{s}/manifest.json"))["provenance"]["wall_seconds"] for s in stages)
rows = [
    ("k-means on raw inputs", f"{pipeline}/ablations/kmeans-raw", float(walls[0])),
    ("k-means on pretrained features", f"{pipeline}/ablations/kmeans-pretrained", float(walls[1])),
    ("spectral, 10-NN graph of pretrained features", f"{pipeline}/ablations/spectral-knn", float(walls[2])),
    ("SENet (`method = \"senet\"`)", f"{pipeline}-senet/cluster", stage_seconds(f"{pipeline}-senet", ["train", "affinity", "cluster"])),
    ("full model (`method = \"ebsc\"`)", f"{pipeline}/cluster", stage_seconds(pipeline, ["train", "affinity", "cluster"])),
]
print(f"### Ablations on {pipeline}\n")
print("| variant | ACC | NMI | ARI | seconds after pretraining | outputs |")
print("|---|---|---|---|---|---|")
for name, path, seconds in rows:
    m = json.load(open(f"{runs}/{path}/metrics.json"))
    print(f"| {name} | {m['acc']:.4f} | {m['nmi']:.4f} | {m['ari']:.4f} | {seconds:.1f} | data/runs/{path} |")
print()
PY
