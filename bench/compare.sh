#!/bin/bash
# Compare nginx builds on the operations on one entry, interleaved, so
# that the load other processes put on a shared machine falls on all of
# them alike.
#
#   bench/compare.sh <nginx A> [<nginx B> ...]
#
# One memcached.  Each build has a key prefix of its own (its own entries,
# so that a build that stores entries differently never reads another's,
# and a build's writes never grow the entries another one measures) and
# seeds it once, through its own API: BENCH_COMPARE_SEED entries to GET,
# as many to PUT and PATCH, and, for the history op, as many whose
# status_history has 50 items.  Then BENCH_COMPARE_ROUNDS rounds, in each
# of which every build in turn is started (with the bench's
# configuration) and measured, BENCH_DURATION seconds a run: the two
# ceilings (return 200 driven by the Lua request() and by a static
# request), then the operations of BENCH_COMPARE_OPS:
#
#   get       GET /{id} (fresh entries)
#   history   GET /{id} of entries with 50 status_history items
#   put       PUT /{id}
#   status    PATCH /{id}/status (pending and in_progress in turn)
#   post      POST / (against the static ceiling; the others against the
#             Lua one)
#
# For every run: req/s, the ratio to the build's own ceiling of the same
# round, and what a request cost the nginx workers and, apart, memcached:
# CPU µs (utime + stime of /proc/<pid>/stat, every thread) and context
# switches, voluntary and involuntary (summed over /proc/<pid>/task/*/status:
# the thread pool's threads count), over the requests wrk counted.  At the
# end the medians over the rounds, per build and operation, as a table
# (also in build/bench/compare/report.md).
#
# Environment: BENCH_PORT (18500), BENCH_MEMCACHED_PORT (21500),
# BENCH_DURATION (3), BENCH_COMPARE_ROUNDS (3), BENCH_COMPARE_OPS
# ("get history put status post"), BENCH_COMPARE_THREADS (the pool's
# threads, 16), BENCH_CONNECTIONS (64), BENCH_COMPARE_SEED (2000).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bench=$top/bench
. "$bench/procstat.sh"
dir=$top/build/bench/compare
[ $# -ge 1 ] || { echo "usage: $0 <nginx> [<nginx>...]" >&2; exit 1; }

PORT=${BENCH_PORT:-18500}
MCPORT=${BENCH_MEMCACHED_PORT:-21500}
DURATION=${BENCH_DURATION:-3}
ROUNDS=${BENCH_COMPARE_ROUNDS:-3}
OPS=${BENCH_COMPARE_OPS:-"get history put status post"}
POOL=${BENCH_COMPARE_THREADS:-16}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
SEED=${BENCH_COMPARE_SEED:-2000}
HISTORY=50
KEY=bench-key
API=/api/v1/workorder-portal
URL=http://127.0.0.1:$PORT
W="-t2 -c$CONNECTIONS -d${DURATION}s --timeout 10s --latency"
H="X-API-Key: $KEY"

die() {
    echo "compare: $*" >&2
    exit 1
}

log() {
    printf '[%3ds] %s\n' "$SECONDS" "$*"
}

listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

for op in $OPS; do
    case $op in
        get|history|put|status|post) ;;
        *) die "unknown operation $op (BENCH_COMPARE_OPS: get history put status post)" ;;
    esac
done
builds=()
for nginx in "$@"; do
    [ -x "$nginx" ] || die "$nginx is not an executable"
    builds+=("$(cd "$(dirname "$nginx")" && pwd)/$(basename "$nginx")")
done
command -v wrk >/dev/null || die "wrk is missing (apt-get install wrk; make bench installs it)"

listening "$PORT" && die "port $PORT is taken: set BENCH_PORT"
listening "$MCPORT" && die "port $MCPORT is taken: set BENCH_MEMCACHED_PORT"

rm -rf "$dir"
mkdir -p "$dir/logs" "$dir/temp" "$dir/ids" "$dir/done" "$dir/wrk"

mc_pid=""
ngx_pid=""
wrk_pid=""

gone() {                    # <pid>: exited (a zombie counts as gone)
    kill -0 "$1" 2>/dev/null || return 0
    case $(ps -o stat= -p "$1" 2>/dev/null) in Z*|"") return 0 ;; esac
    return 1
}

stop_pid() {                # <pid> <signal>
    gone "$1" && return 0
    kill "-$2" "$1" 2>/dev/null || return 0
    for _ in $(seq 100); do
        gone "$1" && return 0
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
    echo "compare: pid $1 did not stop, killed" >&2
}

