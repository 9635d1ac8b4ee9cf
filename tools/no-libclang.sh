#!/usr/bin/env bash
# Fails if building dinoedge needs libclang again: if bindgen or clang-sys (which load
# libclang in a build script) is in the dependency tree (normal and build dependencies,
# default features) of the workspace for any target the packages ship. A fresh machine with
# only Rust and a C compiler must build dinoedge (the README's first command); tools/test.sh
# installs no libclang, so a CI run would catch the loss only by failing to compile, and a
# builder that has libclang for other reasons would not catch it at all. Run by tools/test.sh.
# Usage: bash tools/no-libclang.sh
set -euo pipefail
cd "$(dirname "$0")/.."

readonly NEEDS_LIBCLANG=(bindgen clang-sys)
found=0
# The first finding is shown with the path that brings it in.
for triple in x86_64-unknown-linux-gnu aarch64-unknown-linux-gnu armv7-unknown-linux-gnueabihf; do
    tree=(cargo tree --locked --quiet --workspace --target "$triple" -e normal -e build)
    crates=$("${tree[@]}" --prefix none --format '{p}' | cut -d' ' -f1 | sort -u)
    for crate in "${NEEDS_LIBCLANG[@]}"; do
        grep -qx "$crate" <<<"$crates" || continue
        echo "$0: building dinoedge for $triple needs libclang: $crate is in its dependency tree" >&2
        ((found)) || "${tree[@]}" -i "$crate" >&2
        found=1
    done
done
if ((found)); then
    cat >&2 <<'END'
A fresh machine with only Rust and a C compiler can no longer build dinoedge: the README's
first command, 'cargo run --release -- demo', fails in a build script that finds no libclang.
Generate the bindings ahead and commit them, as v4l2-sys/ does for nokhwa's V4L2 bindings
(v4l2-sys/generate.sh, [patch.crates-io] in Cargo.toml), or drop the dependency.
END
    exit 1
fi
echo "$0: no build script in the shipped targets' dependency tree needs libclang"
