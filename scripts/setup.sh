#!/usr/bin/env bash
# Creates .venv with PyPI's torch==2.11.0 (the libtorch that tch 0.24 links against) when it
# is missing or holds another version; otherwise does nothing. Also links .venv/libtorch to
# torch's folder so .cargo/config.toml can name one fixed path whatever the Python version.
set -euo pipefail
cd "$(dirname "$0")/.."

TORCH_VERSION=2.11.0
VENV=.venv

installed_torch() {
    local version_file
    version_file=$(ls "$VENV"/lib/python3*/site-packages/torch/version.py 2>/dev/null | head -n 1) || true
    [ -n "$version_file" ] || return 0
    sed -n "s/^__version__ = '\([^'+]*\).*/\1/p" "$version_file"
}

if [ "$(installed_torch)" != "$TORCH_VERSION" ]; then
    echo "setup: installing torch==$TORCH_VERSION into $VENV (about 4.6 GB, a few minutes)" >&2
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "torch==$TORCH_VERSION"
    [ "$(installed_torch)" = "$TORCH_VERSION" ] || {
        echo "setup: error: torch $TORCH_VERSION did not install into $VENV" >&2
        exit 1
    }
fi

torch_dir=$(dirname "$(ls "$VENV"/lib/python3*/site-packages/torch/version.py | head -n 1)")
if [ "$(readlink "$VENV/libtorch" 2>/dev/null)" != "${torch_dir#"$VENV"/}" ]; then
    ln -sfn "${torch_dir#"$VENV"/}" "$VENV/libtorch"
fi
