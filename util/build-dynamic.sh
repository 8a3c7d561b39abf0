#!/bin/bash
# Builds the module as a dynamic module for Debian's packaged nginx.
#
#   util/build-dynamic.sh <build dir>
#
# Only against /usr/share/nginx/src (package nginx-dev): Debian patches
# nginx's core structures, so a .so built from the pristine tarball loads
# but reads the wrong fields.  This is the recipe of Debian's own module
# packages; nothing is written into /usr/share/nginx/src.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
build=$(cd "$1" && pwd)
ngx=/usr/share/nginx/src

if [ ! -f "$ngx/conf_flags" ]; then
    echo "$0: $ngx is missing: install nginx-dev" >&2
    exit 1
fi

stamp=$build/.configured
if [ ! -f "$build/Makefile" ] || [ "$top/config" -nt "$stamp" ] \
        || [ -n "$(find "$top/sql" -name '*.sql' -newer "$stamp")" ] \
        || [ -n "$(find "$top/contract/openapi.yaml" "$top/util/openapi-c.pl" -newer "$stamp")" ]; then
    (
        cd "$ngx"
        . ./conf_flags
        ./configure \
            --with-cc-opt="$(dpkg-buildflags --get CFLAGS) -fPIC $(dpkg-buildflags --get CPPFLAGS)" \
            --with-ld-opt="$(dpkg-buildflags --get LDFLAGS) -fPIC" \
            "${NGX_CONF_FLAGS[@]}" \
            --add-dynamic-module="$top" --builddir="$build"
    ) > "$build/configure.log" 2>&1 || {
        tail -30 "$build/configure.log" >&2
        exit 1
    }
    touch "$stamp"
fi

make -f "$build/Makefile" -C "$ngx" -s modules > "$build/make.log" 2>&1 || {
    grep -E "error|Error" "$build/make.log" | head -40 >&2
    exit 1
}

echo "built $build/ngx_http_woportal_module.so"
