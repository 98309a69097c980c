#!/usr/bin/env bash
# Grid: many pipeline files (a recipe tried over data sets and seeds), JOBS at a time, each
# run followed by the suite's baselines on the same run and by graph variants of its graph:
#   k-NN pretrained  spectral clustering of the cosine 10-NN graph of the pretrained head
#   k-NN trained     the same on the trained dictionary
#   k-means          on the trained dictionary, rows L2-normalised
#   VARIANTS         graph_variants.py's variants of the run's own graph (default
#                    power-0.5,power-0.7: flatter export weights)
# GRID: a file with one pipeline file a line (required). JOBS: pipelines at a time
# (default 1); THREADS: tensor threads each (default 2); DEVICE: auto, cpu or cuda
# (default auto). START_BY: seconds after the start past which no new pipeline starts
# (those left get a "skipped" line); HARD_STOP: seconds after the start at which a running
# pipeline is stopped. BENCH_RUNS keeps the runs (else a temp folder); each run's logs go
# beside it in logs/NAME. Writes results.jsonl there (one JSON line a pipeline, appended as
# each ends) and prints one Markdown row a pipeline. Every baseline uses the run's seed and
# sizes free, as the suite's do; the variants use the run's `[cluster] sizes`.
# BENCH_PYTHON: a Python with numpy, scipy, pyarrow and safetensors (default python3).
set -euo pipefail
source scripts/bench/common.sh

[ -n "${GRID:-}" ] && [ -f "$GRID" ] || { echo "grid: GRID must name a file of pipeline files" >&2; exit 1; }
for binary in ebsc-prepare ebsc-pretrain ebsc-train ebsc-affinity ebsc-cluster; do
    [ -x "target/release/$binary" ] || {
        echo "grid: target/release/$binary is missing; run \`just build\` first" >&2; exit 1; }
done

export GRID_RUNS=$runs GRID_T0=$(date +%s) GRID_PY=${BENCH_PYTHON:-python3}
export GRID_START_BY=${START_BY:-1000000000} GRID_HARD_STOP=${HARD_STOP:-1000000000}
export GRID_DEVICE=${DEVICE:-auto} GRID_THREADS=${THREADS:-2}
export GRID_VARIANTS=${VARIANTS:-power-0.5,power-0.7}
export BENCH_RUNS=$runs
mkdir -p "$runs/logs"
: >"$runs/results.jsonl"

one() {
    local pipeline=$1 name seed sizes dir log now
    name=$(basename "$pipeline" .toml)
    dir=$GRID_RUNS/runs/$name
    log=$GRID_RUNS/logs/$name
    now=$(date +%s)
    if [ $((now - GRID_T0)) -gt "$GRID_START_BY" ]; then
        echo "{\"name\": \"$name\", \"skipped\": true}" >>"$GRID_RUNS/results.jsonl"
        return
    fi
    mkdir -p "$log"
    seed=$(sed -n 's/^seed = \([0-9]*\)$/\1/p' "$pipeline")
    sizes=$(sed -n 's/^sizes = "\(.*\)"$/\1/p' "$pipeline")
    local k m pretrained rc=0
    timeout $((GRID_T0 + GRID_HARD_STOP - now)) scripts/stages.sh run "$pipeline" \
        --runs-dir "$GRID_RUNS/runs" --progress none --device "$GRID_DEVICE" \
        --threads "$GRID_THREADS" >"$log/stages.log" 2>&1 || rc=$?
    if [ $rc -eq 0 ]; then
        read -r k m pretrained < <(run_settings "$dir")
        cluster() {
            local out=$1; shift
            target/release/ebsc-cluster --labels "$dir/prepare/samples.parquet" --n-clusters "$k" \
                --seed "$seed" --progress none --out "$log/$out" "$@" >"$log/$out.log" 2>&1 || true
        }
        feature_baselines "$dir" "$m" "$pretrained"
        "$GRID_PY" scripts/bench/graph_variants.py "$dir" "$k" "${sizes:-free}" "$seed" \
            "$GRID_VARIANTS" >"$log/variants.txt" 2>"$log/variants.err" || true
    fi
    python3 - "$name" "$dir" "$log" "$rc" >>"$GRID_RUNS/results.jsonl" <<'PY'
import json, sys
name, run, log, rc = sys.argv[1:]
def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None
ours = load(f"{run}/cluster/metrics.json") or {}
row = {"name": name, "rc": int(rc), "acc": ours.get("acc"), "nmi": ours.get("nmi")}
for baseline in ("knn-pretrained", "knn-trained", "kmeans-trained"):
    row[baseline] = (load(f"{log}/{baseline}/metrics.json") or {}).get("acc")
try:
    for pair in open(f"{log}/variants.txt").read().split()[1:]:
        key, value = pair.split("=")
        row[key] = float(value.split("/")[0])
except OSError:
    pass
row["seconds"] = {s: (load(f"{run}/{s}/manifest.json") or {}).get("provenance", {}).get("wall_seconds")
                  for s in ("prepare", "pretrain", "train", "affinity", "cluster")}
print(json.dumps(row))
PY
}
export -f one

grep -v '^\s*$' "$GRID" | xargs -P "${JOBS:-1}" -I{} bash -c 'source scripts/bench/common.sh; one "$1"' _ {}

python3 - "$runs/results.jsonl" "$GRID_VARIANTS" <<'PY'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
variants = sys.argv[2].split(",")
cell = lambda v: "–" if v is None else f"{v:.4f}"
print("| pipeline | ours ACC / NMI | k-NN pretrained | k-NN trained | k-means trained | "
      + " | ".join(variants) + " | five stages (s) |")
print("|---" * (6 + len(variants)) + "|")
for r in sorted(rows, key=lambda r: r["name"]):
    if r.get("skipped") or r.get("rc"):
        print(f"| {r['name']} | {'skipped (START_BY)' if r.get('skipped') else 'failed'} |" + " |" * (4 + len(variants)))
        continue
    seconds = sum(v or 0 for v in r["seconds"].values())
    print(f"| {r['name']} | {cell(r['acc'])} / {cell(r['nmi'])} | {cell(r['knn-pretrained'])} | "
          f"{cell(r['knn-trained'])} | {cell(r['kmeans-trained'])} | "
          + " | ".join(cell(r.get(v)) for v in variants) + f" | {seconds:.1f} |")
PY
