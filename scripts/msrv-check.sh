#!/usr/bin/env bash
# Is each published crate's `rust-version` true of what it builds on? For every publishable package of
# the workspace, prints the `rust-version` each of its dependencies declares (normal and build
# dependencies, all features, the usual target platforms: what a user's build compiles, at the versions in
# Cargo.lock) and fails if any declares a higher one than the package. Dev-dependencies are not
# counted: a user never builds them. Also prints, for information, the highest `rust-version` among
# what the examples, tests and benches build (the root package with its dev-dependencies): the README
# says which toolchain they need.
#
# Needs cargo and python3 only. Each dependency set comes from `cargo tree -p <package>`, which resolves
# that package's features alone (`cargo metadata`'s resolve unifies the features of the whole
# workspace); the declared versions come from `cargo metadata`.
# API use newer than `rust-version` inside the library is clippy's `incompatible_msrv` (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cargo metadata --format-version 1 >"$tmp/metadata.json"
# The platforms users build on. Not `--target all`: that also takes dependencies behind a `cfg` no
# build sets (loom's, under `cfg(loom)`, which metrics-exporter-prometheus's evmap declares).
TARGETS=(--target x86_64-unknown-linux-gnu --target aarch64-unknown-linux-gnu
    --target x86_64-apple-darwin --target aarch64-apple-darwin --target x86_64-pc-windows-msvc)
tree() {
    cargo tree -p "$1" --all-features "${TARGETS[@]}" --prefix none --format '{p}' "${@:2}"
}
tree tencent-room-callback -e normal,build,dev >"$tmp/dev.txt"
status=0
for pkg in tencent-room-callback tencent-room-callback-inbox tencent-room-callback-receiver; do
tree "$pkg" -e normal,build >"$tmp/lib.txt"

python3 - "$pkg" "$tmp/metadata.json" "$tmp/lib.txt" "$tmp/dev.txt" <<'EOF' || status=1
import json
import sys

pkg, metadata, lib_tree, dev_tree = sys.argv[1:]
packages = json.load(open(metadata))["packages"]
declared = {(p["name"], p["version"]): p.get("rust_version") for p in packages}


def key(version):
    """'1.85' and '1.85.0' compare equal; no rust-version sorts lowest."""
    if not version:
        return (0, 0, 0)
    parts = [int(x) for x in version.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def closure(path):
    """(name, version) of each line of `cargo tree --format '{p}'`: 'name vX.Y.Z [(path)] [(*)]'."""
    found = set()
    for line in open(path):
        words = line.split()
        if len(words) >= 2 and words[1].startswith("v"):
            found.add((words[0], words[1][1:]))
    return found


own = next(v for (n, v), _ in declared.items() if n == pkg)
msrv = declared[(pkg, own)]
if not msrv:
    sys.exit(f"msrv-check: {pkg} declares no rust-version")

deps = sorted(closure(lib_tree) - {(pkg, own)})
print(f"{pkg} {own}: rust-version {msrv}; its dependencies (normal and build, all features):")
too_new = []
for name, version in deps:
    rv = declared.get((name, version))
    mark = ""
    if key(rv) > key(msrv):
        too_new.append((name, version, rv))
        mark = "   <-- higher than the library's"
    if mark or pkg == "tencent-room-callback":
        print(f"  {name:<24} {version:<32} {rv or '-'}{mark}")

dev_deps = closure(dev_tree)
top = max(key(declared.get(d)) for d in dev_deps)
needing = sorted(f"{n} {v}" for n, v in dev_deps if key(declared.get((n, v))) == top)
top_text = ".".join(str(x) for x in top)
if pkg == "tencent-room-callback":
    print(f"the examples, tests and benches (the root package's dev-dependencies) need at least Rust {top_text}: {', '.join(needing)}")

if too_new:
    for name, version, rv in too_new:
        print(f"error: {name} {version} declares rust-version {rv}, above {pkg}'s {msrv}",
              file=sys.stderr)
    sys.exit(1)
print(f"ok: {len(deps)} dependencies, none declares a rust-version above {msrv}")
EOF
done
exit $status
