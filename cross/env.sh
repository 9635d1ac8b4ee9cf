# shellcheck shell=bash disable=SC2034 # sourced: its variables are used by the scripts that source it
# The toolchain of dinoedge's cross builds, emulated tests and packages (sourced by the other
# cross/ scripts, from the repository's root).
#
# - Binaries are linked by zig (PyPI `ziglang`, in a venv under the cache) through
#   cargo-zigbuild against glibc 2.31's symbols, so they run on Ubuntu 20.04 (Jetson, JetPack 5)
#   and Raspberry Pi OS bullseye as well as on newer systems, whatever this box's own glibc.
# - Tests of the ARM targets run under qemu user-mode emulation (the runners in
#   .cargo/config.toml) with each target's Debian runtime libraries.
# - Packages are made by cargo-deb and checked by lintian, then on Debian 11 roots made by
#   debootstrap: installed (amd64), run on that glibc under qemu (ARM), run as a service under
#   systemd-nspawn (amd64).
# - Each architecture's release binary is built with its tests (`release_tests`,
#   `release_build`, with the same selection of test targets): one compilation of the
#   dependencies per target, shared by the tests, the glibc check and the package. (`cargo
#   build` of the binary alone would resolve the dependencies' features without the
#   dev-dependencies', e.g. hyper's client for the tests' HTTP requests, and compile
#   everything again.) So the binary that is packaged is the one the tests ran with.
# What is missing is installed: Debian packages with apt (as root), zig and cargo-zigbuild with
# pip (PyPI ships both as wheels), cargo-deb with `cargo install`.

source tools/apt.sh

# The oldest glibc the binaries may need: Ubuntu 20.04's.
readonly GLIBC_FLOOR=2.31
readonly ZIGLANG_VERSION=0.17.1
readonly CARGO_ZIGBUILD_VERSION=0.24.1
readonly CARGO_DEB_VERSION=3.8.0

cache="${XDG_CACHE_HOME:-$HOME/.cache}/dinoedge"
target_dir="${CARGO_TARGET_DIR:-target}"

# The Rust target of a Debian architecture.
triple_of() {
    case "$1" in
        amd64) echo x86_64-unknown-linux-gnu ;;
        arm64) echo aarch64-unknown-linux-gnu ;;
        armhf) echo armv7-unknown-linux-gnueabihf ;;
        *)
            echo "$0: unknown architecture '$1' (amd64, arm64 or armhf)" >&2
            exit 64
            ;;
    esac
}

# The prefix of an architecture's binutils (objdump, strip, objcopy): this box's own read
# only x86 files.
binutils_prefix_of() {
    case "$1" in
        arm64) echo aarch64-linux-gnu- ;;
        armhf) echo arm-linux-gnueabihf- ;;
    esac
}

# The Debian packages of an architecture's binutils.
binutils_package_of() {
    case "$1" in
        amd64) echo binutils ;;
        arm64) echo binutils-aarch64-linux-gnu ;;
        armhf) echo binutils-arm-linux-gnueabihf ;;
    esac
}

# The Debian packages of what qemu needs to run an architecture's binaries.
runtime_packages_of() {
    case "$1" in
        arm64) echo qemu-user-static libc6-arm64-cross libgcc-s1-arm64-cross ;;
        armhf) echo qemu-user-static libc6-armhf-cross libgcc-s1-armhf-cross ;;
    esac
}

# zig, cargo-zigbuild (on PATH, after everything else) and the rustup targets of the
# architectures given.
need_zigbuild() {
    local venv="$cache/zig-venv" arch
    if ! { "$venv/bin/python" -m ziglang version 2>/dev/null | grep -qx "$ZIGLANG_VERSION" &&
        "$venv/bin/cargo-zigbuild" --version 2>/dev/null | grep -q " $CARGO_ZIGBUILD_VERSION\$"; }; then
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
    fi
    export CARGO_ZIGBUILD_PYTHON_PATH="$venv/bin/python"
    [[ :$PATH: == *":$venv/bin:"* ]] || export PATH="$PATH:$venv/bin"
    for arch; do
        local triple
        triple=$(triple_of "$arch")
        rustup target list --installed | grep -qx "$triple" || rustup target add "$triple"
    done
}

need_cargo_deb() {
    cargo deb --version 2>/dev/null | grep -q " $CARGO_DEB_VERSION\$" ||
        cargo install --locked --quiet "cargo-deb@$CARGO_DEB_VERSION"
}