stop_nginx() {
    [ -n "$ngx_pid" ] || return 0
    stop_pid "$ngx_pid" QUIT
    ngx_pid=""
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    [ -n "$wrk_pid" ] && stop_pid "$wrk_pid" TERM
    stop_nginx
    [ -n "$mc_pid" ] && stop_pid "$mc_pid" TERM
    case $rc in
        0) ;;
        130) echo "compare: interrupted after ${SECONDS}s; stopped what it started" >&2 ;;
        *) echo "compare: failed after ${SECONDS}s; outputs in ${dir#$top/}" >&2 ;;
    esac
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

memcached -d -l 127.0.0.1 -p "$MCPORT" -U 0 -u root -m 1024 -c 4096 \
    -P "$dir/memcached.pid"
for _ in $(seq 100); do
    listening "$MCPORT" && [ -s "$dir/memcached.pid" ] && break
    sleep 0.05
done
mc_pid=$(cat "$dir/memcached.pid" 2>/dev/null) || true
listening "$MCPORT" || die "memcached did not start on 127.0.0.1:$MCPORT"

# a configuration a build: the same but for the key prefix and the logs
conf() {                    # <build number>
    cat > "$dir/nginx-b$1.conf" <<CONF
worker_processes  2;
error_log  logs/error-b$1.log  notice;
pid        logs/nginx.pid;
thread_pool  woportal  threads=$POOL  max_queue=4096;
events { worker_connections  4096; }
http {
    access_log  off;
    keepalive_requests  1000000;
    client_body_temp_path  temp/body;
    proxy_temp_path        temp/proxy;
    fastcgi_temp_path      temp/fastcgi;
    uwsgi_temp_path        temp/uwsgi;
    scgi_temp_path         temp/scgi;
    woportal_memcached          "--SERVER=127.0.0.1:$MCPORT --BINARY-PROTOCOL";
    woportal_memcached_timeout  500ms;
    woportal_thread_pool        woportal;
    woportal_api_key            $KEY;
    server {
        listen  127.0.0.1:$PORT;
        location = /ceiling {
            default_type  application/json;
            return 200 '{"success":true,"data":{"_id":"6b0ad801342bc032b4e99b5d","workorder":"000000000000000000000001","client":"000000000000000000000001","status":"pending","access_level":"comment","allowed_actions":["view","comment"],"expiry_date":"2027-01-31T17:00:00.000Z","notifications":{},"portal_settings":{"theme":"dark"},"custom_branding":{},"company_namespace":["ns-1"],"disabled":false,"status_history":[{"status":"pending","changed_at":"2026-11-28T13:32:49.774Z"}],"created_at":"2026-11-28T13:32:49.774Z","updated_at":"2026-11-28T13:32:49.774Z","version":1}}';
        }
        location = /bench-noop { access_log off; return 204; }
        location $API {
            woportal;
            woportal_key_prefix  "bench:compare:b$1:";
        }
    }
}
CONF
}

start_nginx() {             # <build number>
    local b=$1
    "${builds[$((b - 1))]}" -p "$dir/" -c "$dir/nginx-b$b.conf" \
        -e "$dir/logs/error-b$b.log" \
        || die "build $b (${builds[$((b - 1))]}) did not start: $(tail -3 "$dir/logs/error-b$b.log")"
    for _ in $(seq 100); do
        listening "$PORT" && [ -s "$dir/logs/nginx.pid" ] && break
        sleep 0.05
    done
    ngx_pid=$(cat "$dir/logs/nginx.pid" 2>/dev/null) || true
    [ -n "$ngx_pid" ] && listening "$PORT" \
        || die "build $b did not listen on 127.0.0.1:$PORT"
}

workers() {
    ps -o pid= --ppid "$ngx_pid" | tr -d ' '
}

# wrk in the background, so that a signal reaches the trap at once; its
# output must have the summary line <word> ... of the script's done()
wrk_wait() {                # <word> <output> <wrk arguments...>
    local word=$1 out=$2 rc=0
    shift 2
    wrk "$@" > "$out" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || rc=$?
    wrk_pid=""
    [ $rc = 0 ] || die "wrk failed ($out): $(tail -3 "$out")"
    grep -q "^$word " "$out" || die "no summary in $out: $(tail -3 "$out")"
}

