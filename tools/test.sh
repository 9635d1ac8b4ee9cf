#!/usr/bin/env bash
# Runs every dinoedge test: formatting, lints, unit, parity and end-to-end tests.
# Installs what the tests need where it is missing (ONNX Runtime for the tract-vs-ORT
# parity test, in a Python venv under the cache; with apt, as root: ffmpeg for the clip and
# ffmpeg-source tests, mosquitto, the real MQTT broker of the daemon tests).
set -euo pipefail
cd "$(dirname "$0")/.."

cache="${XDG_CACHE_HOME:-$HOME/.cache}/dinoedge"

# System packages the tests use.
missing=()
command -v python3 >/dev/null || missing+=(python3)
python3 -c "import venv, ensurepip" 2>/dev/null || missing+=(python3-venv)
command -v ffmpeg >/dev/null || missing+=(ffmpeg)
command -v mosquitto >/dev/null || [[ -x /usr/sbin/mosquitto ]] || missing+=(mosquitto)
if ((${#missing[@]})); then
    if [[ $(id -u) == 0 ]]; then
        apt-get update -qq && apt-get install -y -qq "${missing[@]}"
    else
        echo "test.sh: please install: ${missing[*]}" >&2
        exit 1
    fi
fi

# ONNX Runtime (PyPI) for the test that compares tract with it; never needed at run time.
venv="${DINOEDGE_TOOLS_VENV:-$cache/tools-venv}"
if ! "$venv/bin/python" -c "import onnxruntime, numpy" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q onnxruntime numpy
fi
export DINOEDGE_ORT_PYTHON="$venv/bin/python"

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked --no-fail-fast
