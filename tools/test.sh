#!/usr/bin/env bash
# Runs every dinoedge test: formatting, lints, unit, parity and end-to-end tests, the systemd
# unit's checks, then the shipping part (cross/): the ARM targets' tests under qemu, the
# release binaries for amd64, arm64 and armhf (glibc <= 2.31 checked), the three .deb packages
# (lintian), the amd64 package installed into a clean Debian 11 root, and run as a service
# there under systemd as PID 1 (systemd-nspawn).
#
# One compilation per target: the tests are release builds linked by zig against glibc 2.31,
# sharing one compilation with the binary that is packaged (`release_tests` and
# `release_build` in cross/env.sh), so the amd64 end-to-end tests run the very binary that
# ships, and the ARM tests under qemu the ARM ones. Clippy is the one other build (it only
# checks).
#
# `--host` stops before the shipping part. Each stage's time is printed as it ends, and all of
# them at the end (tools/stages.sh). Installs what the tests need where it is missing: with
# apt, as root, the Debian packages listed below and in cross/; ONNX Runtime (for the
# tract-vs-ORT test), zig and cargo-zigbuild (the cross linker) from PyPI into venvs under the
# cache; cargo-deb from crates.io.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/stages.sh
source cross/env.sh

stage "tools"
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
if [[ ${1:-} != --host ]]; then
    # cross/'s, all at once here: later stages run apt while debootstrap runs in the background.
    packages+=(lintian debootstrap systemd-container mosquitto-clients)
    for arch in arm64 armhf; do
        # shellcheck disable=SC2207 # lists of package names
        packages+=($(runtime_packages_of "$arch") $(binutils_package_of "$arch"))
    done
fi
need_packages "${packages[@]}"
# ONNX Runtime (PyPI) for the test that compares tract with it; never needed at run time.
venv="${DINOEDGE_TOOLS_VENV:-$cache/tools-venv}"
if ! "$venv/bin/python" -c "import onnxruntime, numpy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q onnxruntime numpy
fi
export DINOEDGE_ORT_PYTHON="$venv/bin/python"
need_zigbuild amd64
# The Debian roots of the install and service checks download while the compilers run.
roots_log=$(mktemp)
roots=
if [[ ${1:-} != --host && $(id -u) == 0 ]]; then
    bash cross/roots.sh >"$roots_log" 2>&1 &
    roots=$!
fi

stage "format and shellcheck"
cargo fmt --all --check
shellcheck -x .ci/run tools/*.sh systemd/*.sh cross/*.sh

stage "clippy"
# In release mode: its build scripts and proc-macros are then the release builds' own.
cargo clippy --release --workspace --all-targets --locked -- -D warnings

stage "amd64: build and tests"
release_tests amd64 --no-fail-fast

stage "systemd unit"
bash systemd/check.sh "$(binary_of amd64)"

[[ ${1:-} != --host ]] || exit 0
stage "arm64: build and tests under qemu"
bash cross/test.sh arm64
stage "armhf: build and tests under qemu"
bash cross/test.sh armhf
stage "binaries: glibc check"
bash cross/build.sh amd64 arm64 armhf
stage "packages"
bash cross/package.sh amd64 arm64 armhf
if [[ -n $roots ]]; then
    stage "Debian roots (made in the background)"
    wait "$roots" || { cat "$roots_log" >&2; exit 1; }
    cat "$roots_log"
    stage "install check"
    bash cross/install-check.sh
    stage "service check"
    bash cross/service-check.sh
else
    echo "test.sh: cross/install-check.sh and service-check.sh skipped: they need root (chroot, systemd-nspawn)" >&2
fi
