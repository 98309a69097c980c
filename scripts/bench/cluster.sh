#!/usr/bin/env bash
# Cluster stage against the job a Python user would write (SciPy eigsh + scikit-learn
# KMeans n_init=10, scripts/bench/spectral_anchor.py), side by side on the same
# planted-partition graph (10 clusters, ~20 non-zeros per row) at N = 70,000 and 1,000,000.
#
# Ours: the whole `ebsc-cluster` process in standalone mode — Parquet read, checks,
# eigensolver, k-means++ (10 restarts), metrics, assignments, report and figures.
# Anchor: its in-script time (Parquet read + eigsh + KMeans; Python start-up and imports
# excluded, which favours the anchor) and its process wall time, in a throwaway venv.
#   CLUSTER_SIZES="70000 1000000"   sizes to run
#   CLUSTER_REPEATS=3               runs per side; the table gives medians
#   ANCHOR_VENV=DIR                 reuse a venv with numpy scipy scikit-learn pyarrow
#   CLUSTER_SETTLE=1                seconds of pause before every timed run, either side, so
#                                   that the previous process's exit (freeing up to 1.5 GiB)
#                                   is not timed as part of the next run
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/common.sh

sizes=${CLUSTER_SIZES:-70000 1000000}
cargo build --release --quiet -p ebsc-cluster --bins --examples

venv=${ANCHOR_VENV:-}
if [ -z "$venv" ]; then
    venv="$runs/anchor-venv"
    echo "(creating the anchor's throwaway venv: numpy scipy scikit-learn pyarrow)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet numpy scipy scikit-learn pyarrow
fi
anchor_versions=$("$venv/bin/python" -c 'import scipy, sklearn, numpy; print(f"SciPy {scipy.__version__}, scikit-learn {sklearn.__version__}, NumPy {numpy.__version__}")')

repeats=${CLUSTER_REPEATS:-3}
settle=${CLUSTER_SETTLE:-1}
median() { python3 -c "import statistics,sys; print(round(statistics.median(float(v) for v in sys.argv[1:]), 3))" "$@"; }
json_field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

echo "### cluster vs SciPy/scikit-learn ($anchor_versions)"
echo
echo "Median of $repeats runs per side, ours and the anchor alternating, each after a ${settle} s pause; runs in brackets."
echo
echo "| N | ours: wall (s) | ours: peak RSS (MiB) | ours: NMI | anchor: in-script (s) | anchor: wall (s) | anchor: peak RSS (MiB) | anchor: NMI | speed-up (anchor in-script / ours wall) |"
echo "|---|---|---|---|---|---|---|---|---|"
# Phase splits (medians over the runs) go in a second table after the first.
phase_rows=()
# Median of each phase over JSON objects, one per line: "name 0.123, ...".
phase_medians() { python3 -c "
import json, statistics, sys
runs = [json.loads(line) for line in sys.stdin if line.strip()]
order = ['read', 'graph', 'eigen', 'kmeans', 'metrics', 'figures', 'write']
keys = [k for k in runs[0] if k.endswith('_s') and k != 'total_s'] or sorted(runs[0], key=lambda k: order.index(k) if k in order else len(order))
print(', '.join(f'{k.removesuffix(\"_s\")} {statistics.median(r[k] for r in runs):.3f}' for k in keys))"; }

for n in $sizes; do
    graph="$runs/planted-$n"
    target/release/examples/planted_parquet "$n" "$graph" 0 2>/dev/null
    ours_walls=() ours_rsss=() anchor_totals=() anchor_walls=() anchor_rsss=()
    : >"$runs/ours-phases" ; : >"$runs/anchor-phases"
    for _ in $(seq "$repeats"); do
        rm -rf "$graph/out"
        sleep "$settle"
        timed "$runs/ours.log" target/release/ebsc-cluster --affinity "$graph/affinity.parquet" \
            --labels "$graph/samples.parquet" --n-clusters 10 --out "$graph/out" --progress none
        ours_walls+=("$(wall_s "$runs/ours.log")")
        ours_rsss+=("$(rss_mib "$runs/ours.log")")
        ours_nmi=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['nmi'], 6))" "$graph/out/metrics.json")
        # Our phase split, as the anchor prints its own (figures included: PNG and SVG).
        python3 -c "import json,sys; print(json.dumps(json.load(open(sys.argv[1]))['timings']))" \
            "$graph/out/metrics.json" >>"$runs/ours-phases"

        sleep "$settle"
        timed "$runs/anchor.log" "$venv/bin/python" scripts/bench/spectral_anchor.py \
            "$graph/affinity.parquet" "$graph/samples.parquet" 10
        anchor_json=$(tail -n 1 "$runs/anchor.log.out")
        anchor_totals+=("$(json_field "$anchor_json" total_s)")
        anchor_nmi=$(json_field "$anchor_json" nmi)
        anchor_walls+=("$(wall_s "$runs/anchor.log")")
        anchor_rsss+=("$(rss_mib "$runs/anchor.log")")
        echo "$anchor_json" >>"$runs/anchor-phases"
    done
    ours_wall=$(median "${ours_walls[@]}")
    anchor_total=$(median "${anchor_totals[@]}")
    ratio=$(python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}×')" "$anchor_total" "$ours_wall")
    echo "| $n | $ours_wall [${ours_walls[*]}] | $(median "${ours_rsss[@]}") | $ours_nmi | $anchor_total [${anchor_totals[*]}] | $(median "${anchor_walls[@]}") | $(median "${anchor_rsss[@]}") | $anchor_nmi | $ratio |"
    phase_rows+=("| $n | $(phase_medians <"$runs/ours-phases") | $(phase_medians <"$runs/anchor-phases") |")
    rm -rf "$graph"
done
echo
echo "Phases, medians over the same runs (s). Ours: the stage's own timings (figures: four PNG + SVG"
echo "pairs; write: assignments.parquet). Anchor: read = Parquet read and CSR build, eigsh includes"
echo "forming D^-1/2 W D^-1/2."
echo
echo "| N | ours | anchor |"
echo "|---|---|---|"
printf '%s\n' "${phase_rows[@]}"
echo
