#!/usr/bin/env bash
# Runs one coverage-guided fuzz target of tests/fuzz/ (cargo-fuzz, libFuzzer) for a while,
# from its committed corpus and its seeds, then merges what it found into the smallest
# corpus with the same coverage. A corpus is committed as one archive,
# tests/fuzz/corpus/TARGET.tar.xz: its inputs are mostly near copies of a seed (the weight and
# model files are 30 to 160 KB of random floats each), which xz's window stores once. Needs
# the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`); not part of the test
# command, whose stable mutation run (tests/fuzz_readers.rs) reads through the same readers.
#
#   bash tools/fuzz.sh TARGET [SECONDS]     (default 1800; targets: tests/fuzz/Cargo.toml)
#
# A finding (a panic, a timeout over 30 s, more than 2 GiB) stops the run with the input kept
# in tests/fuzz/artifacts/TARGET/; the run's log, with libFuzzer's final statistics, is
# $FUZZ_LOGS/TARGET.log (default target/fuzz-logs).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?a target: config calibration outbox image safetensors pth onnx points}
seconds=${2:-1800}
root=$PWD
logs=${FUZZ_LOGS:-$root/target/fuzz-logs}
archive=tests/fuzz/corpus/$target.tar.xz
mkdir -p "$logs" tests/fuzz/corpus
scratch=$(mktemp -d "${TMPDIR:-/tmp}/dinoedge-fuzz-$target.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# The seeds: files each reader reads without error (the stable run's seeds too).
seeds=$scratch/seeds
mkdir -p "$seeds"
case $target in
    config) cp config/examples/*.toml "$seeds/" ;;
    calibration | outbox | points) cp "tests/fuzz/seeds/$target"/* "$seeds/" ;;
    image) cp heads/tests/fixtures/middlebury-motorcycle/depth/motorcycle.png "$seeds/" ;;
    safetensors) cp backbone/tests/fixtures/parity/dinov2/io_42x56.safetensors "$seeds/" ;;
    pth) cp heads/tests/fixtures/published/dinov2_nyu_linear_head.pth "$seeds/" ;;
    onnx)
        # The tiny DINOv2 of the parity fixtures as `model import` writes it (the stable run's
        # seed), by $DINOEDGE (a built dinoedge) or cargo run.
        ${DINOEDGE:-cargo run --quiet --} model import --weights backbone/tests/fixtures/parity/dinov2/model.safetensors \
            --input 42x56 --blocks 1,2 --out "$seeds/backbone.onnx"
        ;;
    *) echo "fuzz.sh: no target \`$target\` (see tests/fuzz/Cargo.toml)" >&2; exit 64 ;;
esac

# Inputs are written to files for the readers: on a RAM disk when there is one.
export TMPDIR=$scratch
if [ -d /dev/shm ] && [ -w /dev/shm ]; then TMPDIR=$(mktemp -d /dev/shm/dinoedge-fuzz.XXXXXX); fi
ram=$TMPDIR
trap 'rm -rf "$scratch" "$ram"' EXIT

corpus=$scratch/corpus found=$scratch/found
mkdir -p "$corpus" "$found"
if [ -f "$archive" ]; then tar -xJf "$archive" -C "$corpus"; fi
status=0
cargo +nightly fuzz run --fuzz-dir tests/fuzz "$target" "$found" "$corpus" "$seeds" -- \
    -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    2>&1 | tee "$logs/$target.log" || status=$?

# The committed corpus becomes the smallest set of inputs with all the coverage found.
merged=$scratch/merged
mkdir -p "$merged"
cargo +nightly fuzz run --fuzz-dir tests/fuzz "$target" "$merged" "$corpus" "$found" "$seeds" -- \
    -merge=1 -timeout=30 -rss_limit_mb=2048 2>&1 | tail -3 | tee -a "$logs/$target.log"
# The same inputs give the same bytes: names sorted, no times or owners.
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$merged" -cf - . | xz -9e -T1 > "$archive.part"
mv "$archive.part" "$archive"
echo "fuzz.sh: $target: $(find "$merged" -type f | wc -l) inputs in the corpus, $(du -sh "$merged" | cut -f1), $(du -h "$archive" | cut -f1) packed"
exit "$status"
