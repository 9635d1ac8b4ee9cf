# shellcheck shell=bash
# Debian packages for the test command and the cross scripts (sourced, not run).
#
#   need_packages PACKAGE...   installs those of the packages that are not installed: with apt
#                              when run as root, else it names them and fails.

need_packages() {
    local missing=() package
    for package; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || missing+=("$package")
    done
    ((${#missing[@]})) || return 0
    if [[ $(id -u) == 0 ]]; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
    else
        echo "$0: please install (Debian/Ubuntu packages): ${missing[*]}" >&2
        exit 1
    fi
}
