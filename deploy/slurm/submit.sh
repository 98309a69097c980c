#!/bin/bash
# Submits the affinity array and, after all its tasks succeed, the merge:
#   PIPELINE=pipelines/mnist.toml deploy/slurm/submit.sh
# Run from the repository root on a login node.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PIPELINE=${PIPELINE:-pipelines/mnist.toml}
export RUNS_DIR=${RUNS_DIR:-data/runs}

array=$(sbatch --parsable --export=ALL deploy/slurm/affinity.sbatch)
merge=$(sbatch --parsable --export=ALL --dependency=afterok:"$array" deploy/slurm/merge.sbatch)
echo "affinity array: job $array; merge and cluster: job $merge (starts when the array is done)"
