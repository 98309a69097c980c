#!/usr/bin/env bash
# Benchmarks on this machine; prints Markdown to paste into RESULTS.md with the machine
# and revision it ran on.
#   scripts/bench.sh              the everyday sections (prepare, pretrain, ... new)
#   scripts/bench.sh cluster      one section
#   scripts/bench.sh scale        the scale table (1M-sample export shard, 10M-node graph:
#                                 ~15 GiB of memory and tens of minutes; run on its own)
set -euo pipefail
cd "$(dirname "$0")/.."

sections=("$@")
if [ ${#sections[@]} -eq 0 ]; then
    for name in prepare pretrain affinity cluster ablations seeds new; do
        [ -f "scripts/bench/$name.sh" ] && sections+=("$name")
    done
fi

# The CPU as precisely as the machine tells it: a virtual machine may give only "AMD EPYC",
# so the family/model numbers, L3 size and SIMD flags go beside it.
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
cpu_id=$(awk -F': ' '/^cpu family/ {f = $2} /^model[ \t]*:/ {m = $2} END {print "family " f " model " m}' /proc/cpuinfo)
l3=$(lscpu 2>/dev/null | sed -n 's/^L3 cache:\s*//p' | head -n 1)
simd=$(grep -m 1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512_bf16|amx_tile)$' | sort | paste -sd ' ')
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $cpu ($cpu_id, L3 ${l3:-unknown}, ${simd:-no AVX2}), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "revision: $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
echo
for name in "${sections[@]}"; do
    script="scripts/bench/$name.sh"
    [ -f "$script" ] || { echo "error: no benchmark section $script" >&2; exit 1; }
    bash "$script"
done
