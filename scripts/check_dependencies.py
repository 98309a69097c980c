#!/usr/bin/env python3
"""Checks every workspace package's Cargo.toml against its code (run by `just lint`):

- every dependency's version comes from [workspace.dependencies] (`name.workspace = true`),
  so one version of each crate is named once;
- every dependency is used: its crate name appears in the package's Rust files (normal
  dependencies in the library/binary sources or the build script, dev-dependencies anywhere
  in the package).

Prints one line per problem, naming the file and the dependency, and exits 1 if any.
Standard library only (tomllib: Python 3.11+).
"""

import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def rust_files(package: Path, parts: list[str]) -> str:
    """The text of the package's .rs files under `parts` (folders or files)."""
    text = []
    for part in parts:
        path = package / part
        files = [path] if path.is_file() else sorted(path.rglob("*.rs")) if path.is_dir() else []
        text.extend(f.read_text(encoding="utf-8") for f in files if f.suffix == ".rs")
    return "\n".join(text)


def tables(manifest: dict) -> list[tuple[str, dict]]:
    """(kind, table) for [dependencies], [dev-dependencies] and their target-specific forms."""
    found = []
    for kind in ("dependencies", "dev-dependencies", "build-dependencies"):
        found.append((kind, manifest.get(kind, {})))
        for target in manifest.get("target", {}).values():
            found.append((kind, target.get(kind, {})))
    return found


def used(name: str, spec, code: str) -> bool:
    """The crate appears as a path (`parquet::…`, `use parquet`), not only as a word: a
    file name such as "affinity.parquet" in a string does not count."""
    crate = (spec.get("package", name) if isinstance(spec, dict) else name).replace("-", "_")
    crate = re.escape(crate)
    pattern = rf"(?<![\w.]){crate}\s*::|\buse\s+{crate}\b|\bextern\s+crate\s+{crate}\b"
    return re.search(pattern, code) is not None


def check(manifest_path: Path) -> list[str]:
    manifest = tomllib.loads(manifest_path.read_text(encoding="utf-8"))
    package = manifest_path.parent
    package_table = manifest.get("package", {})
    lib = manifest.get("lib", {}).get("path", "src")
    build = package_table.get("build", "build.rs")
    build = build if isinstance(build, str) else "build.rs"
    main_code = rust_files(package, [lib, "src", build])
    # A test target in a folder of its own (`faults/main.rs`) is that whole folder.
    test_targets = [
        str(Path(t["path"]).parent) if Path(t["path"]).name == "main.rs" else t["path"]
        for t in manifest.get("test", [])
        if "path" in t
    ]
    all_code = main_code + rust_files(package, ["tests", "examples", "benches", *test_targets])
    where = manifest_path.relative_to(ROOT)
    problems = []
    for kind, table in tables(manifest):
        for name, spec in table.items():
            inherited = isinstance(spec, dict) and spec.get("workspace") is True
            if not inherited:
                problems.append(
                    f"{where}: [{kind}] `{name}` names its own version; "
                    f"put it in [workspace.dependencies] and write `{name}.workspace = true`"
                )
            code = main_code if kind != "dev-dependencies" else all_code
            if not used(name, spec, code):
                hint = " (only tests or examples use it: make it a dev-dependency)" if (
                    kind == "dependencies" and used(name, spec, all_code)
                ) else ""
                problems.append(f"{where}: [{kind}] `{name}` is not used{hint}")
    return problems


def main() -> int:
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text(encoding="utf-8"))
    members = []
    for pattern in workspace["workspace"]["members"]:
        members.extend(sorted(ROOT.glob(f"{pattern}/Cargo.toml")))
    problems = [line for manifest in members for line in check(manifest)]
    for line in problems:
        print(line)
    if problems:
        print(f"check_dependencies: {len(problems)} problem(s) in {len(members)} packages")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
