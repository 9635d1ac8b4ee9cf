#!/usr/bin/env bash
# Packages the binaries that cross/build.sh made, for each Debian architecture given (amd64,
# arm64, armhf; all three by default), into $CARGO_TARGET_DIR/debian/:
# - dinoedge_<version>_<arch>.deb, made by cargo-deb (the metadata is in the root Cargo.toml),
#   with its debug info in dinoedge-dbgsym_<version>_<arch>.ddeb, checked by lintian (the
#   overrides, each with its reason, are in cross/deb/lintian-overrides), and the manual pages
#   that the binary writes (`dinoedge man`);
# - dinoedge-<version>-<arch>.tar.gz for systems without dpkg: the stripped binary, the systemd
#   files, the example configuration, README.Debian and the manual pages, in one folder.
# Usage: cross/package.sh [ARCH...]
set -euo pipefail
cd "$(dirname "$0")/.."
source cross/env.sh

archs=("$@")
((${#archs[@]})) || archs=(amd64 arm64 armhf)
# shellcheck disable=SC2046 # lists of package names
need_packages lintian $(for arch in "${archs[@]}"; do binutils_package_of "$arch" && runtime_packages_of "$arch"; done)
need_cargo_deb

out="$target_dir/debian"
mkdir -p "$out"
for arch in "${archs[@]}"; do
    bin=$(binary_of "$arch")
    [[ -x $bin ]] || { echo "$0: no $bin: run cross/build.sh $arch first" >&2; exit 1; }
    # The manual pages, written by the binary being packaged (under qemu for ARM), where the
    # package metadata takes them from.
    rm -rf cross/deb/man1
    cross/qemu.sh "$arch" "$bin" man --out cross/deb/man1
    made=$(cargo deb -p dinoedge --no-build --target "$(triple_of "$arch")" \
        --dbgsym --compress-debug-symbols=zlib --output "$out/")
    deb=$(grep '\.deb$' <<<"$made")
    echo "$arch: $deb ($(du -h "$deb" | cut -f1))"
    # --fail-on warning: errors and warnings fail; info and pedantic tags are printed only.
    lintian --fail-on error,warning "$deb"

    # The tarball: the same files as the package, named as the manual install in the README uses them.
    version=$(dpkg-deb -f "$deb" Version)
    name="dinoedge-${version%-*}-$arch"
    stage=$(mktemp -d)
    mkdir "$stage/$name"
    "$(binutils_prefix_of "$arch")strip" -o "$stage/$name/dinoedge" "$bin"
    cp systemd/dinoedge.service systemd/dinoedge.sysusers systemd/dinoedge.tmpfiles cross/deb/README.Debian "$stage/$name/"
    cp config/examples/dock.toml "$stage/$name/dinoedge.toml"
    cp -r cross/deb/man1 "$stage/$name/man1"
    tar -C "$stage" --owner=0 --group=0 -czf "$out/$name.tar.gz" "$name"
    rm -rf "$stage"
    echo "$arch: $out/$name.tar.gz ($(du -h "$out/$name.tar.gz" | cut -f1))"
done
