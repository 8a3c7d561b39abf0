#!/bin/sh
# Installs the Debian packages the build, `make run` and `make test` need,
# and any given as arguments, only those that are missing.  Run as root (or
# with sudo available).
#
#   util/deps.sh [more packages...]
set -eu

PACKAGES="gcc make libc6-dev dpkg-dev curl ca-certificates procps
libpcre2-dev zlib1g-dev libssl-dev libyajl-dev libmemcached-dev libsqlite3-dev libpq-dev
memcached postgresql
nginx-dev nginx
libtest-base-perl libtest-longstring-perl liblist-moreutils-perl
libhttp-message-perl libtext-diff-perl libipc-run-perl libyaml-libyaml-perl
libdbd-sqlite3-perl $*"

missing=""
for p in $PACKAGES; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null \
            | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done

[ -z "$missing" ] && exit 0

echo "installing:$missing"

SUDO=""
if [ "$(id -u)" != 0 ]; then
    SUDO=sudo
fi

had_nginx_service=no
if pidof nginx >/dev/null 2>&1; then
    had_nginx_service=yes
fi

had_postgres=no
if pidof postgres >/dev/null 2>&1; then
    had_postgres=yes
fi

$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
    --no-install-recommends $missing

# the nginx package is only here for its binary (the dynamic module check): if
# its package just started the system service, stop it again.
if [ $had_nginx_service = no ] && [ -f /run/nginx.pid ]; then
    $SUDO kill -QUIT "$(cat /run/nginx.pid)" 2>/dev/null || true
fi

# likewise postgresql: its binaries serve the tests' own private cluster;
# a default cluster the package started is stopped again
if [ $had_postgres = no ] && command -v pg_lsclusters >/dev/null; then
    pg_lsclusters -h 2>/dev/null | while read -r ver name _ status _; do
        if [ "$status" = online ]; then
            $SUDO pg_ctlcluster "$ver" "$name" stop || true
        fi
    done
fi
