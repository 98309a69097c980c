#!/usr/bin/env bash
# The scale table: the two stages that see all N samples, at sizes past MNIST.
#
# ebsc-affinity: synthetic towers as in scripts/bench/affinity.sh (m = 256, top_k = 20),
# N points from 10 synthetic subspaces. At N = 70,000 the whole export runs (one shard of
# one); larger N run one shard of a known fraction (`--shard 0/S`), whose time × S is the
# whole export's, since every shard does the same work. The shard's own log line gives the
# loop's time and pairs/s; peak RSS is the whole process.
#
# ebsc-cluster: standalone mode on planted-partition graphs (10 clusters, ~20 non-zeros per
# row, examples/planted_parquet.rs), wall time and peak RSS of the whole process, with its
# phase times from the log.
#   SCALE_AFFINITY="70000:1 1000000:50"   N:S pairs for the export
#   SCALE_CLUSTER="1000000 10000000"       graph sizes for the cluster stage
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/bench/common.sh

m=256 top_k=20 block=4096
cargo build --release -q -p ebsc-prepare -p ebsc-affinity -p ebsc-cluster --bins --examples

echo "### scale: affinity export (CPU, $(nproc) threads)"
echo
echo "| N | shard run | rows × columns | loop (s) | pairs/s | GFLOP/s | peak RSS (MiB) | whole export on $(nproc) cores (S × loop) |"
echo "|---|---|---|---|---|---|---|---|"
for spec in ${SCALE_AFFINITY:-70000:1 1000000:50}; do
    n=${spec%%:*} shards=${spec##*:}
    pipeline="$runs/pipelines/scale-$n.toml"
    synthetic_affinity_run "scale-$n" "$n" $top_k $block $m
    log="$runs/affinity-$n.time"
    timed "$log" target/release/ebsc-affinity "$pipeline" --runs-dir "$runs" --device cpu \
        --progress none --shard "0/$shards"
    # "shard 0/S: R rows × N columns in T s: P pairs/s (...; G GFLOP/s)"
    read -r rows loop pairs gflops < <(python3 - "$log" <<'PY'
import re, sys
for line in open(sys.argv[1]):
    m = re.search(r"shard \d+/\d+: (\d+) rows × \d+ columns in ([\d.]+) s: ([\d.e+-]+) pairs/s.*; ([\d.]+) GFLOP/s", line)
    if m:
        print(*m.groups())
        break
else:
    sys.exit("bench scale: no shard timing line in the log")
PY
)
    whole=$(python3 -c "t = $shards * $loop; print(f'{t:.0f} s' if t < 600 else f'{t / 3600:.2f} h')")
    echo "| $n | 0/$shards | $rows × $n | $loop | $pairs | $gflops | $(rss_mib "$log") | $whole |"
    rm -rf "${runs:?}/scale-$n"
done
echo

echo "### scale: cluster stage on planted graphs (CPU, $(nproc) threads)"
echo
echo "| N | non-zeros | wall (s) | peak RSS (MiB) | phases (s) | NMI |"
echo "|---|---|---|---|---|---|"
for n in ${SCALE_CLUSTER:-1000000 10000000}; do
    graph="$runs/planted-$n"
    nonzeros=$(target/release/examples/planted_parquet "$n" "$graph" 0 2>&1 | awk '{print $3}')
    log="$runs/cluster-$n.time"
    timed "$log" target/release/ebsc-cluster --affinity "$graph/affinity.parquet" \
        --labels "$graph/samples.parquet" --n-clusters 10 --out "$graph/out" --progress none
    phases=$(python3 - "$graph/out" <<'PY'
import json, sys
stats = json.load(open(f"{sys.argv[1]}/metrics.json")).get("timings", {})
print(", ".join(f"{k} {v:.1f}" for k, v in stats.items()) or "-")
PY
)
    nmi=$(python3 -c "import json,sys; print(round(json.load(open(sys.argv[1]))['nmi'], 4))" "$graph/out/metrics.json")
    echo "| $n | $nonzeros | $(wall_s "$log") | $(rss_mib "$log") | $phases | $nmi |"
    rm -rf "$graph"
done
echo
