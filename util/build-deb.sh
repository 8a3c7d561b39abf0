#!/bin/sh
# make deb: the Debian package libnginx-mod-http-woportal, built the way
# Debian builds its own libnginx-mod-* (debian/: dh with nginx-dev's nginx
# sequence), from a copy of the sources under <build dir>, so that nothing
# is written into the tree.
#
#   util/build-deb.sh <build dir>
#
# The package's version is the module's (src/ngx_http_woportal_version.h)
# with Debian revision 1; debian/changelog is written here from it.  The
# .deb is left in <build dir>, and rebuilt only when a source is newer.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$1"
build=$(cd "$1" && pwd)

version=$(sed -n 's/^#define  *NGX_HTTP_WOPORTAL_VERSION  *"\(.*\)"/\1/p' \
          "$top/src/ngx_http_woportal_version.h")
[ -n "$version" ] || {
    echo "$0: no version in src/ngx_http_woportal_version.h" >&2
    exit 1
}

package=libnginx-mod-http-woportal
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$build/${package}_$version-1_$arch.deb
files="config ngx_http_woportal_module.c src sql contract/openapi.yaml
       util/openapi-c.pl conf LICENSE CHANGES README.md debian"

if [ -f "$deb" ] && [ -z "$(cd "$top" && find $files -newer "$deb")" ]; then
    echo "$deb"
    exit 0
fi

src=$build/$package-$version
rm -rf "$src" "$build"/*.deb "$build"/*.buildinfo "$build"/*.changes
mkdir -p "$src"
(cd "$top" && tar -cf - $files) | (cd "$src" && tar -xf -)

cat > "$src/debian/changelog" <<CHANGELOG
$package ($version-1) unstable; urgency=medium

  * ngx_http_woportal_module $version (see CHANGES).

 -- ngx_http_woportal_module authors <woportal@localhost>  $(date -R)
CHANGELOG

(
    cd "$src"
    DEB_BUILD_OPTIONS="parallel=$(nproc) ${DEB_BUILD_OPTIONS:-}" \
        dpkg-buildpackage -b -us -uc
) > "$build/build.log" 2>&1 || {
    tail -40 "$build/build.log" >&2
    exit 1
}

mv "$build/${package}_$version-1_$arch.deb" "$deb" 2>/dev/null || true
rm -rf "$src" "$build"/*-dbgsym_*.deb
[ -f "$deb" ] || {
    echo "$0: dpkg-buildpackage made no $deb" >&2
    exit 1
}
echo "$deb"
