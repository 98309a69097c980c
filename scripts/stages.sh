#!/usr/bin/env bash
# Runs pipeline stages in order with the release binaries.
#   stages.sh run  PIPELINE [flags]        every stage (up-to-date stages skip)
#   stages.sh upto STAGE PIPELINE [flags]  STAGE after its upstream
#   stages.sh from STAGE PIPELINE [flags]  upstream as usual, STAGE and later with --force
# PIPELINE is a name in pipelines/ or a path to a .toml file.
set -euo pipefail
cd "$(dirname "$0")/.."

ALL_STAGES=(prepare pretrain train affinity cluster)
mode=$1; shift
target=""
if [ "$mode" != run ]; then target=$1; shift; fi
pipeline=$1; shift
flags=("$@")

case "$pipeline" in
    *.toml) pipeline_file=$pipeline ;;
    *) pipeline_file=pipelines/$pipeline.toml ;;
esac
[ -f "$pipeline_file" ] || { echo "error: no pipeline file $pipeline_file (see pipelines/)" >&2; exit 1; }

if [ -n "$target" ] && [[ ! " ${ALL_STAGES[*]} " =~ " $target " ]]; then
    echo "error: unknown stage '$target'; expected one of ${ALL_STAGES[*]}" >&2
    exit 1
fi

built() { [ -d "crates/ebsc-$1" ]; }

# The flags a stage takes: prepare and cluster have no tensors, so no --device/--threads,
# and run once a pipeline, so no --member.
stage_flags() {
    local stage=$1; shift
    if [ "$stage" != prepare ] && [ "$stage" != cluster ]; then
        # printf with no arguments would still print one (empty) field.
        [ $# -eq 0 ] || printf '%s\0' "$@"
        return
    fi
    while [ $# -gt 0 ]; do
        case "$1" in
            --device|--threads|--member) shift 2 ;;
            --device=*|--threads=*|--member=*) shift ;;
            *) printf '%s\0' "$1"; shift ;;
        esac
    done
}

forcing=false
for stage in "${ALL_STAGES[@]}"; do
    [ "$mode" = from ] && [ "$stage" = "$target" ] && forcing=true
    if ! built "$stage"; then
        if [ "$mode" = run ]; then
            echo "$stage: not part of this build yet; stopping after the stages that exist" >&2
            exit 0
        fi
        echo "error: stage $stage is not part of this build yet" >&2
        exit 1
    fi
    extra=()
    $forcing && extra+=(--force)
    mapfile -d '' own < <(stage_flags "$stage" ${flags[@]+"${flags[@]}"})
    target/release/ebsc-"$stage" "$pipeline_file" ${extra[@]+"${extra[@]}"} ${own[@]+"${own[@]}"}
    [ "$mode" = upto ] && [ "$stage" = "$target" ] && break
done
exit 0
