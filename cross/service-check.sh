#!/usr/bin/env bash
# Runs the packaged service under a real systemd as PID 1: the amd64 package installed into a
# Debian 11 root, booted with systemd-nspawn (systemd 247 inside), the hardened unit as
# installed, the daemon running a random-weight backbone and a head on a simulated dock clip
# (an `images` source), publishing to a mosquitto on this box's loopback. It checks that
# - `systemctl start` returns once the daemon sent READY=1 (Type=notify), under the sandbox;
# - the forklift's alarm arrives at an MQTT subscriber;
# - the service stays up past two watchdog intervals (WatchdogSec=30) with no restart;
# - `systemctl reload` (SIGHUP) is taken by the same process, and the journal has its logs;
# - `systemctl stop` ends it cleanly;
# - a broken config stops it with exit 78 and systemd does not restart it.
# Needs root (systemd-nspawn). Usage: cross/service-check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source cross/env.sh

[[ $(id -u) == 0 ]] || { echo "$0: needs root (systemd-nspawn)" >&2; exit 1; }
need_packages debootstrap systemd-container mosquitto mosquitto-clients

deb=$(package_of amd64)
host_dinoedge=$(binary_of amd64)
work=$(mktemp -d)
root="$work/root"
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
fail() {
    echo "$0: $*" >&2
    [[ ! -f $work/messages ]] || head -n5 "$work/messages" >&2
    [[ -z ${leader:-} ]] || in_ct journalctl --no-pager -u dinoedge -n 30 >&2 || true
    exit 1
}

debian_root "$root" service
# nspawn says it leaves the root folder alone when a command ends: not news.
nspawn() { systemd-nspawn -q -D "$root" --register=no --keep-unit "$@" 2> >(grep -v 'Attempted to remove disk file system' >&2); }

cp "$deb" "$root/var/tmp/" # nspawn mounts a fresh /tmp
nspawn --pipe env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "/var/tmp/$(basename "$deb")" >/dev/null

# The site: a simulated dock clip, a random-weight backbone (56x56) with a head trained for it
# on simulated frames, and a min_distance rule that any depth at all sets off (random weights
# measure nothing: this checks the service and the model running under the sandbox).
"$host_dinoedge" sim clip --scenario forklift-cross --out "$work/clip" --width 320 --height 240 >/dev/null
"$host_dinoedge" sim dataset --n 4 --seed 1 --out "$work/train" --width 112 --height 84 >/dev/null
"$host_dinoedge" model init --random --seed 7 --out "$work/weights.safetensors" >/dev/null
models="$root/var/lib/dinoedge/models"
mkdir -p "$models"
"$host_dinoedge" model import --weights "$work/weights.safetensors" --out "$models/backbone.onnx" --input 56x56 >/dev/null
"$host_dinoedge" heads train --data "$work/train" --backbone "$models/backbone.onnx" --out "$models/head.safetensors" --epochs 2 >/dev/null
cp -r "$work/clip/rgb" "$root/var/lib/dinoedge/clip"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >"$root/etc/dinoedge/dinoedge.toml" <<EOF
device_id = "nspawn"

[model]
kind = "dinov2"
backbone = "/var/lib/dinoedge/models/backbone.onnx"
head = "/var/lib/dinoedge/models/head.safetensors"

[mqtt]
url = "mqtt://127.0.0.1:$port"

[[camera]]
name = "dock1"

[camera.source]
kind = "images"
path = "/var/lib/dinoedge/clip"
fps = 10
loop = true

[[rule]]
name = "anything"
camera = "dock1"
kind = "min_distance"
zone = [[0.0, 0.3], [1.0, 0.3], [1.0, 1.0], [0.0, 1.0]]
alarm_below = 1000.0
clear_above = 2000.0
EOF
nspawn --pipe sh -c 'systemd-tmpfiles --create dinoedge.conf && chown -R dinoedge:dinoedge /var/lib/dinoedge'

# The broker and a subscriber on this box; the container shares its network.
mosquitto -p "$port" >"$work/mosquitto.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
    ! (: >"/dev/tcp/127.0.0.1/$port") 2>/dev/null || break
    sleep 0.1
done
mosquitto_sub -p "$port" -v -t 'dinoedge/#' >"$work/messages" &
pids+=($!)

systemd-nspawn -q -D "$root" --register=no --keep-unit -b >"$work/boot.log" 2>&1 &
nspawn_pid=$!
pids+=("$nspawn_pid")
# The container's PID 1: the child of nspawn that runs systemd (nspawn forks helpers first).
leader=
for _ in $(seq 300); do
    for child in $(pgrep -P "$nspawn_pid"); do
        [[ $(cat "/proc/$child/comm" 2>/dev/null) != systemd ]] || leader=$child
    done
    [[ -z $leader ]] || break
    sleep 0.1
done
[[ -n $leader ]] || fail "the container did not boot: $(tail -n5 "$work/boot.log")"
in_ct() { nsenter -t "$leader" -a "$@"; }
state=
for _ in $(seq 120); do
    state=$(in_ct systemctl is-system-running 2>/dev/null) || true
    [[ $state != running && $state != degraded ]] || break
    sleep 0.5
done
[[ $state == running || $state == degraded ]] || fail "the container's systemd is $state: $(tail -n5 "$work/boot.log")"
echo "== systemd $(in_ct systemctl --version | head -n1 | cut -d' ' -f2) as PID 1 in the container ($state)"

show() { in_ct systemctl show dinoedge -p "$1" --value; }
in_ct systemctl start dinoedge || fail "systemctl start dinoedge failed"
pid=$(show MainPID)
echo "started (READY=1 received): $(show ActiveState)/$(show SubState), pid $pid"

for _ in $(seq 60); do
    grep -q '"type":"start"' "$work/messages" && break
    sleep 1
done
grep -q 'dinoedge/nspawn/events .*"type":"start"' "$work/messages" || fail "no alarm reached the MQTT subscriber"
echo "MQTT: $(grep -c '"type":"start"' "$work/messages") alarm start(s), e.g. $(grep -m1 '"type":"start"' "$work/messages" | cut -c1-160)…"

in_ct systemctl reload dinoedge
sleep 65 # two watchdog intervals
[[ $(show MainPID) == "$pid" && $(show NRestarts) == 0 && $(show ActiveState) == active ]] ||
    fail "after 65 s: pid $(show MainPID) (was $pid), $(show NRestarts) restarts, $(show ActiveState)"
in_ct journalctl --no-pager -u dinoedge | grep -q 'SIGHUP' || fail "the journal has no line of the reload"
echo "after 65 s: the same process, no restart, watchdog $(show WatchdogUSec), status \"$(show StatusText)\"; the journal has $(in_ct journalctl --no-pager -u dinoedge -o cat | wc -l) lines, the reload among them"
in_ct journalctl --no-pager -u dinoedge -o cat | grep -iE 'operation not permitted|permission denied|EPERM' && fail "the sandbox refused a call"

in_ct systemctl stop dinoedge
[[ $(show Result) == success ]] || fail "stop: $(show Result)"
echo "stopped: $(show Result)"

echo 'device_id = "nspawn"' >"$root/etc/dinoedge/dinoedge.toml" # no [model]: a config error
in_ct systemctl start dinoedge 2>/dev/null && fail "a broken config started"
sleep 6 # RestartSec=2: a restart would have happened
[[ $(show ExecMainStatus) == 78 && $(show NRestarts) == 0 ]] ||
    fail "a broken config: exit $(show ExecMainStatus), $(show NRestarts) restarts"
echo "a broken config: exit 78, $(show Result), not restarted"
echo "service check: ok"
