#!/bin/sh
# Builds the libFuzzer harnesses of fuzz/ into <build dir>/bin (default
# build/fuzz/bin): fuzz_decode, fuzz_stored, fuzz_query, fuzz_route,
# fuzz_index, fuzz_mc.
#
#   fuzz/build.sh [build dir]
#
# How the harnesses are linked
#
# The module's files call into nginx (pools, arrays, strings, time, logs)
# and the module's objects as a whole reference nginx's http and event
# code, its module list and libmemcached.  Rather than pick the objects
# those functions happen to need today (and break whenever the module
# grows a new call into nginx), the harnesses link the whole of nginx,
# exactly as nginx's own Makefile links objs/nginx, with one change:
# src/core/nginx.o has its main() renamed (objcopy), so that libFuzzer's
# main() runs.  Nothing is stubbed; the object and library list is read
# from the link command of objs/Makefile, so new module files and new
# libraries are picked up by themselves.
#
# nginx itself is configured and built by util/build-nginx.sh, in its own
# tree (<build dir>/nginx-1.22.1), with clang and:
#   -fsanitize=address,undefined        the sanitizers, everywhere (UBSan
#                                       halts on a report, except for
#                                       fuzz/ubsan.supp: fuzz/fuzz.h)
#   -fsanitize=fuzzer-no-link           coverage for libFuzzer
#   -DNGX_DEBUG_PALLOC=1                every pool allocation is its own
#                                       malloc(), so ASan sees its bounds
#                                       (nginx's switch for memory checkers)
#   -Wno-string-concatenation           (below)
#
# Needs clang and libFuzzer: Debian 12's clang (14) and libclang-rt-14-dev,
# installed here when missing.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build/fuzz}
mkdir -p "$build"
build=$(cd "$build" && pwd)

SANITIZE="-fsanitize=address,undefined"
CFLAGS="-g -O1 -fno-omit-frame-pointer $SANITIZE -fsanitize=fuzzer-no-link"
CFLAGS="$CFLAGS -DNGX_DEBUG_PALLOC=1"
# nginx builds with -Werror; clang's heuristic against a missing comma
# between string literals fires on the SQL statements split over lines
CFLAGS="$CFLAGS -Wno-string-concatenation"

"$top/fuzz/deps-clang.sh"

# nginx and the module, instrumented; only what changed is rebuilt
"$top/util/build-nginx.sh" "$build" --with-cc=clang \
    --with-cc-opt="$CFLAGS" --with-ld-opt="$SANITIZE" >/dev/null

src=$build/nginx-1.22.1
mkdir -p "$build/bin" "$build/obj"

# the include path nginx's Makefile compiles the module with
incs=$(make -s -C "$src" -f objs/Makefile --no-print-directory \
           --eval 'fuzz-print-incs: ; @echo $(ALL_INCS)' fuzz-print-incs)

# objs/nginx's link command: every object, the ld options and libraries
link=$(awk '/\$\(LINK\) -o objs\/nginx/ { on = 1; next }
            on && /^[ \t]*$/ { exit }
            on { gsub(/\\/, ""); print }' "$src/objs/Makefile")

objs=""
for word in $link; do
    case $word in
    objs/src/core/nginx.o)
        objcopy --redefine-sym main=ngx_fuzz_nginx_main \
            "$src/$word" "$build/obj/nginx-nomain.o"
        objs="$objs $build/obj/nginx-nomain.o" ;;
    *.o) objs="$objs $src/$word" ;;
    *) objs="$objs $word" ;;
    esac
done

for harness in decode stored query route index mc; do
    (cd "$src" && clang -c $CFLAGS -W -Wall -Werror -Wno-unused-parameter \
        $incs -I "$top/fuzz" -DFUZZ_UBSAN_SUPP="\"$top/fuzz/ubsan.supp\"" \
        -o "$build/obj/fuzz_$harness.o" "$top/fuzz/fuzz_$harness.c")
    clang -fsanitize=fuzzer $SANITIZE -o "$build/bin/fuzz_$harness" \
        "$build/obj/fuzz_$harness.o" $objs
done

echo "built in $build/bin: fuzz_decode fuzz_stored fuzz_query fuzz_route" \
     "fuzz_index fuzz_mc"
