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
# ships, and the ARM tests under qemu the ARM ones. Clippy (`-D warnings`, every target of
# every crate of the workspace) runs inside the amd64 compilation, on each of our crates
# before rustc compiles it (tools/lint-and-compile.sh): no build of its own.
#
# The machine's cores are kept busy: an ARM architecture's tests under qemu run in the
# background (`start_tests`) while the next compilation, the packages and the Debian checks
# go on, and their output is printed when they are waited for (`finish_tests`). The
# amd64 tests run alone: some of them follow wall-clock time (a broker restart, SIGTERM).
#
# `--host` stops after the amd64 tests and the systemd unit's checks. Each stage's time and
# how busy the cores were is printed as it ends, and all of them at the end (tools/stages.sh).
# Installs what the tests need where it is missing: with apt, as root, the Debian packages
# listed below and in cross/; ONNX Runtime (for the tract-vs-ORT test), zig and cargo-zigbuild
# (the cross linker) from PyPI into venvs under the cache; cargo-deb from crates.io.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/stages.sh
source cross/env.sh

# An ARM architecture's tests and release binary, in one compilation of its dependencies;
# nothing runs yet. Usage: build ARCH
build() {
    release_tests "$1" --no-run
    release_build "$1"
}

# An ARM architecture's tests under qemu, built already (`release_tests ARCH --no-run`), run in
# the background with their output kept in a file. Returns once cargo has started the first
# test binary: cargo holds the target folder's lock only while it compiles, so the next
# compilation can then start. Usage: start_tests ARCH
declare -A test_pids test_logs
start_tests() {
    local arch=$1
    test_logs[$arch]=$(mktemp)
    release_tests "$arch" --no-fail-fast >"${test_logs[$arch]}" 2>&1 &
    test_pids[$arch]=$!
    until grep -q '^ *Running ' "${test_logs[$arch]}" || ! kill -0 "${test_pids[$arch]}" 2>/dev/null; do
        sleep 1
    done
}

# Waits for the tests that start_tests ARCH started, prints their output, and fails as they
# did. Usage: finish_tests ARCH
finish_tests() {
    local arch=$1 status=0
    wait "${test_pids[$arch]}" || status=$?
    echo "== $arch: tests under qemu ($(triple_of "$arch").$GLIBC_FLOOR)"
    cat "${test_logs[$arch]}"
    rm -f "${test_logs[$arch]}"
    return "$status"
}

stage "tools"
packages=(
    ffmpeg           # the clip and ffmpeg-source tests
    mosquitto        # the real MQTT broker of the daemon tests
    prometheus       # promtool, which checks the daemon's /metrics
    iptables         # the fault soak cuts the daemon off the broker
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
# ONNX Runtime (PyPI) for the test that compares tract with it, and Jinja2 for the one that
# renders the Home Assistant templates as Home Assistant does; never needed at run time.
venv="${DINOEDGE_TOOLS_VENV:-$cache/tools-venv}"
if ! "$venv/bin/python" -c "import onnxruntime, numpy, jinja2" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q onnxruntime numpy jinja2
fi
export DINOEDGE_ORT_PYTHON="$venv/bin/python" DINOEDGE_TOOLS_PYTHON="$venv/bin/python"
need_zigbuild amd64
# Clippy's driver, for tools/lint-and-compile.sh.
command -v clippy-driver >/dev/null || rustup component add clippy
# The Debian roots of the install and service checks download while the compilers run.
roots_log=$(mktemp)
roots=
if [[ ${1:-} != --host && $(id -u) == 0 ]]; then
    bash cross/roots.sh >"$roots_log" 2>&1 &
    roots=$!
fi

stage "format, shellcheck, import cycles, no libclang"
cargo fmt --all --check
shellcheck -x .ci/run tools/*.sh systemd/*.sh cross/*.sh v4l2-sys/*.sh
python3 tools/module_cycles.py
bash tools/no-libclang.sh

stage "amd64: build (linted) and tests"
release_tests amd64 --no-fail-fast

stage "systemd unit"
bash systemd/check.sh "$(binary_of amd64)"

[[ ${1:-} != --host ]] || exit 0

need_zigbuild arm64 armhf
stage "arm64: build"
build arm64
start_tests arm64
stage "armhf: build, arm64's tests beside it"
build armhf
stage "arm64: the rest of its tests"
finish_tests arm64
start_tests armhf
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
stage "armhf: the rest of its tests"
finish_tests armhf
