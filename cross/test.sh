#!/usr/bin/env bash
# Runs the tests of each ARM architecture given (arm64, armhf; both by default) under qemu
# user-mode emulation, with the CPU pinned (cross/qemu.sh, through the runners in
# .cargo/config.toml): the unit tests, every integration test of the library crates (config;
# heads: parity with the reference fixtures, the full-size backbone, tract against ONNX
# Runtime; calibration; sim) and the V4L2 bindings' layout tests (v4l2-sys/) (see `tests_of` in cross/env.sh).
# They are built in release mode in the same compilation as the packaged binary
# (`release_tests`, `release_build`), so the binary that ships is the one these tests ran with.
# The end-to-end tests run on the host only: they start the dinoedge binary, and a test under
# qemu user-mode emulation cannot start an ARM program (no binfmt_misc here).
# Emulated timings mean nothing: they are not a measure of ARM speed.
# Usage: cross/test.sh [ARCH...]
set -euo pipefail
cd "$(dirname "$0")/.."
source cross/env.sh

archs=("$@")
((${#archs[@]})) || archs=(arm64 armhf)
for arch in "${archs[@]}"; do
    [[ $arch != amd64 ]] || { echo "$0: amd64 is tested natively by tools/test.sh" >&2; exit 64; }
    # shellcheck disable=SC2046 # a list of package names
    need_packages $(runtime_packages_of "$arch")
done
need_zigbuild "${archs[@]}"

for arch in "${archs[@]}"; do
    echo "== $arch: tests under qemu ($(triple_of "$arch").$GLIBC_FLOOR)"
    release_tests "$arch" --no-fail-fast
done
