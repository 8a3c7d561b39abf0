#!/bin/sh
# Runs the fuzzers that fuzz/build.sh built, one after the other, each for
# <seconds>; fails if any finds a crash.
#
#   fuzz/run.sh <seconds> [decode|stored|query|route|index|mc ...]
#
# <seconds> 0 only replays the seed corpora (a regression run).
#
# Each fuzzer reads the seeds of fuzz/corpus/<target>/ (kept in git) and
# grows a working corpus in build/fuzz/corpus/<target>/ (never committed;
# later runs start from it).  A crash, leak or timeout is saved by libFuzzer
# in build/fuzz/artifacts/<target>/ and copied to fuzz/corpus/<target>/ as
# a regression seed (commit it with the fix), and the run fails showing
# the sanitizer's report.  Logs: build/fuzz/logs/<target>.log; one line
# per run is appended to build/fuzz/runs.log.
#
# Environment: FUZZ_TARGETS (the targets when none is named; default all
# six), FUZZ_BUILD (default build/fuzz), ASAN_OPTIONS, UBSAN_OPTIONS,
# FUZZ_ARGS (more libFuzzer flags, e.g. -jobs=2).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${FUZZ_BUILD:-$top/build/fuzz}" && pwd)
seconds=${1:-60}
shift || true
targets=${*:-${FUZZ_TARGETS:-decode stored query route index mc}}

failed=""

for t in $targets; do
    case $t in
    decode) max_len=70000; dict=json.dict ;;   # 64k bodies, the mode byte
    stored) max_len=70000; dict=json.dict ;;
    query)  max_len=8192;  dict=query.dict ;;  # nginx's request line limit
    route)  max_len=4096;  dict=route.dict ;;
    index)  max_len=70000; dict=index.dict ;;
    mc)     max_len=70000; dict=mc.dict ;;     # answers, pipelined
    *) echo "$0: unknown target $t" >&2; exit 2 ;;
    esac

    bin=$build/bin/fuzz_$t
    seeds=$top/fuzz/corpus/$t
    work=$build/corpus/$t
    artifacts=$build/artifacts/$t
    log=$build/logs/$t.log

    if [ ! -x "$bin" ]; then
        echo "$0: $bin missing: run fuzz/build.sh" >&2
        exit 2
    fi
    mkdir -p "$work" "$artifacts" "$build/logs"
    stamp=$build/logs/$t.started
    touch "$stamp"

    if [ "$seconds" = 0 ]; then
        set -- -runs=0 "$seeds"
    else
        set -- -max_total_time="$seconds" -max_len=$max_len \
            -dict="$top/fuzz/$dict" "$work" "$seeds"
    fi

    rc=0
    # -timeout: an input that takes 10 s is a hang; -rss_limit_mb: the
    # machine is shared
    "$bin" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        -artifact_prefix="$artifacts/" ${FUZZ_ARGS:-} "$@" \
        >"$log" 2>&1 || rc=$?

    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corpus=$(ls "$work" | wc -l)
    status="ok"

    if [ $rc != 0 ]; then
        status="FAILED (exit $rc)"
        failed="$failed $t"
        echo "---- fuzz_$t: $log" >&2
        grep -v '^#[0-9]' "$log" | tail -80 >&2
        for a in $(find "$artifacts" -type f -newer "$stamp"); do
            cp "$a" "$seeds/"
            echo "regression seed: fuzz/corpus/$t/$(basename "$a")" >&2
        done
    fi

    echo "fuzz_$t: ${execs:-?} runs in ${seconds} s, working corpus" \
         "$corpus inputs, $status"
    echo "$(date -u +%FT%TZ) fuzz_$t seconds=$seconds execs=${execs:-?}" \
         "corpus=$corpus $status" >>"$build/runs.log"
done

if [ -n "$failed" ]; then
    echo "fuzzers that failed:$failed" >&2
    exit 1
fi
