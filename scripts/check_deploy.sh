#!/usr/bin/env bash
# Checks the launch files in deploy/ (run by `just lint`); no scheduler or cluster needed:
# - every Slurm script, and the shell scripts the image and deploy use, parse (`bash -n`);
# - the Kubernetes Jobs validate against Kubernetes' own schema, strictly (unknown fields
#   are errors), with kubernetes-validate from PyPI, installed into .venv on first use (its
#   schemas ship inside the package: no network at validation time); a `sh -c` script in a
#   container's command parses (`sh -n`);
# - the Jobs run the image `just image` tags (scripts/image.sh --tag), from the working
#   directory the Containerfile gives it (where pipelines/ is).
# Prints one line per problem and exits 1 if any. Needs .venv (`just setup`).
set -euo pipefail
cd "$(dirname "$0")/.."

KUBERNETES_VALIDATE_VERSION=1.37.0
status=0

for script in deploy/slurm/*.sbatch deploy/slurm/*.sh scripts/image.sh scripts/setup.sh; do
    bash -n "$script" || { echo "check_deploy: $script: bash -n failed" >&2; status=1; }
done

[ -x .venv/bin/python ] || { echo "check_deploy: no .venv: run \`just setup\`" >&2; exit 1; }
if [ "$(.venv/bin/kubernetes-validate --version 2>/dev/null)" != "$KUBERNETES_VALIDATE_VERSION" ]; then
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
.venv/bin/kubernetes-validate --strict --quiet deploy/kubernetes/*.yaml || status=1

image=$(scripts/image.sh --tag cuda)
workdir=$(awk '$1 == "WORKDIR" { w = $2 } END { print w }' Containerfile)
.venv/bin/python - "$image" "$workdir" deploy/kubernetes/*.yaml <<'PY' || status=1
import subprocess
import sys

import yaml

image, workdir, files = sys.argv[1], sys.argv[2], sys.argv[3:]
problems = []
for path in files:
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    containers = [
        c
        for d in docs
        for key in ("initContainers", "containers")
        for c in d.get("spec", {}).get("template", {}).get("spec", {}).get(key, [])
    ]
    if not containers:
        problems.append(f"{path}: no containers found")
    for c in containers:
        name = f"{path}: container {c.get('name')}"
        if c.get("image") != image:
            problems.append(f"{name}: image {c.get('image')}, but `just image` tags {image}")
        if c.get("workingDir") != workdir:
            problems.append(
                f"{name}: workingDir {c.get('workingDir')}, but the image's is {workdir}"
            )
        command = c.get("command", [])
        if len(command) >= 3 and command[0] in ("sh", "bash") and command[1] == "-c":
            check = subprocess.run([command[0], "-n", "-c", command[2]], capture_output=True, text=True)
            if check.returncode != 0:
                problems.append(f"{name}: {command[0]} -c script: {check.stderr.strip()}")
for p in problems:
    print(f"check_deploy: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY

[ "$status" -eq 0 ] && echo "check_deploy: deploy/ ok (image $image)"
exit "$status"
