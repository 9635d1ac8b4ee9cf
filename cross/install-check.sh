#!/usr/bin/env bash
# Checks the packages made by cross/package.sh on Debian 11 — glibc 2.31 and systemd 247, as
# old as the oldest system dinoedge supports (Ubuntu 20.04, JetPack 5).
#
# The amd64 package is installed into a clean Debian 11 root, and the files must land where
# the unit expects them and work there:
# - apt installs it; the binary runs on glibc 2.31; the conffile is registered;
# - postinst made the `dinoedge` user (in `video`) and enabled the service;
# - the unit verifies under that older systemd (which cannot rate its security without running
#   as PID 1: systemd/check.sh does that with this box's systemd);
# - tmpfiles (as at boot) makes the folders with their owners, and the `dinoedge` user can read
#   the config: `dinoedge check-config` stops at the missing model, exit 78;
# - a reinstall keeps an edited conffile; remove keeps the config, purge removes it and
#   /var/lib/dinoedge.
#
# The arm64 and armhf packages are unpacked into Debian 11 roots of their architecture, and
# their binary runs there under qemu on that root's own glibc 2.31: it starts, refuses the
# shipped config for its missing model (exit 78), and makes and imports a random-weight
# backbone. (Installing them would run their maintainer scripts, which needs binfmt_misc.)
#
# Needs root (chroot). The roots are made once with debootstrap from deb.debian.org (amd64:
# minbase, systemd and procps, as on any box that runs the service; ARM: debootstrap's first
# stage, unpacked, not configured) and kept as tarballs in the cache.
# Usage: cross/install-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source cross/env.sh

[[ $(id -u) == 0 ]] || { echo "$0: needs root (debootstrap, chroot)" >&2; exit 1; }
need_packages debootstrap

work=$(mktemp -d)
root="$work/root"
mounts=(proc sys sys/fs/cgroup dev/pts)
cleanup() {
    local i
    for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
        ! mountpoint -q "$root/${mounts[i]}" || umount "$root/${mounts[i]}"
    done
    # Never delete through a mount point that is still there.
    for i in "${mounts[@]}"; do ! mountpoint -q "$root/$i" || return; done
    rm -rf "$work"
}
trap cleanup EXIT
debian_root "$root" service
# systemd-analyze verify needs /proc and a cgroup hierarchy.
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
mount -t cgroup2 cgroup2 "$root/sys/fs/cgroup"
mount -t devpts devpts "$root/dev/pts" # apt's log
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
fail() { echo "$0: $*" >&2; exit 1; }
# The shipped config, with no model yet, must stop at the missing backbone with exit 78.
# Usage: stops_at_the_backbone WHO COMMAND...
stops_at_the_backbone() {
    local who=$1 message status=0
    shift
    message=$("$@" 2>&1) || status=$?
    echo "check-config $who: exit $status: $message"
    [[ $status == 78 && $message == *"/var/lib/dinoedge/models/depth-anything-v2-metric-indoor-small_224x392.onnx does not exist"* ]] ||
        fail "check-config $who should stop at the missing backbone with exit 78"
}

deb=$(package_of amd64)
echo "== install $(basename "$deb") into Debian $DEBIAN_SUITE ($(in_root ldd --version | head -n1))"
cp "$deb" "$root/tmp/"
# Without Recommends (ffmpeg): offline, and the smallest install that must work.
in_root apt-get install -y -q --no-install-recommends "/tmp/$(basename "$deb")"

for file in /usr/bin/dinoedge /usr/lib/systemd/system/dinoedge.service /usr/lib/sysusers.d/dinoedge.conf \
    /usr/lib/tmpfiles.d/dinoedge.conf /etc/dinoedge/dinoedge.toml /usr/share/doc/dinoedge/README.Debian; do
    [[ -f $root$file ]] || fail "the package did not install $file"
