#!/usr/bin/env bash
# Pretraining throughput: one SimCLR step (two augmented views, forward, NT-Xent, backward,
# AdamW) of `ebsc-pretrain`'s own code (crates/ebsc-pretrain/examples/bench_step.rs) beside
# the same step in plain PyTorch (scripts/bench/pretrain_torch.py, the venv's torch), same
# models, batch sizes, augmentations and thread count (libtorch's default: one per core).
# Synthetic u8 images; 2 warm-up steps, then the mean over the timed steps. The two run
# alternately, REPEATS times each, and the best run of each counts (a shared machine's noise
# only ever slows a run down).
# The stage raises glibc's mmap and trim thresholds (ebsc-nn's allocator.rs); the last
# columns run the PyTorch script once more with the same settings (GLIBC_TUNABLES), so the
# part of the ratio that comes from the allocator alone is visible.
#   PRETRAIN_CASES="convnet:28:1:256:5 resnet18:32:3:64:3"   encoder:side:channels:batch:steps
#   REPEATS=2   DEVICE=cpu|cuda
set -euo pipefail
cd "$(dirname "$0")/../.."

cases=${PRETRAIN_CASES:-convnet:28:1:256:5 resnet18:32:3:64:3}
repeats=${REPEATS:-2}
device=${DEVICE:-cpu}
python=${PYTHON:-.venv/bin/python}
cargo build --release --quiet -p ebsc-pretrain --example bench_step

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p"; }

echo "### pretrain step vs plain PyTorch ($("$python" -c 'import torch; print("torch", torch.__version__)' 2>/dev/null), $device)"
echo
tunables=glibc.malloc.mmap_threshold=268435456:glibc.malloc.trim_threshold=536870912
echo "| encoder | input | batch | ours: samples/s | ours: augment share | ours: optimizer share | PyTorch: samples/s | PyTorch: augment share | ratio (ours / PyTorch) | PyTorch, same allocator settings: samples/s | ratio |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for case in $cases; do
    IFS=: read -r kind side channels batch steps <<<"$case"
    best_ours=0; best_py=0; best_tuned=0; share_ours=; share_py=; optimizer_ours=
    for _ in $(seq "$repeats"); do
        out=$(target/release/examples/bench_step "$kind" "$side" "$channels" "$batch" "$steps" "$device")
        rate=$(field samples_per_s <<<"$out")
        if awk "BEGIN {exit !($rate > $best_ours)}"; then
            best_ours=$rate
            share_ours=$(field augment_share <<<"$out")
            optimizer_ours=$(field optimizer_share <<<"$out")
        fi
        out=$("$python" scripts/bench/pretrain_torch.py "$kind" "$side" "$channels" "$batch" "$steps" "$device" 2>/dev/null)
        rate=$(field samples_per_s <<<"$out")
        if awk "BEGIN {exit !($rate > $best_py)}"; then best_py=$rate; share_py=$(field augment_share <<<"$out"); fi
        out=$(GLIBC_TUNABLES=$tunables "$python" scripts/bench/pretrain_torch.py "$kind" "$side" "$channels" "$batch" "$steps" "$device" 2>/dev/null)
        rate=$(field samples_per_s <<<"$out")
        if awk "BEGIN {exit !($rate > $best_tuned)}"; then best_tuned=$rate; fi
    done
    ratio=$(awk "BEGIN {printf \"%.2f\", $best_ours / $best_py}")
    ratio_tuned=$(awk "BEGIN {printf \"%.2f\", $best_ours / $best_tuned}")
    echo "| $kind | ${channels}×${side}×${side} | $batch | $best_ours | $share_ours | $optimizer_ours | $best_py | $share_py | $ratio | $best_tuned | $ratio_tuned |"
done
echo
