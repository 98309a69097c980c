# `just new` on data of three kinds, each at seeds 0, 1, 2 (SEEDS to change): the pipeline
# it writes, run end to end, against spectral clustering of the cosine 10-NN graph of the
# same inputs (the pixels or the features).
#   mnist-400   400 MNIST test images (40 a class): small-images, Gibbs coefficients
#   faces-30    30 classes × 12 generated 16×16 gray images (scripts/bench/subspace_images.py):
#               small-images, shrinkage coefficients (samples all alike by cosine)
#   digits      scikit-learn's digits table: the features template
set -euo pipefail
source scripts/bench/common.sh

SEEDS=${SEEDS:-0 1 2}
cargo build --quiet --release -p ebsc-prepare --bin ebsc-pipeline
python3 scripts/bench/subspace_images.py "$runs/faces-30" 30 12 4 16 0.05 1

acc_of() { python3 -c "import json, sys; print('%.4f' % json.load(open(sys.argv[1]))['acc'])" "$1"; }

cases=(
    "mnist-400|data/mnist-test|prepare.subset={per_class=40}"
    "faces-30|$runs/faces-30|"
    "digits|data/digits/digits.csv.gz|label_column=column_65"
)

echo "### just new (seeds: $SEEDS)"
echo
echo "Each seed draws its own subset where the data is subset (mnist-400), so the 10-NN"
echo "graph is scored per seed too."
echo
echo "| data | template | coefficients | ACC per seed | mean | min | 10-NN graph of the inputs, per seed | mean |"
echo "|---|---|---|---|---|---|---|---|"
for case in "${cases[@]}"; do
    IFS='|' read -r name path extra <<<"$case"
    accs=()
    knns=()
    for seed in $SEEDS; do
        pipeline="$name-seed$seed"
        # shellcheck disable=SC2086 # $extra is zero or one key=value word
        target/release/ebsc-pipeline --pipelines-dir "$runs/pipelines" new "$pipeline" "$path" \
            seed="$seed" $extra >"$runs/new.log"
        scripts/stages.sh run "$runs/pipelines/$pipeline.toml" --runs-dir "$runs/runs" \
            --progress none >/dev/null 2>"$runs/stages.log" || {
            tail -n 30 "$runs/stages.log" >&2; exit 1; }
        dir="$runs/runs/$pipeline"
        accs+=("$(acc_of "$dir/cluster/metrics.json")")
        read -r k m _ < <(run_settings "$dir")
        target/release/ebsc-cluster --features "$dir/prepare/inputs.safetensors" \
            --tensor "$(input_tensor "$dir/prepare/inputs.safetensors")" \
            --labels "$dir/prepare/samples.parquet" --n-clusters "$k" --n-eigenvectors "$m" \
            --knn 10 --out "$runs/knn-$pipeline" --seed "$seed" --progress none >/dev/null
        knns+=("$(acc_of "$runs/knn-$pipeline/metrics.json")")
    done
    template=$(sed -n 's/^new: template \([a-z-]*\).*/\1/p' "$runs/new.log")
    coefficients=$(sed -n 's/^coefficients = "\(.*\)"/\1/p' "$runs/pipelines/$pipeline.toml")
    summary=$(printf '%s\n' "${accs[@]}" | awk '{s += $1; if (NR == 1 || $1 < m) m = $1} END {printf "%.4f | %.4f", s / NR, m}')
    knn_mean=$(printf '%s\n' "${knns[@]}" | awk '{s += $1} END {printf "%.4f", s / NR}')
    echo "| $name | $template | $coefficients | ${accs[*]} | $summary | ${knns[*]} | $knn_mean |"
done
echo
