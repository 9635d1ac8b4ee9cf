#!/usr/bin/env bash
# Checks the systemd files without systemd running as PID 1 (tools/test.sh runs this):
# - `systemd-analyze verify` on the unit, with the built binary in place of /usr/bin/dinoedge;
# - `systemd-analyze security`: the exposure is printed and must be at most 2.0;
# - sysusers and tmpfiles applied to an empty root folder: the user, its video group and the
#   folders the unit expects, with their owners.
# Usage: systemd/check.sh path/to/built/dinoedge
set -euo pipefail
bin=$(realpath "${1:?usage: systemd/check.sh path/to/built/dinoedge}")
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sed "s|/usr/bin/dinoedge|$bin|g" dinoedge.service >"$work/dinoedge.service"
systemd-analyze verify "$work/dinoedge.service"
echo "systemd-analyze verify: ok"

# --threshold is the exposure times 10: the command fails above 2.0.
systemd-analyze security --offline=yes --threshold=20 dinoedge.service | grep -E '✗|Overall exposure'

root="$work/root"
mkdir -p "$root/etc"
printf 'root:x:0:0::/root:/bin/sh\n' >"$root/etc/passwd"
printf 'root:x:0:\nvideo:x:44:\n' >"$root/etc/group"
touch "$root/etc/shadow" "$root/etc/gshadow"
systemd-sysusers --root="$root" "$PWD/dinoedge.sysusers"
systemd-tmpfiles --root="$root" --create "$PWD/dinoedge.tmpfiles"
grep -q '^dinoedge:x:[0-9]*:[0-9]*:.*:/var/lib/dinoedge:' "$root/etc/passwd"
grep -q '^video:x:44:dinoedge$' "$root/etc/group"
uid=$(awk -F: '$1 == "dinoedge" {print $3}' "$root/etc/passwd")
for dir in var/lib/dinoedge var/lib/dinoedge/models; do
    [[ $(stat -c '%u %a' "$root/$dir") == "$uid 750" ]] || { echo "$dir: $(stat -c '%u %a' "$root/$dir")" >&2; exit 1; }
done
[[ $(stat -c '%u %a' "$root/etc/dinoedge") == "0 750" ]]
echo "sysusers and tmpfiles: user dinoedge (in video), /etc/dinoedge, /var/lib/dinoedge(/models): ok"
