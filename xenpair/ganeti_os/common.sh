# shellcheck shell=sh
# What the OS definition's scripts share.

say() { echo "xenpair-os: $*"; }
die() { echo "xenpair-os: $*" >&2; exit 1; }

# 198.51.100.0/24 -> 255.255.255.0
netmask() {
    bits=${1#*/}
    case $bits in ''|*[!0-9]*) die "no prefix length in $1" ;; esac
    [ "$bits" -le 32 ] || die "bad prefix length in $1"
    mask="" i=0
    while [ $i -lt 4 ]; do
        if [ "$bits" -ge 8 ]; then o=255; bits=$((bits - 8))
        else o=$((256 - (1 << (8 - bits)))); [ "$bits" -gt 0 ] || o=0; bits=0; fi
        mask="$mask${mask:+.}$o"
        i=$((i + 1))
    done
    echo "$mask"
}

# run "$@" with the XENPAIR_NAME=base64(value) lines of FILE in its environment (only XENPAIR_*
# names: the file comes from an OS parameter)
run_with_env() {
    file=$1
    shift
    (
        while IFS= read -r line; do
            name=${line%%=*}
            case $name in XENPAIR_*) ;; *) die "role_env: $name is not a XENPAIR_ variable" ;; esac
            case $name in *[!A-Z0-9_]*) die "role_env: bad name $name" ;; esac
            value=$(printf '%s' "${line#*=}" | base64 -d) || die "role_env: $name is not base64"
            export "$name=$value"
        done <"$file"
        exec "$@"
    )
}
