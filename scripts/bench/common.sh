# Shared by the benchmark sections in scripts/bench/: sourced, not run.
# Provides $runs (a temp folder removed on exit), `timed LOG CMD...` (runs CMD under
# /usr/bin/time -v, stdout to LOG.out), and `wall_s LOG` / `rss_mib LOG` to read it back.

runs=${runs:-$(mktemp -d)}
trap 'rm -rf "$runs"' EXIT

timed() {
    local log=$1; shift
    /usr/bin/time -v "$@" >"$log.out" 2>"$log" || {
        echo "bench: failed: $*" >&2; tail -n 30 "$log" >&2; exit 1; }
}

wall_s() {
    awk -F': ' '/Elapsed \(wall clock\)/ {split($2, t, ":"); s = 0; for (i = 1; i <= length(t); i++) s = s * 60 + t[i]; print s}' "$1"
}

rss_mib() {
    awk -F': ' '/Maximum resident set size/ {printf "%.0f", $2 / 1024}' "$1"
}