# The tests built with an architecture's release binary, as cargo arguments, one a line. amd64: every
# test (tools/test.sh runs them natively). ARM: the unit tests, every integration test of the
# library crates, and the layout tests that bindgen wrote into the committed V4L2 bindings
# (v4l2-sys/, which fail if the target includes a file made for another struct layout);
# not the daemon's end-to-end tests, which start the dinoedge binary, and a test under qemu
# user-mode emulation cannot start an ARM program (no binfmt_misc here). Both select every
# package of the workspace (the members are named here) with tests, so the dependencies'
# features are the same.
tests_of() {
    case "$1" in
        amd64) echo --workspace ;;
        arm64 | armhf)
            local test
            printf -- '-p\n%s\n' dinoedge-config dinoedge-backbone dinoedge-heads dinoedge-calibration dinoedge-sim dinoedge v4l2-sys-mit
            printf -- '%s\n' --lib --bins
            for test in config/tests/*.rs backbone/tests/*.rs heads/tests/*.rs calibration/tests/*.rs sim/tests/*.rs; do
                printf -- '--test\n%s\n' "$(basename "$test" .rs)"
            done
            ;;
        *) triple_of "$1" >/dev/null ;;
    esac
}

# `cargo test` in release mode for an architecture (linked by zig against glibc
# $GLIBC_FLOOR), of the tests in `tests_of`, with the other arguments given. For ARM the tests
# run under qemu through the runners in .cargo/config.toml.
release_tests() {
    local arch=$1 args
    shift
    mapfile -t args < <(tests_of "$arch")
    release_cargo test "$arch" "${args[@]}" "$@"
}

# `cargo build` in release mode of an architecture's binary (`binary_of`) together with the
# tests of `tests_of`: with test targets selected, cargo resolves the dependencies' features
# as `release_tests` does, so after it nothing but the binary is compiled. (amd64's tests
# build the binary already, for the end-to-end tests; the ARM selection has none of those.)
release_build() {
    local arch=$1 args
    mapfile -t args < <(tests_of "$arch")
    [[ $arch != amd64 ]] || args=(--workspace --bins --tests)
    release_cargo build "$arch" "${args[@]}"
}

# A cargo command in release mode for an architecture, linked by zig against glibc
# $GLIBC_FLOOR. amd64's compilations of the workspace's crates are linted by clippy on the way
# (tools/lint-and-compile.sh, `-D warnings`): every amd64 command sets it alike, so none of
# them compiles the crates again for want of it. Usage: release_cargo COMMAND ARCH [ARG...]
release_cargo() {
    local command=$1 arch=$2 lint=
    shift 2
    [[ $arch != amd64 ]] || lint="$PWD/tools/lint-and-compile.sh"
    RUSTC_WORKSPACE_WRAPPER=$lint cargo-zigbuild "$command" --release --locked \
        --target "$(triple_of "$arch").$GLIBC_FLOOR" "$@"
}

# The release binary of an architecture, as `release_build` leaves it.
binary_of() {
    echo "$target_dir/$(triple_of "$1")/release/dinoedge"
}

# The Debian release the packages are checked on: glibc 2.31 (as Ubuntu 20.04), systemd 247.
readonly DEBIAN_SUITE=bullseye

# A package that cross/package.sh made, by architecture.
package_of() {
    local version deb
    version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
    deb="$target_dir/debian/dinoedge_${version}-1_$1.deb"
    [[ -f $deb ]] || { echo "$0: no $deb: run cross/build.sh $1 and cross/package.sh $1 first" >&2; exit 1; }
    echo "$deb"
}

# The Debian roots of the checks, by name: `service`, the amd64 root the package is installed
# into (minbase with systemd and procps, as on any box that runs the service), and `arm64` and
# `armhf`, debootstrap's first stage of those architectures (unpacked, not configured).
readonly DEBIAN_ROOTS=(service arm64 armhf)

# The tarball in the cache of a Debian root of DEBIAN_ROOTS, made by debootstrap the first time
# (downloading from deb.debian.org). Prints its path. Usage: debian_tarball NAME
debian_tarball() {
    local tarball="$cache/debootstrap/$DEBIAN_SUITE-$1.tar.gz" fresh options
    case "$1" in
        service) options=("--include=systemd,procps") ;;
        arm64 | armhf) options=(--foreign --arch="$1") ;;
        *)
            echo "$0: unknown Debian root '$1' (${DEBIAN_ROOTS[*]})" >&2
            exit 64
            ;;
    esac
    if [[ ! -f $tarball ]]; then
        mkdir -p "$(dirname "$tarball")"
        fresh=$(mktemp -d)
        debootstrap --variant=minbase "${options[@]}" "$DEBIAN_SUITE" "$fresh" http://deb.debian.org/debian >&2
        rm -rf "$fresh"/var/cache/apt/archives/*.deb "$fresh"/var/cache/apt/archives/partial/*
        tar -C "$fresh" -czf "$tarball.part" .
        mv "$tarball.part" "$tarball"
        rm -rf "$fresh"
    fi
    echo "$tarball"
}

# A Debian root of DEBIAN_ROOTS in folder DEST (made here). Usage: debian_root DEST NAME
debian_root() {
    local tarball
    tarball=$(debian_tarball "$2")
    mkdir "$1"
    tar -C "$1" -xzf "$tarball"
    chmod 755 "$1" # the tarball's top folder came from mktemp (0700)
}
