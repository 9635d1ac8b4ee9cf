#!/usr/bin/env bash
# Makes the Debian 11 roots of the install and service checks ahead of them (`DEBIAN_ROOTS` in
# cross/env.sh; debootstrap, from deb.debian.org), as tarballs in the cache, where those checks
# find them. tools/test.sh runs it in the background while the compilers run: the download
# waits on the network, not on the two cores. Roots already in the cache are kept.
# Needs root (debootstrap) and debootstrap installed. Usage: cross/roots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source cross/env.sh

[[ $(id -u) == 0 ]] || { echo "$0: needs root (debootstrap)" >&2; exit 1; }
command -v debootstrap >/dev/null || { echo "$0: needs debootstrap (apt-get install debootstrap)" >&2; exit 1; }
for name in "${DEBIAN_ROOTS[@]}"; do
    echo "$name: $(debian_tarball "$name")"
done