field() {                   # <wrk output> <name>: a value of the BENCH line
    grep '^BENCH ' "$1" | tail -1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

seed() {                    # <ids file>
    BENCH_DONE=$dir/done/seed wrk_wait SEED "$1.wrk" -t2 -c64 -d600s \
        --timeout 10s -H "$H" -s "$bench/seed.lua" "$URL$API" \
        -- "$SEED" 2 "$1"
    cat "$1".part.* > "$1"
    rm -f "$1".part.* "$dir/done/seed".*
    [ "$(wc -l < "$1")" = "$SEED" ] \
        || die "seeding created $(wc -l < "$1") entries, not $SEED: $(tail -3 "$1.wrk")"
}

history() {                 # <ids file>: $HISTORY status_history items each
    BENCH_DONE=$dir/done/history wrk_wait BENCH "$1.history.wrk" -t2 -c64 \
        -d900s --timeout 10s -H "$H" -s "$bench/rotate.lua" "$URL$API" \
        -- history "$1" 2 "$((HISTORY - 1))"
    rm -f "$dir/done/history".*
    ! grep -q '^rotate.lua: ' "$1.history.wrk" \
        || die "status changes refused: $(grep -m1 '^rotate.lua: ' "$1.history.wrk")"
}

case " $OPS " in *" history "*) with_history=1 ;; *) with_history="" ;; esac

for b in $(seq ${#builds[@]}); do
    conf "$b"
    start_nginx "$b"
    seed "$dir/ids/get-b$b"
    seed "$dir/ids/modify-b$b"
    if [ -n "$with_history" ]; then
        seed "$dir/ids/history-b$b"
        history "$dir/ids/history-b$b"
    fi
    log "build $b: seeded $SEED entries to GET, $SEED to change${with_history:+, $SEED with $HISTORY status_history items}"
    stop_nginx
done

# one line a run: build, op, round, req/s, ratio, requests, non-2xx,
# nginx "µs vol invol", memcached "µs vol invol"
RESULTS=$dir/results.tsv
: > "$RESULTS"

measure() {                 # <build> <round> <op> <ceiling req/s or -> <wrk arguments...>
    local b=$1 r=$2 op=$3 c=$4 out n0 m0 n1 m1 rps req ratio ngx mc
    shift 4
    out=$dir/wrk/r$r-b$b-$op.txt
    n0=$(procstat_snap $(workers))
    m0=$(procstat_snap "$mc_pid")
    BENCH_DONE=$dir/done/run wrk_wait BENCH "$out" "$@"
    n1=$(procstat_snap $(workers))
    m1=$(procstat_snap "$mc_pid")
    rps=$(field "$out" rps)
    req=$(field "$out" requests)
    ratio=-
    [ "$c" != - ] && ratio=$(awk -v a="$rps" -v c="$c" 'BEGIN {printf "%.3f", (c > 0 ? a / c : 0)}')
    ngx=$(procstat_delta "$n0" "$n1" "$req")
    mc=$(procstat_delta "$m0" "$m1" "$req")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$b" "$op" "$r" "$rps" \
        "$ratio" "$req" "$(($(field "$out" status_errors) + $(field "$out" socket_errors)))" \
        "$ngx" "$mc" >> "$RESULTS"
    RPS=$rps
    LINE="$LINE
  $(printf '%-11s %8.0f req/s %6s  nginx %6s us %5s+%-5s cs  memcached %6s us %5s+%-5s cs' \
      "$op" "$rps" "$ratio" $ngx $mc)"
}

for round in $(seq "$ROUNDS"); do
    for b in $(seq ${#builds[@]}); do
        start_nginx "$b"
        LINE="round $round, build $b:"
        measure "$b" "$round" ceiling-lua - $W -H "$H" \
            -s "$bench/rotate.lua" "$URL$API" -- ceiling - 2 0
        cl=$RPS
        measure "$b" "$round" ceiling - $W -H "$H" \
            -s "$bench/static.lua" "$URL/ceiling"
        cs=$RPS
        for op in $OPS; do
            case $op in
                get) measure "$b" "$round" "$op" "$cl" $W -H "$H" \
                         -s "$bench/rotate.lua" "$URL$API" -- get \
                         "$dir/ids/get-b$b" 2 0 ;;
                history) measure "$b" "$round" "$op" "$cl" $W -H "$H" \
                         -s "$bench/rotate.lua" "$URL$API" -- get \
                         "$dir/ids/history-b$b" 2 0 ;;
                put|status) measure "$b" "$round" "$op" "$cl" $W -H "$H" \
                         -s "$bench/rotate.lua" "$URL$API" -- "$op" \
                         "$dir/ids/modify-b$b" 2 0 ;;
                post) measure "$b" "$round" "$op" "$cs" $W -H "$H" \
                         -s "$bench/post.lua" "$URL$API" ;;
            esac
        done
        stop_nginx
        echo "$LINE"
    done
