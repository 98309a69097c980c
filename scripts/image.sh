#!/usr/bin/env bash
# Builds the container image of Containerfile with podman, or docker when podman is missing.
#   image.sh [cuda|cpu] [build|prebuilt] [BUILD-ARGS…]   build the image (`just image`)
#   image.sh --tag [cuda|cpu]                              print the tag a build gets, and nothing else
# cuda (default): PyPI's torch wheel, tagged $IMAGE:latest (the tag deploy/kubernetes runs).
# cpu: the CPU-only wheel from PyTorch's index, tagged $IMAGE:cpu.
# build (default) compiles the workspace in the image; prebuilt copies target/release from
# `just build` instead. Further arguments go to `podman build` / `docker build`, e.g.
# `--build-arg BASE_IMAGE=mirror.example.com/debian:bookworm-slim`.
set -euo pipefail
cd "$(dirname "$0")/.."

# Where the image is pushed from; deploy/kubernetes/*.yaml name $IMAGE:latest
# (scripts/check_deploy.sh checks that they agree).
IMAGE=registry.example.com/ebsc

tag_of() {
    case "$1" in
        cuda) echo "$IMAGE:latest" ;;
        cpu) echo "$IMAGE:cpu" ;;
        *) echo "image: unknown variant '$1'; expected cuda or cpu" >&2; exit 2 ;;
    esac
}

if [ "${1:-}" = --tag ]; then
    tag_of "${2:-cuda}"
    exit 0
fi

variant=${1:-cuda}
binaries=${2:-build}
shift $(($# < 2 ? $# : 2))
tag=$(tag_of "$variant")
case "$variant" in
    cuda) index= ;; # pip's own index: PyPI
    cpu) index=https://download.pytorch.org/whl/cpu ;;
esac
case "$binaries" in
    build) target=image ;;
    prebuilt)
        target=prebuilt
        for b in prepare pretrain train affinity cluster pipeline; do
            [ -x "target/release/ebsc-$b" ] || {
                echo "image: no target/release/ebsc-$b: run \`just build\` first" >&2
                exit 1
            }
        done
        ;;
    *) echo "image: unknown binaries '$binaries'; expected build or prebuilt" >&2; exit 2 ;;
esac

if command -v podman >/dev/null 2>&1; then
    runtime=podman
elif command -v docker >/dev/null 2>&1; then
    runtime=docker
else
    echo "image: no container runtime: install podman or docker (Debian packages)" >&2
    exit 1
fi

set -x
"$runtime" build -f Containerfile --target "$target" \
    --build-arg TORCH_INDEX_URL="$index" -t "$tag" "$@" .
