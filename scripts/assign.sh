#!/usr/bin/env bash
# Out-of-sample assignment with the release binaries (`just assign`).
#   assign.sh PIPELINE [PATH] [flags]
# Without PATH: the pipeline's own whole source (every sample, even when prepare took a
# seeded subset), into data/runs/<pipeline>/assign/source/. With PATH (a folder or table,
# read with the pipeline's source settings): into data/runs/<pipeline>/assign/<name>/,
# <name> the path's last part without its extension. Flags go to ebsc-assign (--shard,
# --merge, --device, --threads, --progress). PATH is taken relative to $INVOCATION_DIR
# when set (the folder `just` was typed in).
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 1 ] || { echo "usage: just assign PIPELINE [PATH] [flags]" >&2; exit 1; }
pipeline=$1; shift
data=""
if [ $# -gt 0 ] && [[ "$1" != --* ]]; then
    data=$1; shift
    if [ -n "${INVOCATION_DIR:-}" ]; then
        data=$(cd "$INVOCATION_DIR" && realpath -m --relative-base="$OLDPWD" -- "$data")
    fi
fi

case "$pipeline" in
    *.toml) pipeline_file=$pipeline ;;
    *) pipeline_file=pipelines/$pipeline.toml ;;
esac
[ -f "$pipeline_file" ] || { echo "error: no pipeline file $pipeline_file (see pipelines/)" >&2; exit 1; }
name=$(basename "$pipeline_file" .toml)

if [ -n "$data" ]; then
    part=$(basename "${data%/}")
    folder=${part%%.*}
else
    folder=source
fi
dir=data/runs/$name/assign/$folder

prepare=(target/release/ebsc-prepare "$pipeline_file" --out "$dir/input")
[ -n "$data" ] && prepare+=(--data "$data")
"${prepare[@]}"
target/release/ebsc-assign "$pipeline_file" --input "$dir/input" --out "$dir" "$@"
