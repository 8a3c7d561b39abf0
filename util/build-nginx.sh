#!/bin/sh
# Builds nginx from Debian's source package with this module compiled in.
#
#   util/build-nginx.sh <build dir> [extra ./configure arguments...]
#
# The nginx source comes from `apt-get source` with a private apt
# configuration (deb-src lines for bookworm and bookworm-security), so the
# system's apt configuration is never touched.  Only the upstream tarball
# inside the source package is used, checked against its known sha256.
set -eu

NGINX_VERSION=1.22.1
NGINX_SHA256=9ebb333a9e82b952acd3e2b4aeb1d4ff6406f72491bab6cd9fe69f0dea737f31

top=$(cd "$(dirname "$0")/.." && pwd)
build=$1
shift

mkdir -p "$build"
build=$(cd "$build" && pwd)
src=$build/nginx-$NGINX_VERSION
tarball=$top/build/src/nginx_$NGINX_VERSION.orig.tar.gz

if [ ! -f "$tarball" ]; then
    apt_dir=$top/build/apt
    mkdir -p "$apt_dir/lists/partial" "$top/build/src"
    cat > "$apt_dir/sources.list" <<SOURCES
deb-src http://deb.debian.org/debian bookworm main
deb-src http://deb.debian.org/debian-security bookworm-security main
SOURCES
    opts="-o Dir::Etc::SourceList=$apt_dir/sources.list
          -o Dir::Etc::SourceParts=- -o Dir::State::Lists=$apt_dir/lists
          -o Debug::NoDropPrivs=true -o APT::Sandbox::User=root"
    apt-get $opts -q update >/dev/null
    # the .dsc of a security update may 404 while the tarball downloads:
    # the tarball is all that is needed
    (cd "$top/build/src" && apt-get $opts -q source --download-only nginx \
        >/dev/null 2>&1) || true
    if [ ! -f "$tarball" ]; then
        echo "$0: apt-get source nginx did not fetch $tarball" >&2
        exit 1
    fi
fi

echo "$NGINX_SHA256  $tarball" | sha256sum -c --quiet - || {
    echo "$0: $tarball has the wrong sha256" >&2
    rm -f "$tarball"
    exit 1
}

# configure again when the arguments, the addon script (and so the list of
# sources) or the SQL schemas it compiles in change; otherwise make
# rebuilds only what changed (the contract is compiled in at configure
# time too)
stamp="--with-threads --with-http_ssl_module --add-module=$top $*"
if [ ! -f "$src/objs/Makefile" ] || [ "$(cat "$src/.woportal-configure" 2>/dev/null)" != "$stamp" ] \
        || [ "$top/config" -nt "$src/objs/Makefile" ] \
        || [ -n "$(find "$top/sql" -name '*.sql' -newer "$src/objs/Makefile")" ] \
        || [ -n "$(find "$top/contract/openapi.yaml" "$top/util/openapi-c.pl" -newer "$src/objs/Makefile")" ]; then
    rm -rf "$src"
    tar -xzf "$tarball" -C "$build"
    (cd "$src" && ./configure --prefix="$build/prefix" --with-threads \
        --with-http_ssl_module \
        --add-module="$top" "$@" > "$build/configure.log" 2>&1) || {
        tail -30 "$build/configure.log" >&2
        exit 1
    }
    echo "$stamp" > "$src/.woportal-configure"
fi

make -C "$src" -j"$(nproc)" -s >"$build/make.log" 2>&1 || {
    grep -E "error|Error" "$build/make.log" | head -40 >&2
    exit 1
}

echo "$src/objs/nginx"