done
exec_start=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$root/usr/lib/systemd/system/dinoedge.service")
[[ -x $root$exec_start ]] || fail "the unit's ExecStart $exec_start is not there"
in_root dinoedge --version
# shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
in_root dpkg-query -W -f='${Conffiles}\n' dinoedge | grep -q '^ /etc/dinoedge/dinoedge.toml ' ||
    fail "/etc/dinoedge/dinoedge.toml is not a conffile"
in_root id dinoedge | grep -q '(video)' || fail "postinst did not make the dinoedge user in group video"
[[ -L $root/etc/systemd/system/multi-user.target.wants/dinoedge.service ]] || fail "the service is not enabled"
echo "installed: the binary runs, the conffile is registered, user dinoedge (in video), the service enabled"

# shellcheck disable=SC2016 # dpkg-query's own ${field} syntax
echo "== the unit under systemd $(in_root dpkg-query -W -f='${Version}' systemd)"
in_root systemd-analyze verify /usr/lib/systemd/system/dinoedge.service
echo "systemd-analyze verify: ok"

# What systemd-tmpfiles-setup does at boot (postinst does it only where systemd runs).
in_root systemd-tmpfiles --create /usr/lib/tmpfiles.d/dinoedge.conf
# Owners by the root's own user and group names.
owner() { in_root stat -c '%U:%G %a' "$1"; }
[[ $(owner /etc/dinoedge) == "root:dinoedge 750" ]] || fail "/etc/dinoedge: $(owner /etc/dinoedge)"
for dir in /var/lib/dinoedge /var/lib/dinoedge/models; do
    [[ $(owner $dir) == "dinoedge:dinoedge 750" ]] || fail "$dir: $(owner $dir)"
done
stops_at_the_backbone "as the dinoedge user" \
    chroot --userspec=dinoedge:dinoedge "$root" /usr/bin/dinoedge check-config /etc/dinoedge/dinoedge.toml

echo "== reinstall, remove, purge"
echo '# edited by the site' >>"$root/etc/dinoedge/dinoedge.toml"
in_root dpkg -i --force-confold "/tmp/$(basename "$deb")" >/dev/null
grep -q '^# edited by the site$' "$root/etc/dinoedge/dinoedge.toml" || fail "a reinstall lost the edited conffile"
in_root apt-get remove -y -q dinoedge >/dev/null
[[ ! -e $root/usr/bin/dinoedge && -f $root/etc/dinoedge/dinoedge.toml && -d $root/var/lib/dinoedge ]] ||
    fail "remove should take the program and keep the config and the state"
in_root apt-get purge -y -q dinoedge >/dev/null
[[ ! -e $root/etc/dinoedge/dinoedge.toml && ! -e $root/var/lib/dinoedge ]] || fail "purge should remove the config and /var/lib/dinoedge"
echo "amd64: ok"

for arch in arm64 armhf; do
    # shellcheck disable=SC2046 # a list of package names
    need_packages $(runtime_packages_of "$arch")
    deb=$(package_of "$arch")
    arch_root="$work/$arch"
    debian_root "$arch_root" "$arch"
    dpkg-deb -x "$deb" "$arch_root"
    # qemu takes the dynamic loader and the libraries from the Debian 11 root.
    on_root() { DINOEDGE_QEMU_SYSROOT=$arch_root cross/qemu.sh "$arch" "$arch_root/usr/bin/dinoedge" "$@"; }
    echo "== $(basename "$deb") on Debian $DEBIAN_SUITE's $(basename "$(readlink -f "$arch_root"/lib/*-linux-gnu*/libc.so.6)") (qemu)"
    on_root --version
    stops_at_the_backbone "on $arch" on_root check-config "$arch_root/etc/dinoedge/dinoedge.toml"
    on_root model init --random --seed 7 --out "$work/$arch.safetensors"
    on_root model import --weights "$work/$arch.safetensors" --out "$work/$arch.onnx" --input 56x56
    echo "$arch: ok"
done
echo "install check: ok"
