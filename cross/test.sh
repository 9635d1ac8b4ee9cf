#!/usr/bin/env bash
# Runs the pure-compute tests for each ARM architecture given (arm64, armhf; both by default)
# under qemu user-mode emulation, with the CPU pinned (the runners in .cargo/config.toml):
# config, heads (parity with the reference fixtures, the full-size backbone, tract against
# ONNX Runtime), calibration, sim, and the daemon's unit tests (rules, outbox, V4L2 frame
# conversion), and the layout tests that bindgen wrote into nokhwa's V4L2 bindings
# (v4l2-sys-mit), which fail if the bindings were generated for another target's struct
# layout. They are built in release mode, which shares the packaged build's dependencies
# and makes the emulated run minutes shorter.
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
    need_packages libclang-dev $(runtime_packages_of "$arch")
done
need_zigbuild "${archs[@]}"

for arch in "${archs[@]}"; do
    target="$(triple_of "$arch").$GLIBC_FLOOR"
    echo "== $arch: tests under qemu ($target)"
    cargo-zigbuild test --release --locked --target "$target" \
        -p dinoedge-config -p dinoedge-heads -p dinoedge-calibration -p dinoedge-sim --tests
    # v4l2-sys-mit is in the build only through dinoedge's `v4l2` feature, so it is tested with it.
    cargo-zigbuild test --release --locked --target "$target" -p dinoedge -p v4l2-sys-mit --bins --lib
done
