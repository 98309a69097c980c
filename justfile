# ebsc: deep subspace clustering with energy-based self-expressiveness.
# `just run` runs the default pipeline end to end; `just test` runs every test.

set shell := ["bash", "-euo", "pipefail", "-c"]

default_pipeline := "mnist-demo"

# List the recipes.
default:
    @just --list

# Create .venv with torch==2.11.0 for tch (does nothing when it is already there).
setup:
    @scripts/setup.sh

# Build the stage binaries (release); ebsc-report (polars) only when `just report` needs it.
build: setup
    cargo build --release --workspace --bins --exclude ebsc-report

# Image folder, IDX, CIFAR or feature table -> pipelines/<name>.toml: `just new faces data/faces`.
# The data path is taken from the folder `just` was typed in (inside the repository it is
# written relative to the root, where the stages run). Reuses the workspace build.
[positional-arguments]
new name data *settings: build
    @target/release/ebsc-pipeline new "$1" "$(cd '{{invocation_directory()}}' && realpath -m --relative-base='{{justfile_directory()}}' -- "$2")" "${@:3}"

# Print the settings a pipeline's stages read, with `extends` merged in.
[positional-arguments]
show pipeline=default_pipeline: build
    @target/release/ebsc-pipeline show "$@"

# An image-folder pipeline's result as folders: <folder>/cluster-00/, cluster-01/, … of
# links to the original files (`--copy`: copies); the originals are never moved. The
# folder must be new or empty, and is taken from the folder `just` was typed in.
[doc("Image-folder pipeline -> <folder>/cluster-00/, … of links to its files (`--copy`: copies).")]
[positional-arguments]
clusters pipeline folder *flags: build
    @target/release/ebsc-pipeline clusters "$1" "$(cd '{{invocation_directory()}}' && realpath -m --relative-base='{{justfile_directory()}}' -- "$2")" "${@:3}"

# A trained pipeline's clusters for samples it was not fitted on, without retraining:
# `just assign mnist-demo` (its own whole source, even when prepare took a subset) or
# `just assign mnist-demo data/mnist` (a folder or table read with the pipeline's
# sources); writes data/runs/<pipeline>/assign/<name>/assignments.parquet. Flags go to
# ebsc-assign: `--shard i/n|auto`, `--merge`, `--device`, `--threads`.
[doc("Assign samples to a trained pipeline's clusters: `just assign <pipeline> [<path>] [flags]`.")]
[positional-arguments]
assign pipeline *args: build
    @INVOCATION_DIR='{{invocation_directory()}}' scripts/assign.sh "$@"

# Run every stage of a pipeline; stages that are up to date skip.
run pipeline=default_pipeline *flags: build
    scripts/stages.sh run {{pipeline}} {{flags}}

# Stage 1: raw data -> samples.parquet, inputs.safetensors.
prepare pipeline=default_pipeline *flags: build
    scripts/stages.sh upto prepare {{pipeline}} {{flags}}

# Stage 2: self-supervised pretraining of the encoder (runs prepare first).
pretrain pipeline=default_pipeline *flags: build
    scripts/stages.sh upto pretrain {{pipeline}} {{flags}}

# Stage 3: joint energy and coefficient training (runs its upstream first).
train pipeline=default_pipeline *flags: build
    scripts/stages.sh upto train {{pipeline}} {{flags}}

# Stage 4: affinity export (runs its upstream first).
affinity pipeline=default_pipeline *flags: build
    scripts/stages.sh upto affinity {{pipeline}} {{flags}}

# Stage 5: spectral clustering and evaluation (runs its upstream first).
cluster pipeline=default_pipeline *flags: build
    scripts/stages.sh upto cluster {{pipeline}} {{flags}}

# Force one stage and every stage after it, e.g. `just from train mnist-demo`.
from stage pipeline=default_pipeline *flags: build
    scripts/stages.sh from {{stage}} {{pipeline}} {{flags}}

# One Markdown table of every run's scores and stage times (data/runs/report.md).
report *flags:
    cargo build --release -p ebsc-report
    target/release/ebsc-report {{flags}}

# Every test: unit tests beside the code, end-to-end tests in tests/, doc tests. The
# benchmark programs in examples/ are left out of the test build (`just lint` checks them),
# and so are unit-test binaries for the thin main.rs files and the tests' helper library
# (`test = false`; `--tests` builds every target whose tests are on: libraries,
# integration tests).
test: setup
    cargo test --workspace --tests
    cargo test --workspace --doc

# Formatting, clippy (warnings as errors), every dependency versioned once in the
# workspace and used by the package that names it, and the launch files in deploy/.
lint: setup
    python3 scripts/check_dependencies.py
    scripts/check_deploy.sh
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Benchmarks (all sections, or some: `just bench seeds ablations`); results go to RESULTS.md
# by hand, with the command and the machine.
bench *sections: build
    scripts/bench.sh {{sections}}

# The container image of the stage binaries and libtorch (Containerfile), built with podman
# or docker: `just image` (CUDA wheel, tag registry.example.com/ebsc:latest) or `just image
# cpu`; `just image cuda prebuilt` copies target/release from `just build` instead of
# compiling; further arguments go to the build command. README, "Container image".
[doc("Container image of the stage binaries and libtorch: `just image [cuda|cpu] [build|prebuilt]`.")]
[positional-arguments]
image variant="cuda" binaries="build" *args:
    @scripts/image.sh "$@"

# Fetch a full data set into data/ (checksums verified): `just fetch mnist`.
fetch dataset:
    scripts/fetch.sh {{dataset}}

# Delete a pipeline's run folder (all of data/runs without an argument).
clean pipeline="":
    rm -rf "data/runs/{{pipeline}}"
