#!/usr/bin/env bash
# Out-of-sample assignment on MNIST (`scripts/bench.sh assign`; not an everyday section):
# mnist-demo, fitted on the 10,000 test images, assigns all 70,000 MNIST images
# (data/mnist, `just fetch mnist`). Throughput and ACC against L landmarks (LANDMARKS,
# default 1000 2000 5000 10000): L < 10,000 is a copy of mnist-demo's outputs keeping L
# random landmarks with the clusters the full run gave them (scripts/bench/landmarks.py; no
# retraining). Then the 70,000 in two shards run side by side, one libtorch thread each,
# merged and compared with the single run. THREADS: libtorch threads of the single runs
# (default 0: one per core). Needs mnist-demo run first (`just run`).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/common.sh

py=${BENCH_PYTHON:-target/bench-venv/bin/python}
"$py" -c 'import numpy, pyarrow' || { echo "assign: $py lacks numpy or pyarrow (BENCH_PYTHON)" >&2; exit 1; }
[ -f data/runs/mnist-demo/cluster/assignments.parquet ] || {
    echo "assign: run mnist-demo first (just run)" >&2; exit 1; }
[ -f data/mnist/train-images-idx3-ubyte ] || { echo "assign: just fetch mnist first" >&2; exit 1; }
cargo build --release -q -p ebsc-prepare -p ebsc-assign
pipeline=pipelines/mnist-demo.toml
timed "$runs/prepare.time" target/release/ebsc-prepare $pipeline --out "$runs/input" --data data/mnist

rate() { sed -n 's/.* in \([0-9.]*\) s: \([0-9]*\) samples\/s (read \([0-9.]*\) s, encode \([0-9.]*\) s, score \([0-9.]*\) s).*/\2 \4 \5/p' "$1" | head -n 1; }
acc() { sed -n 's/.*ACC \([0-9.]*\),.*/\1/p' "$1" | head -n 1; }

echo "### assign: 70,000 MNIST images against L landmarks of mnist-demo (--threads ${THREADS:-0})"
echo
echo "| landmarks | wall (s) | samples/s | encode (s) | score (s) | peak RSS (MiB) | ACC (70,000) |"
echo "|---|---|---|---|---|---|---|"
for count in ${LANDMARKS:-1000 2000 5000 10000}; do
    dir="$runs/l$count"
    if [ "$count" = 10000 ]; then
        from=data/runs
    else
        "$py" scripts/bench/landmarks.py data/runs mnist-demo "$count" 0 "$dir"
        from=$dir
    fi
    log="$dir.time"
    timed "$log" target/release/ebsc-assign $pipeline --input "$runs/input" --out "$dir/out" \
        --runs-dir "$from" --progress none --threads "${THREADS:-0}"
    read -r per_s encode score <<<"$(rate "$log")"
    echo "| $count | $(wall_s "$log") | $per_s | $encode | $score | $(rss_mib "$log") | $(acc "$log") |"
done

# Two shards side by side (one thread each), then the merge.
single="$runs/l10000/out/assignments.parquet"
start=$(date +%s.%N)
for i in 0 1; do
    /usr/bin/time -v target/release/ebsc-assign $pipeline --input "$runs/input" --out "$runs/sharded" \
        --progress none --threads 1 --shard $i/2 >"$runs/shard$i.out" 2>"$runs/shard$i.time" &
done
wait
end=$(date +%s.%N)
target/release/ebsc-assign $pipeline --input "$runs/input" --out "$runs/sharded" --progress none --merge \
    >/dev/null 2>"$runs/merge.log"
same=$(cmp -s "$single" "$runs/sharded/assignments.parquet" && echo "byte-identical" || echo "DIFFERENT")
echo
echo "Two shards side by side, one libtorch thread each: $(python3 -c "print(round($end - $start, 1))") s wall for the 70,000 (shard 0: $(rate "$runs/shard0.time" | cut -d' ' -f1) samples/s, shard 1: $(rate "$runs/shard1.time" | cut -d' ' -f1) samples/s; peak RSS $(rss_mib "$runs/shard0.time") / $(rss_mib "$runs/shard1.time") MiB); merged output $same to the single run."
