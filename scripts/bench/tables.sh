#!/usr/bin/env bash
# Every labelled table of a folder through `ebsc-pipeline new` and every stage (seed 0), and
# the baselines of the suite beside it: EnSC and LSR on the prepared inputs
# (selfexpr_baseline.py) and the inputs' cosine 10-NN graph, each clustered by ebsc-cluster
# with K eigenvectors. One line a table: the measures `new` printed, the recipe it wrote,
# ACC of ours and of each baseline, and the stages' time.
#
#   scripts/bench/tables.sh TABLES_DIR OUT_DIR
#
# Needs the release binaries (`cargo build --release`) and the bench venv of
# scripts/bench/suite.sh (target/bench-venv: numpy, scipy, scikit-learn, pyarrow).
set -euo pipefail
tables=$(realpath "$1")
out=$(realpath -m "$2")
cd "$(dirname "$0")/../.."
py=target/bench-venv/bin/python
mkdir -p "$out/pipelines" "$out/runs" "$out/baselines"
acc() { "$py" -c "import json, sys; print(f\"{json.load(open(sys.argv[1]))['acc']:.4f}\")" "$1" 2>/dev/null || echo "–"; }
for csv in "$tables"/*.csv; do
    name=$(basename "$csv" .csv)
    if ! target/release/ebsc-pipeline --pipelines-dir "$out/pipelines" new --force "$name" "$csv" seed=0 \
        >"$out/$name.new" 2>&1; then
        echo "$name | new failed: $(tail -n 1 "$out/$name.new")"
        continue
    fi
    started=$(date +%s)
    if ! bash scripts/stages.sh run "$out/pipelines/$name.toml" --runs-dir "$out/runs" >"$out/$name.run" 2>&1; then
        echo "$name | run failed: $(tail -n 1 "$out/$name.run")"
        continue
    fi
    seconds=$(($(date +%s) - started))
    run=$out/runs/$name
    k=$(sed -n 's/^n_clusters = \([0-9]*\)$/\1/p' "$out/pipelines/$name.toml" | head -n 1)
    cluster() {
        target/release/ebsc-cluster --labels "$run/prepare/samples.parquet" --n-clusters "$k" \
            --n-eigenvectors "$k" --seed 0 --progress none --out "$out/baselines/$name-$1" "${@:2}" \
            >/dev/null 2>"$out/baselines/$name-$1.log" || true
    }
    baselines=""
    for method in ensc lsr; do
        "$py" scripts/bench/selfexpr_baseline.py "$run/prepare/inputs.safetensors" features "$method" \
            "$out/baselines/$name-$method.parquet" --seed 0 >/dev/null 2>"$out/baselines/$name-$method.err" || true
        cluster "$method" --affinity "$out/baselines/$name-$method.parquet"
        baselines+=" | $method $(acc "$out/baselines/$name-$method/metrics.json")"
    done
    cluster knn --features "$run/prepare/inputs.safetensors" --tensor features --knn 10
    baselines+=" | 10-NN $(acc "$out/baselines/$name-knn/metrics.json")"
    measures=$(grep -o 'neighbour-span ratio [^)]*' "$out/$name.new" | head -n 1 | sed 's/, mirror.*//; s/, stroke.*//')
    recipe=$(grep -h '^affinity = \|^refine = ' "$out/pipelines/$name.toml" | tr '\n' ' ')
    echo "$name | $measures | $recipe| ours $(acc "$run/cluster/metrics.json")$baselines | ${seconds}s"
done
