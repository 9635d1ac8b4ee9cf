#!/usr/bin/env bash
# Clippy inside the amd64 release build (cargo's RUSTC_WORKSPACE_WRAPPER, set by cross/env.sh):
# each compilation of a workspace crate is first checked by clippy-driver with `-D warnings`
# (metadata only, written to a scratch folder), then compiled by rustc exactly as cargo asked.
# A lint fails the build; the binaries are rustc's own (clippy-driver turns MIR optimisations
# off, so it must not make what ships). `cargo clippy` instead checks every dependency once
# more (a fourth compilation of the tree, minutes on CI); here clippy reads the dependencies'
# rlibs that the build has just made.
#
# Usage (by cargo): lint-and-compile.sh RUSTC ARG...
set -euo pipefail
rustc=$1
shift

# cargo's queries of the compiler (`-vV`, `--print …`) and anything without a crate to check
# go straight to rustc.
if [[ " $* " != *" --crate-name "* || " $* " == *" --print"* ]]; then
    exec "$rustc" "$@"
fi

original=("$@")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
args=()
while (($#)); do
    case "$1" in
        --emit=*) args+=(--emit=metadata) ;;
        --out-dir) args+=(--out-dir "$scratch"); shift ;;
        --out-dir=*) args+=("--out-dir=$scratch") ;;
        # No artifact notice: cargo would take the scratch metadata for the crate's own and
        # start its dependents on it.
        --json=*)
            IFS=, read -ra kinds <<<"${1#--json=}"
            kept=()
            for kind in "${kinds[@]}"; do
                [[ $kind == artifacts ]] || kept+=("$kind")
            done
            ((${#kept[@]} == 0)) || args+=("--json=$(IFS=,; echo "${kept[*]}")")
            ;;
        *) args+=("$1") ;;
    esac
    shift
done
clippy-driver "$rustc" "${args[@]}" -D warnings
rm -rf "$scratch"
trap - EXIT
exec "$rustc" "${original[@]}"
