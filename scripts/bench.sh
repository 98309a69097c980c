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

echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
echo "revision: $(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
echo
for name in "${sections[@]}"; do
    script="scripts/bench/$name.sh"
    [ -f "$script" ] || { echo "error: no benchmark section $script" >&2; exit 1; }
    bash "$script"
done
