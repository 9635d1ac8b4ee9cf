#!/usr/bin/env bash
# Builds the release `dinoedge` (with the V4L2 source) for each Debian architecture given —
# amd64, arm64, armhf; all three by default — linked against glibc 2.31's symbols, and checks
# with the target's objdump that none of its symbols needs a newer glibc. The binary is built
# with the architecture's tests (`release_build` in cross/env.sh): after tools/test.sh or
# cross/test.sh, only the binary itself is compiled here, if the tests did not need it.
# Usage: cross/build.sh [ARCH...]    The binaries: $CARGO_TARGET_DIR/<triple>/release/dinoedge
set -euo pipefail
cd "$(dirname "$0")/.."
source cross/env.sh

archs=("$@")
((${#archs[@]})) || archs=(amd64 arm64 armhf)
# shellcheck disable=SC2046 # lists of package names
need_packages $(for arch in "${archs[@]}"; do binutils_package_of "$arch"; done)
need_zigbuild "${archs[@]}"

for arch in "${archs[@]}"; do
    release_build "$arch"
    bin=$(binary_of "$arch")
    objdump="$(binutils_prefix_of "$arch")objdump"
    newest=$("$objdump" -T "$bin" | grep -o 'GLIBC_[0-9][0-9.]*' | sort -uV | tail -n1)
    echo "$arch: $bin needs ${newest/_/ } at most (allowed: glibc $GLIBC_FLOOR)"
    if [[ $(printf '%s\n' "${newest#GLIBC_}" "$GLIBC_FLOOR" | sort -V | tail -n1) != "$GLIBC_FLOOR" ]]; then
        echo "$0: $bin needs ${newest/_/ }, newer than $GLIBC_FLOOR (Ubuntu 20.04)" >&2
        "$objdump" -T "$bin" | grep "$newest" >&2
        exit 1
    fi
done
