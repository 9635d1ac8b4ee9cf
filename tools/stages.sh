# shellcheck shell=bash
# Timed stages for a long script (sourced, not run), so that a slow stage shows in the log:
#
#   stage NAME   ends the stage before (printing its time) and starts stage NAME.
#
# Each stage's time comes with how busy the machine's cores were meanwhile (from /proc/stat,
# so whatever else runs on the machine counts too): a stage at "2.0 of 2 cores" is bound by
# the CPU, one well under it waits on something else, and what runs in the background could
# use the rest. When the script exits, the last stage ends too, and a table of every stage's
# time is printed, with the total, marking the stage the script failed in. Stages are marks,
# not wrappers: the commands of a stage run in the script itself, under its own `set -e`.

_stage_names=()
_stage_times=()
_stage_loads=()
_stage_name=
_stage_start=
_stage_ticks=
_stage_cores=$(nproc)

# The machine's busy and total CPU ticks since boot, as "BUSY TOTAL".
_stage_cpu_ticks() {
    local _cpu user nice system idle iowait irq softirq steal _rest
    read -r _cpu user nice system idle iowait irq softirq steal _rest </proc/stat
    local busy=$((user + nice + system + irq + softirq + steal))
    echo "$busy $((busy + idle + iowait))"
}

# How many cores were busy on average since the ticks given, e.g. "1.9 of 2 cores".
# Usage: _stage_load "BUSY TOTAL"
_stage_load() {
    local before_busy before_total now_busy now_total
    read -r before_busy before_total <<<"$1"
    read -r now_busy now_total < <(_stage_cpu_ticks)
    local total=$((now_total - before_total)) tenths=0
    ((total == 0)) || tenths=$((((now_busy - before_busy) * _stage_cores * 20 / total + 1) / 2))
    printf '%d.%d of %d cores' $((tenths / 10)) $((tenths % 10)) "$_stage_cores"
}

_stage_end() {
    [[ -n $_stage_name ]] || return 0
    local took=$((SECONDS - _stage_start)) load
    load=$(_stage_load "$_stage_ticks")
    _stage_names+=("$_stage_name")
    _stage_times+=("$took")
    _stage_loads+=("$load")
    printf '== %s: %s, %s\n' "$_stage_name" "$(_stage_duration "$took")" "$load" >&2
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
            printf '   %-40s %s   %s%s\n' "${_stage_names[i]}" "$(_stage_duration "${_stage_times[i]}")" \
                "${_stage_loads[i]}" "$failed"
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
    _stage_ticks=$(_stage_cpu_ticks)
    echo "== $1" >&2
}
