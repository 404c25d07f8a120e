# shellcheck shell=sh
# Sourced by xenpair's role scripts (not a role itself). xen-create-image runs a role with
# $1 = the guest's mounted root and, besides xen-tools' own variables (hostname, ip1, ...),
# the XENPAIR_* variables xenpair puts in its environment; values never appear in script text.
# Needs: role=<name> set by the caller.

if [ -e /usr/share/xen-tools/common.sh ]; then
    # shellcheck source=/dev/null
    . /usr/share/xen-tools/common.sh
fi

: "${role:?set role before sourcing xenpair-lib.sh}"
say() { echo "xenpair-$role: $*"; }
fail() { echo "xenpair-$role: ERROR: $*" >&2; exit 1; }

# install_packages ROOT PKG...: xen-tools' installDebianPackage (no Recommends, daemons kept
# from starting), then check dpkg: installDebianPackage pipes apt-get into sed, so a failed
# install would otherwise look like success.
install_packages() {
    root=$1; shift
    [ $# -gt 0 ] || return 0
    say "installing $*"
    set +u      # common.sh reads $LINENO, which dash leaves unset
    installDebianPackage "$root" "$@"
    set -u
    missing=""
    for p in "$@"; do
        # shellcheck disable=SC2016  # ${Status} is dpkg-query's field, not the shell's
        chroot "$root" dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' \
            || missing="$missing $p"
    done
    [ -z "$missing" ] || fail "not installed:$missing (the apt output is above in this log)"
}

# set_line FILE REGEX LINE: replace the first line matching REGEX (ERE) with LINE, or append LINE.
# Through ENVIRON, not awk -v (which would interpret backslashes); the file keeps owner and mode.
set_line() {
    [ -f "$1" ] || : >"$1"
    RE=$2 LINE=$3 awk '
        !done && $0 ~ ENVIRON["RE"] { print ENVIRON["LINE"]; done = 1; next }
        { print }
        END { if (!done) print ENVIRON["LINE"] }' "$1" >"$1.xenpair"
    cat "$1.xenpair" >"$1"
    rm -f "$1.xenpair"
}
