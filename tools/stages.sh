# shellcheck shell=bash
# Timed stages for a long script (sourced, not run), so that a slow stage shows in the log:
#
#   stage NAME   ends the stage before (printing its time) and starts stage NAME.
#
# When the script exits, the last stage ends too, and a table of every stage's time is
# printed, with the total, marking the stage the script failed in. Stages are marks, not
# wrappers: the commands of a stage run in the script itself, under its own `set -e`.

_stage_names=()
_stage_times=()
_stage_name=
_stage_start=

_stage_end() {
    [[ -n $_stage_name ]] || return 0
    local took=$((SECONDS - _stage_start))
    _stage_names+=("$_stage_name")
    _stage_times+=("$took")
    printf '== %s: %s\n' "$_stage_name" "$(_stage_duration "$took")" >&2
    _stage_name=
}

_stage_duration() {
    printf '%d min %02d s' $(($1 / 60)) $(($1 % 60))
}

_stage_summary() {
    local status=$? i total=0 failed=
    _stage_end
    ((${#_stage_names[@]})) || return "$status"
    {
        echo "== stage times"
        for i in "${!_stage_names[@]}"; do
            total=$((total + _stage_times[i]))
            failed=
            ((status == 0 || i < ${#_stage_names[@]} - 1)) || failed="   FAILED (exit $status)"
            printf '   %-40s %s%s\n' "${_stage_names[i]}" "$(_stage_duration "${_stage_times[i]}")" "$failed"
        done
        printf '   %-40s %s\n' "total" "$(_stage_duration "$total")"
    } >&2
    return "$status"
}
trap _stage_summary EXIT

stage() {
    _stage_end
    _stage_name=$1
    _stage_start=$SECONDS
    echo "== $1" >&2
}
