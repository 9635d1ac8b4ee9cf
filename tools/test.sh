#!/usr/bin/env bash
# Runs every dinoedge test: formatting, lints, unit, parity and end-to-end tests, the systemd
# unit's checks, then the shipping part (cross/): the ARM targets' tests under qemu, the
# release builds for amd64, arm64 and armhf (glibc <= 2.31 checked), the three .deb packages
# (lintian), the amd64 package installed into a clean Debian 11 root, and run as a service
# there under systemd as PID 1 (systemd-nspawn).
# `--host` stops before the shipping part (which takes about an hour the first time, about 10
# minutes after). Installs what the tests need where it is missing: with apt, as root, the Debian
# packages listed below and in cross/; ONNX Runtime (for the tract-vs-ORT test) and zig (the
# cross linker) from PyPI into venvs under the cache; cargo-zigbuild and cargo-deb from
# crates.io.
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${XDG_CACHE_HOME:-$HOME/.cache}/dinoedge"

# System packages the tests use.
source tools/apt.sh
packages=(
    ffmpeg           # the clip and ffmpeg-source tests
    mosquitto        # the real MQTT broker of the daemon tests
    libclang-dev     # bindgen, for nokhwa's V4L2 bindings
    chromium chromium-driver   # the calibrate page, in a real headless browser
    systemd          # systemd-analyze, sysusers and tmpfiles for the unit's checks
    shellcheck       # the shell scripts
)
command -v python3 >/dev/null || packages+=(python3)
python3 -c "import venv, ensurepip" 2>/dev/null || packages+=(python3-venv)
need_packages "${packages[@]}"

# ONNX Runtime (PyPI) for the test that compares tract with it; never needed at run time.
venv="${DINOEDGE_TOOLS_VENV:-$cache/tools-venv}"
if ! "$venv/bin/python" -c "import onnxruntime, numpy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q onnxruntime numpy
fi
export DINOEDGE_ORT_PYTHON="$venv/bin/python"

cargo fmt --all --check
shellcheck -x .ci/run tools/*.sh systemd/*.sh cross/*.sh
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked --no-fail-fast
bash systemd/check.sh "${CARGO_TARGET_DIR:-target}/debug/dinoedge"

[[ ${1:-} != --host ]] || exit 0
bash cross/test.sh arm64 armhf
bash cross/build.sh amd64 arm64 armhf
bash cross/package.sh amd64 arm64 armhf
if [[ $(id -u) == 0 ]]; then
    bash cross/install-check.sh
    bash cross/service-check.sh
else
    echo "test.sh: cross/install-check.sh and service-check.sh skipped: they need root (chroot, systemd-nspawn)" >&2
fi
