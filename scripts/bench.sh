#!/usr/bin/env bash
# Benchmarks on this machine; prints Markdown to paste into RESULTS.md, every section
# headed by the machine (an id, the CPU model, family/model numbers, L3, SIMD flags), the
# revision and the load average it ran under.
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
# so the family/model numbers, L3 size and SIMD flags go beside it, and a short id built
# from them heads every section's table, so that RESULTS.md can keep each machine's
# figures apart and a claim says where it holds.
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)
family=$(awk -F': ' '/^cpu family/ {print $2; exit}' /proc/cpuinfo)
model=$(awk -F': ' '/^model[ \t]*:/ {print $2; exit}' /proc/cpuinfo)
l3=$(lscpu 2>/dev/null | sed -n 's/^L3 cache:\s*//p' | head -n 1)
simd=$(grep -m 1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|fma|avx512f|avx512_bf16|amx_tile)$' | sort | paste -sd ' ')
slug() { tr 'A-Z' 'a-z' | tr -cs 'a-z0-9' '-' | sed 's/^-//; s/-$//'; }
machine_id="$(echo "$cpu" | slug)-f${family}m${model}-l3-$(echo "${l3:-unknown}" | sed 's/ (.*//' | slug)-$(nproc)c"
machine="$(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $cpu (family $family model $model, L3 ${l3:-unknown}, ${simd:-no AVX2})"
revision="$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
for name in "${sections[@]}"; do
    script="scripts/bench/$name.sh"
    [ -f "$script" ] || { echo "error: no benchmark section $script" >&2; exit 1; }
    echo "<!-- section $name -->"
    echo "Machine \`$machine_id\`: $machine. Revision $revision, $(date -u +%Y-%m-%d)."
    echo "Load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    bash "$script"
    echo
    echo "Load average after: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
done