done

# the medians over the rounds, per build and operation: each figure its
# own median; the voluntary and involuntary switches shown beside a
# median total are those of the run it came from
table=$(sort -t$'\t' -k1,1n -k3,3n "$RESULTS" | awk -F'\t' -v ops="ceiling-lua ceiling $OPS" '
    # the value of <f> in the run of <k> whose <f> is the median
    function med(k, f,    i, j, t, idx, c) {
        c = 0;
        for (i = 1; i <= n[k]; i++)
            if (v[k, i, f] != "-" && v[k, i, f] != "") idx[++c] = i;
        if (!c) return 0;
        for (i = 1; i <= c; i++)
            for (j = i + 1; j <= c; j++)
                if (v[k, idx[j], f] + 0 < v[k, idx[i], f] + 0) {
                    t = idx[i]; idx[i] = idx[j]; idx[j] = t
                }
        return idx[int((c + 1) / 2)];
    }
    function show(k, f, fmt,    i) {
        i = med(k, f);
        return i ? sprintf(fmt, v[k, i, f]) : "-";
    }
    function cs(k, f, fv, fi,    i) {
        i = med(k, f);
        return i ? sprintf("%.2f (%.2f + %.2f)", v[k, i, f], v[k, i, fv], v[k, i, fi]) : "-";
    }
    {
        k = $1 SUBSEP $2; builds[$1] = 1; i = ++n[k];
        v[k, i, "rps"] = $4; v[k, i, "ratio"] = $5; bad[k] += $7;
        split($8, ng, " "); split($9, mc, " ");
        v[k, i, "nus"] = ng[1]; v[k, i, "nv"] = ng[2]; v[k, i, "ni"] = ng[3];
        v[k, i, "ncs"] = ng[1] == "-" ? "-" : ng[2] + ng[3];
        v[k, i, "mus"] = mc[1]; v[k, i, "mv"] = mc[2]; v[k, i, "mi"] = mc[3];
        v[k, i, "mcs"] = mc[1] == "-" ? "-" : mc[2] + mc[3];
    }
    END {
        print "| build | operation | req/s | × ceiling | nginx µs/req | nginx cs/req (vol + invol) | memcached µs/req | memcached cs/req (vol + invol) | non-2xx, socket errors |";
        print "|--:|---|--:|--:|--:|--:|--:|--:|--:|";
        nops = split(ops, o, " ");
        for (b = 1; b in builds; b++)
            for (j = 1; j <= nops; j++) {
                k = b SUBSEP o[j];
                if (!(k in n)) continue;
                printf "| %d | %s | %s | %s | %s | %s | %s | %s | %d |\n",
                    b, o[j], show(k, "rps", "%.0f"), show(k, "ratio", "%.3f"),
                    show(k, "nus", "%.1f"), cs(k, "ncs", "nv", "ni"),
                    show(k, "mus", "%.1f"), cs(k, "mcs", "mv", "mi"), bad[k];
            }
    }')

{
    echo "bench/compare.sh, $(date -u '+%Y-%m-%d %H:%M:%S UTC'): $ROUNDS round(s) of ${DURATION} s runs, wrk $W, $SEED entries an id set; medians over the rounds (each figure its own median: they need not come from one round; the voluntary and involuntary switches beside a median total are those of its round)."
    echo
    b=0
    for nginx in "${builds[@]}"; do
        b=$((b + 1))
        echo "- build $b: \`${nginx#$top/}\` ($("$nginx" -v 2>&1 | sed 's/^nginx version: //'))"
    done
    echo
    echo "$table"
    echo
    echo "× ceiling: to the build's own \`return 200\` of the same round, driven by the Lua \`request()\` (ceiling-lua) for every operation but POST, which is to the static one (ceiling). history: GET /{id} of entries with $HISTORY status_history items. cs: context switches, voluntary + involuntary, of every thread. Per run: \`${RESULTS#$top/}\` (nginx and memcached: \"µs vol invol\" a request)."
} > "$dir/report.md"

echo
cat "$dir/report.md"
b=0
for nginx in "${builds[@]}"; do
    b=$((b + 1))
    errs=$(grep -h -v -e '\[notice\]' -e '\[info\]' "$dir/logs/error-b$b.log" 2>/dev/null | tail -5) || true
    [ -z "$errs" ] || printf '\nbuild %s error log (last lines above notice):\n%s\n' "$b" "$errs"
done
