#!/bin/sh
# Installs the Debian packages of the groups named, and any packages named,
# only those that are missing.  Run as root (or with sudo available).
#
#   util/deps.sh <group or package>...
#
# A build installs no server: the groups build, dynamic and deb are
# compilers, libraries and headers; run and test add the servers they
# start.  nginx-dev (dynamic, deb) depends on Debian's nginx of the same
# version, for the ABI: if its installation starts the system service, it
# is stopped again.
#
#   build    the module compiled into nginx (make, make nginx)
#   dynamic  build, and nginx-dev: the module as a .so for Debian's nginx
#   deb      dynamic, and debhelper: the package (make deb)
#   run      build, and memcached, curl, procps (make run, make stop)
#   test     run, dynamic, PostgreSQL and the test harness's Perl modules
set -eu

build="gcc make libc6-dev dpkg-dev ca-certificates
libpcre2-dev zlib1g-dev libssl-dev libyajl-dev libmemcached-dev libsqlite3-dev libpq-dev
perl libyaml-libyaml-perl"
dynamic="$build nginx-dev"
deb="$dynamic debhelper fakeroot"
run="$build memcached curl procps"
test="$run $dynamic postgresql
libtest-base-perl libtest-longstring-perl liblist-moreutils-perl
libhttp-message-perl libtext-diff-perl libipc-run-perl libdbd-sqlite3-perl"

PACKAGES=""
for a in "$@"; do
    case $a in
        build) PACKAGES="$PACKAGES $build" ;;
        dynamic) PACKAGES="$PACKAGES $dynamic" ;;
        deb) PACKAGES="$PACKAGES $deb" ;;
        run) PACKAGES="$PACKAGES $run" ;;
        test) PACKAGES="$PACKAGES $test" ;;
        *) PACKAGES="$PACKAGES $a" ;;
    esac
done

missing=""
for p in $PACKAGES; do
    case " $missing " in *" $p "*) continue ;; esac
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

# nginx comes with nginx-dev for its binary (the dynamic module's checks,
# the package's test), never as a service: if its package just started
# the system service, stop it again.
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
