#!/usr/bin/env bash
# Runs a program of a Debian architecture: natively for amd64, else under qemu user-mode
# emulation with the CPU pinned and the target's runtime libraries (Debian's
# libc6-*-cross), or those of the root folder in $DINOEDGE_QEMU_SYSROOT. The one place the
# emulated CPUs are chosen: cargo's runners (.cargo/config.toml) and the cross/ scripts call it.
# With qemu's default CPU (`max`), tract picks SVE kernels that take minutes under emulation.
# Usage: cross/qemu.sh ARCH PROGRAM [ARG...]
set -euo pipefail
arch=$1
shift
case "$arch" in
    amd64) exec "$@" ;;
    arm64) exec qemu-aarch64-static -cpu cortex-a72 -L "${DINOEDGE_QEMU_SYSROOT:-/usr/aarch64-linux-gnu}" "$@" ;;
    armhf) exec qemu-arm-static -cpu cortex-a15 -L "${DINOEDGE_QEMU_SYSROOT:-/usr/arm-linux-gnueabihf}" "$@" ;;
    *)
        echo "$0: unknown architecture '$arch' (amd64, arm64 or armhf)" >&2
        exit 64
        ;;
esac
