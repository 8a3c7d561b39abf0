#!/bin/bash
# make bench: measure the module against nginx's own `return 200`.
#
#   bench/bench.sh <nginx binary>
#
# Starts its own memcached and nginx on private ports (stopped again by
# pid however the run ends), seeds entries through the API, runs wrk on
# loopback for every operation and for the ceiling (a `return 200` of an
# entry-sized JSON body, same server, same wrk settings), and writes the
# table with the machine, the versions and the commands to BENCHMARKS.md
# (a quick run: build/bench/BENCHMARKS-quick.md; the lists alone:
# build/bench/BENCHMARKS-lists.md).
#
# Environment:
#   BENCH_QUICK=1          smaller sizes, shorter runs, no million GETs
#   BENCH_LISTS=1          the figures of the lists alone (make bench-lists):
#                          the lists at 64 connections and at 1, GET /{id}
#                          alone and during lists, the mixed run; none of
#                          the operations on one entry but GET, no ceiling
#   BENCH_PORT             nginx port (18500)
#   BENCH_MEMCACHED_PORT   memcached port (21500)
#   BENCH_THREADS          wrk threads (2)
#   BENCH_CONNECTIONS      wrk connections (64)
#   BENCH_DURATION         seconds of each run (10; quick 3)
#   BENCH_SIZES            entries of the list runs ("1000 10000 100000";
#                          quick "1000 10000"; lists "10000 100000")
#   BENCH_LAT_DURATION     seconds of each one-connection list run (5;
#                          quick 2)
#   BENCH_MILLION          GETs of the memory check (1000000; quick: 0,
#                          none)
#   BENCH_HISTORY_ENTRIES  entries of the entry-size runs: as many fresh
#                          ones as with 50 status_history items (5000;
#                          quick 1000)
#   BENCH_MIXED_DURATION   seconds of the mixed run: lists and writes
#                          (PUT, PATCH /status) side by side over an entry
#                          set of their own, the workers' RSS sampled
#                          against the size of the set's index (600; quick
#                          30; lists 60; 0: none)
#   BENCH_MIXED_ENTRIES    entries of the mixed run (100000; quick 10000)
#   BENCH_MIXED_LISTS      connections listing in the mixed run (4)
#   BENCH_MIXED_WRITES     connections writing in the mixed run (8)
#   BENCH_MIXED_SAMPLE     seconds between two samples of the mixed run (10)
#   BENCH_PERF=1           also perf-record the workers during the ceiling,
#                          a GET /{id} run and a list run over the largest
#                          set: three runs more, not in the table
#                          (build/bench/run/perf-*.txt)
#   BENCH_OUT              the report (BENCHMARKS.md; quick:
#                          build/bench/BENCHMARKS-quick.md; lists:
#                          build/bench/BENCHMARKS-lists.md)
#
# Raw wrk outputs, nginx's logs and the generated nginx.conf stay under
# build/bench/run/.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/bench/procstat.sh"
nginx=${1:?usage: $0 <nginx binary>}
nginx=$(cd "$(dirname "$nginx")" && pwd)/$(basename "$nginx")
bench=$top/bench
dir=$top/build/bench/run

QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=""
LISTS=${BENCH_LISTS:-0}
[ "$LISTS" = 0 ] && LISTS=""
PORT=${BENCH_PORT:-18500}
MCPORT=${BENCH_MEMCACHED_PORT:-21500}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
KEY=bench-key
PERF=${BENCH_PERF:-0}
[ "$PERF" = 0 ] && PERF=""

if [ -n "$LISTS" ]; then
    # the lists alone, to iterate on them: the sizes of issue 18's
    # figures, 5 s runs, a mixed run of a minute (its figure wants 10)
    DURATION=${BENCH_DURATION:-5}
    SIZES=${BENCH_SIZES:-"10000 100000"}
    N_ROTATE=10000          # entries GET goes round
    N_DELETE=0
    MILLION=0
    N_HISTORY=0
    LAT_DURATION=${BENCH_LAT_DURATION:-5}
    MIXED_DURATION=${BENCH_MIXED_DURATION:-60}
    MIXED_ENTRIES=${BENCH_MIXED_ENTRIES:-100000}
    OUT=${BENCH_OUT:-$top/build/bench/BENCHMARKS-lists.md}
elif [ -n "$QUICK" ]; then
    DURATION=${BENCH_DURATION:-3}
    SIZES=${BENCH_SIZES:-"1000 10000"}
    N_ROTATE=2000           # entries GET goes round (PUT and PATCH: as many)
    N_DELETE=6000           # entries DELETE deletes, each once
    MILLION=${BENCH_MILLION:-0}
    N_HISTORY=${BENCH_HISTORY_ENTRIES:-1000}
    LAT_DURATION=${BENCH_LAT_DURATION:-2}   # the one-connection list runs
    MIXED_DURATION=${BENCH_MIXED_DURATION:-30}
    MIXED_ENTRIES=${BENCH_MIXED_ENTRIES:-10000}
    OUT=${BENCH_OUT:-$top/build/bench/BENCHMARKS-quick.md}
else
    DURATION=${BENCH_DURATION:-10}
    SIZES=${BENCH_SIZES:-"1000 10000 100000"}
    N_ROTATE=10000
    N_DELETE=40000
    MILLION=${BENCH_MILLION:-1000000}
    N_HISTORY=${BENCH_HISTORY_ENTRIES:-5000}
    LAT_DURATION=${BENCH_LAT_DURATION:-5}
    # issue 18: the workers' memory after 10 minutes of lists and writes
    MIXED_DURATION=${BENCH_MIXED_DURATION:-600}
    MIXED_ENTRIES=${BENCH_MIXED_ENTRIES:-100000}
    OUT=${BENCH_OUT:-$top/BENCHMARKS.md}
fi
MIXED_LISTS=${BENCH_MIXED_LISTS:-4}
MIXED_WRITES=${BENCH_MIXED_WRITES:-8}
MIXED_SAMPLE=${BENCH_MIXED_SAMPLE:-10}
# the shards of a list index: woportal_index_shards's default (the
# generated nginx.conf sets none); index_bytes() reads this many keys
INDEX_SHARDS=256

API=/api/v1/workorder-portal
URL=http://127.0.0.1:$PORT
WRK_SETTINGS="-t$THREADS -c$CONNECTIONS -d${DURATION}s --timeout 10s --latency"
HISTORY=50                  # status_history items of the entry-size runs

started=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
commit=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo "?")
dirty=$(git -C "$top" status --porcelain -- src ngx_http_woportal_module.c \
    config 2>/dev/null | wc -l)
[ "$dirty" != 0 ] && commit="$commit + uncommitted changes to the module"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)

log() {
    printf '[%3ds] %s\n' "$SECONDS" "$*"
}

die() {
    echo "bench: $*" >&2
    exit 1
}

listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# a zombie (exited, not yet reaped) counts as gone
alive() {
    local pid=$1
    kill -0 "$pid" 2>/dev/null || return 1
    case $(ps -o stat= -p "$pid" 2>/dev/null) in Z*|"") return 1 ;; esac
}

# --- what it needs ---------------------------------------------------------

if ! command -v wrk >/dev/null; then
    SUDO=""
    [ "$(id -u)" != 0 ] && SUDO=sudo
    log "installing wrk"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q wrk >/dev/null \
        || { $SUDO apt-get update -q >/dev/null \
             && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q wrk \
                >/dev/null; } \
        || die "cannot install wrk (apt-get install -y wrk)"
fi
for cmd in memcached curl ps awk; do
    command -v $cmd >/dev/null || die "$cmd is missing (make deps)"
done
[ -x "$nginx" ] || die "$nginx is not an executable"
if [ -n "$PERF" ] && ! command -v perf >/dev/null; then
    log "perf is missing (apt-get install linux-perf): no profiles"
    PERF=""
fi

listening "$PORT" && die "port $PORT is taken: set BENCH_PORT"
listening "$MCPORT" && die "port $MCPORT is taken: set BENCH_MEMCACHED_PORT"

# --- start and stop --------------------------------------------------------

if [ -f "$dir/logs/nginx.pid" ] && alive "$(cat "$dir/logs/nginx.pid")"; then
    die "another bench runs from ${dir#$top/} (nginx pid $(cat "$dir/logs/nginx.pid"))"
fi
rm -rf "$dir"
mkdir -p "$dir/logs" "$dir/temp" "$dir/wrk" "$dir/ids" "$dir/done"

mc_pid=""
nginx_pid=""
bg_pids=""
wrk_pid=""

stop_pid() {                # <pid> <signal> <name>
    local pid=$1
    alive "$pid" || return 0
    kill "-$2" "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do
        alive "$pid" || return 0
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    echo "bench: $3 (pid $pid) did not stop, killed" >&2
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    for pid in $wrk_pid $bg_pids; do
        stop_pid "$pid" TERM "a background run"
    done
    [ -n "$nginx_pid" ] && stop_pid "$nginx_pid" QUIT nginx
    [ -n "$mc_pid" ] && stop_pid "$mc_pid" TERM memcached
    case $rc in
        0) ;;
        130) echo "bench: interrupted after ${SECONDS}s; stopped what it started" >&2 ;;
        *) echo "bench: failed after ${SECONDS}s; logs in ${dir#$top/}" >&2 ;;
    esac
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# every list reads the whole index: memcached must hold everything
memcached -d -l 127.0.0.1 -p "$MCPORT" -U 0 -u root -m 2048 -c 4096 \
    -P "$dir/memcached.pid"
for _ in $(seq 100); do
    [ -s "$dir/memcached.pid" ] && listening "$MCPORT" && break
    sleep 0.05
done
mc_pid=$(cat "$dir/memcached.pid" 2>/dev/null) || true
listening "$MCPORT" || die "memcached did not start on 127.0.0.1:$MCPORT"

# the ceiling: a body the size and shape of GET /{id}'s answer for a
# seeded entry (checked against a real one below)
ceiling_body='{"success":true,"data":{"_id":"6b0ad801342bc032b4e99b5d","workorder":"000000000000000000000001","client":"000000000000000000000001","status":"pending","access_level":"comment","allowed_actions":["view","comment"],"expiry_date":"2027-01-31T17:00:00.000Z","notifications":{},"portal_settings":{"theme":"dark"},"custom_branding":{},"company_namespace":["ns-1"],"disabled":false,"status_history":[{"status":"pending","changed_at":"2026-11-28T13:32:49.774Z"}],"created_at":"2026-11-28T13:32:49.774Z","updated_at":"2026-11-28T13:32:49.774Z","version":1}}'

list_locations=""
for n in $SIZES; do
    list_locations="$list_locations
        location /list-$n-entries {
            woportal;
            woportal_key_prefix  \"bench:$n:\";
        }
"
done

cat > "$dir/nginx.conf" <<CONF
# generated by bench/bench.sh: make bench's nginx
worker_processes  2;
error_log  logs/error.log  notice;
pid        logs/nginx.pid;

thread_pool  woportal  threads=16  max_queue=4096;
# lists hold their thread for tens of milliseconds: a pool of their own
thread_pool  woportal_list  threads=4  max_queue=4096;

events {
    worker_connections  4096;
}

http {
    # the status of every answer, counted per run by bench.sh
    log_format  bench  '\$status';
    access_log  logs/access.log  bench  buffer=64k  flush=1s;

    # wrk keeps its connections: measure requests, not reconnects
    keepalive_requests  1000000;

    client_body_temp_path  temp/body;
    proxy_temp_path        temp/proxy;
    fastcgi_temp_path      temp/fastcgi;
    uwsgi_temp_path        temp/uwsgi;
    scgi_temp_path         temp/scgi;

    woportal_memcached          "--SERVER=127.0.0.1:$MCPORT --BINARY-PROTOCOL";
    woportal_memcached_timeout  500ms;
    woportal_thread_pool        woportal;
    woportal_list_thread_pool   woportal_list;
    woportal_api_key            $KEY;

    server {
        listen  127.0.0.1:$PORT;

        # the ceiling: nginx's own answer, entry-sized
        location = /ceiling {
            default_type  application/json;
            return  200  '$ceiling_body';
        }

        # what the wrk scripts send once they have nothing left to send
        location = /bench-noop {
            access_log  off;
            return  204;
        }

        location $API {
            woportal;
            woportal_key_prefix  "bench:ops:";
        }

        # GET of fresh entries against entries with $HISTORY status_history
        # items, side by side under a key prefix of their own
        location /history-entries {
            woportal;
            woportal_key_prefix  "bench:history:";
        }
$list_locations
        # the mixed run: lists and writes over a set of their own
        location /mixed-entries {
            woportal;
            woportal_key_prefix  "bench:mixed:";
        }
    }
}
CONF

"$nginx" -p "$dir/" -c nginx.conf -t -q || die "nginx -t failed"
"$nginx" -p "$dir/" -c nginx.conf
for _ in $(seq 100); do
    [ -s "$dir/logs/nginx.pid" ] && listening "$PORT" && break
    sleep 0.05
done
nginx_pid=$(cat "$dir/logs/nginx.pid" 2>/dev/null) || true
listening "$PORT" || die "nginx did not start on 127.0.0.1:$PORT"
log "nginx (pid $nginx_pid) on 127.0.0.1:$PORT, memcached (pid $mc_pid) on 127.0.0.1:$MCPORT"

workers() {
    ps -o pid= --ppid "$nginx_pid" | tr -d ' ' | sort -n
}

# worker RSS: "<pid>:<kB> ... total:<kB>"
rss() {
    local pid kb total=0 line=""
    for pid in $(workers); do
        kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null) || kb=0
        line="$line $pid:${kb:-0}"
        total=$((total + ${kb:-0}))
    done
    echo "${line# } total:$total"
}

RSS_ROWS=""
rss_note() {                # <stage> [<rss() taken then>]
    local r=${2:-$(rss)}
    RSS_ROWS="$RSS_ROWS$1	$r
"
    log "worker RSS $1: $r"
}

# the list index of a key prefix as memcached holds it: "<bytes>
# <shards>", the sum of the value sizes of <prefix>idx:0 to idx:<shards
# - 1> and how many of them are there. A meta get with the size flag
# alone (memcached >= 1.6): no value crosses the wire, so it costs the
# run nothing, and it does not depend on what the module reports
# (metrics.c's woportal_index_bytes is the latest list's reading, of
# whichever location, and issue 18 changes what a list reads)
index_bytes() {             # <key prefix>
    (
        exec 3<>"/dev/tcp/127.0.0.1/$MCPORT"
        awk -v p="$1" -v n="$INDEX_SHARDS" 'BEGIN {
            for (i = 0; i < n; i++) printf "mg %sidx:%d s\r\n", p, i;
            printf "mn\r\nquit\r\n" }' >&3
        tr -d '\r' <&3 | awk '
            $1 == "HD" {
                for (i = 2; i <= NF; i++)
                    if ($i ~ /^s[0-9]+$/) { b += substr($i, 2); n++ }
            }
            $1 == "MN" {exit}
            END {printf "%d %d\n", b, n}'
    )
}

# nginx -s reload, and wait until the old workers are gone and two new
# ones run: a measurement of memory then starts from workers whose heap
# no earlier run has grown
reload_workers() {
    local old fresh gone pid
    old=$(workers | tr '\n' ' ')
    kill -HUP "$nginx_pid"
    for _ in $(seq 200); do
        fresh=$(workers | tr '\n' ' ')
        gone=1
        for pid in $old; do
            case " $fresh" in *" $pid "*) gone="" ;; esac
        done
        [ -n "$gone" ] && [ "$(echo $fresh | wc -w)" = 2 ] && break
        sleep 0.1
    done
    [ -n "$gone" ] || die "the old workers ($old) did not exit after a reload"
    sleep 1
}

# --- one wrk run -----------------------------------------------------------

# wrk_wait <output file> <wrk arguments...>: wrk in the background, so
# that a signal reaches the trap at once (and the trap stops wrk)
wrk_wait() {
    local out=$1 rc=0
    shift
    wrk "$@" > "$out" 2>&1 &
    wrk_pid=$!
    wait "$wrk_pid" || rc=$?
    wrk_pid=""
    return $rc
}

RESULTS=$dir/results.tsv
: > "$RESULTS"

size_of() {
    stat -c %s "$1" 2>/dev/null || echo 0
}

# the bytes a file grew by since <offset>
grown() {                   # <file> <offset>
    local now
    now=$(size_of "$1")
    [ "$now" -gt "$2" ] || return 0
    tail -c +"$(($2 + 1))" "$1" | head -c "$((now - $2))"
}

LOG_AT=0
ERR_AT=0
mark_logs() {
    LOG_AT=$(size_of "$dir/logs/access.log")
    ERR_AT=$(size_of "$dir/logs/error.log")
}

# the statuses and error-log lines since mark_logs: sets STATUSES
# ("200:1234 404:2"), NON2XX and ERRLOG ("error:2 warn:1")
count_logs() {
    sleep 1.2               # the access log's flush=1s
    STATUSES=$(grown "$dir/logs/access.log" "$LOG_AT" \
        | awk '{n[$1]++} END {for (s in n) printf "%s:%d\n", s, n[s]}' \
        | sort | tr '\n' ' ')
    STATUSES=${STATUSES% }
    NON2XX=$(echo "$STATUSES" | tr ' ' '\n' \
        | awk -F: '$1 !~ /^2/ && $2 {s += $2} END {print s + 0}')
    ERRLOG=$(grown "$dir/logs/error.log" "$ERR_AT" \
        | sed -n 's/^[0-9/]* [0-9:]* \[\([a-z]*\)\].*/\1/p' \
        | grep -v -e '^notice$' -e '^info$' \
        | sort | uniq -c | awk '{printf "%s:%d ", $2, $1}')
    ERRLOG=${ERRLOG% }
}

# the BENCH line of a wrk output: sets W_requests, W_rps, W_p50_ms ...
parse_wrk() {               # <output file>
    local line kv
    line=$(grep '^BENCH ' "$1" | tail -1)
    [ -n "$line" ] || die "no summary in $1: $(tail -5 "$1")"
    for kv in ${line#BENCH }; do
        eval "W_${kv%%=*}=${kv#*=}"
    done
}

# --- how much of the CPUs others took ---------------------------------------

HZ=$(getconf CLK_TCK)
NCPU=$(nproc)

# user + nice + system jiffies of all CPUs; what our servers (and a wrk
# running in the background) used of them; what this shell's children
# (wrk, curl...) used once they have been waited for
cpu_busy() {
    awk '/^cpu / {print $2 + $3 + $4}' /proc/stat
}
cpu_ours() {
    local pid t=0 j
    for pid in $nginx_pid $(workers) $mc_pid $bg_pids; do
        j=$(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null) || j=0
        t=$((t + ${j:-0}))
    done
    echo $t
}
cpu_children() {
    times > "$dir/times"        # a builtin, so not in a subshell
    tail -1 "$dir/times" | awk -v hz="$HZ" '{
        s = 0;
        for (i = 1; i <= 2; i++) { split($i, p, "m"); s += p[1] * 60 + p[2] }
        printf "%d\n", s * hz }'
}
now() {
    date +%s.%N
}

CPU_AT=""
cpu_mark() {
    CPU_AT="$(now) $(cpu_busy) $(cpu_ours) $(cpu_children)"
}

# the share of all CPUs that other processes used since cpu_mark, in %
cpu_others() {
    echo "$CPU_AT $(now) $(cpu_busy) $(cpu_ours) $(cpu_children)" \
        | awk -v hz="$HZ" -v n="$NCPU" '{
            others = ($6 - $2) - ($7 - $3) - ($8 - $4);
            if (others < 0) others = 0;
            printf "%.0f", 100 * others / hz / (($5 - $1) * n) }'
}

# run_wrk <key> <label> <ceiling: static|lua|-> <url> <wrk options...> \
#         [-- <script arguments...>]
# <ceiling>: the ceiling its ratio is taken against (- for none)
# Sets COST_NGINX and COST_MC: "<CPU µs> <voluntary> <involuntary>" context
# switches a request of the workers (every thread) and of memcached
run_wrk() {
    local key=$1 label=$2 ceiling=$3 url=$4
    shift 4
    local out=$dir/wrk/$key.txt
    local opts=() sargs=() ngx0 mc0 ngx1 mc1
    while [ $# -gt 0 ] && [ "$1" != -- ]; do
        opts+=("$1")
        shift
    done
    sargs=("$@")
    echo "wrk ${opts[*]} -H 'X-API-Key: $KEY' '$url' ${sargs[*]}" \
        | sed 's/ *$//' > "$out.cmd"
    mark_logs
    cpu_mark
    rm -f "$dir/done/$key".*
    ngx0=$(procstat_snap $(workers))
    mc0=$(procstat_snap $mc_pid)
    BENCH_DONE=$dir/done/$key wrk_wait "$out" \
        "${opts[@]}" -H "X-API-Key: $KEY" "$url" "${sargs[@]}" \
        || die "wrk failed for $label: $(tail -5 "$out")"
    ngx1=$(procstat_snap $(workers))
    mc1=$(procstat_snap $mc_pid)
    OTHERS=$(cpu_others)
    count_logs
    parse_wrk "$out"
    COST_NGINX=$(procstat_delta "$ngx0" "$ngx1" "$W_requests")
    COST_MC=$(procstat_delta "$mc0" "$mc1" "$W_requests")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$key" "$label" "$ceiling" "$W_requests" "$W_seconds" "$W_rps" \
        "$W_p50_ms" "$W_p99_ms" "$NON2XX" "$STATUSES" "${ERRLOG:--}" \
        "$W_socket_errors" "$OTHERS" "$COST_NGINX" "$COST_MC" >> "$RESULTS"
    log "$(printf '%-34s %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  non-2xx %s  others %s%%%s' \
        "$label" "$W_rps" "$W_p50_ms" "$W_p99_ms" "$NON2XX" "$OTHERS" \
        "${ERRLOG:+  error log: $ERRLOG}")"
    log "$(echo "$COST_NGINX $COST_MC" | awk '{printf "%34s nginx %s us %s+%s cs, memcached %s us %s+%s cs a request", "", $1, $2, $3, $4, $5, $6}')"
}

# profile the workers for <seconds> in the background: perf-<name>.txt
perf_start() {              # <name> <seconds>
    [ -n "$PERF" ] || return 0
    local pids
    pids=$(workers | paste -sd, -)
    (sleep 1
     perf record -q -g -p "$pids" -o "$dir/perf-$1.data" -- sleep "$2" \
         >/dev/null 2>&1
     perf_summary "$dir/perf-$1.data" "$(workers | tr '\n' ' ')" \
         > "$dir/perf-$1.txt" 2>&1) &
    PERF_PID=$!
}

perf_wait() {
    [ -n "$PERF" ] || return 0
    wait "$PERF_PID" || true
    log "profile: ${dir#$top/}/perf-$1.txt"
}

perf_summary() {            # <perf.data> <worker pids>
    local report="perf report --stdio --no-children -i $1"
    echo "== where: the workers' event loops (main threads) or their" \
         "thread-pool threads"
    $report -g none --sort pid 2>/dev/null | awk -v w=" $2" '
        /^ *[0-9.]+%/ {
            p = $1; sub(/%/, "", p); split($2, t, ":");
            if (index(w, " " t[1] " ")) loop += p; else pool += p
        }
        END { printf "event loops %.1f %%, thread pools %.1f %%\n", loop, pool }'
    echo
    echo "== by object"
    $report -g none --sort dso 2>/dev/null | grep -v -e '^#' -e '^$' | head -10
    echo
    echo "== top symbols"
    $report -g none --sort dso,symbol 2>/dev/null \
        | grep -v -e '^#' -e '^$' | sed 's/ *- *- *$//' | head -50
    echo
    echo "== call graphs over 2 % (kernel stacks are whole; user-space" \
         "frames past the first need frame pointers)"
    $report -g caller,0.5,callee --percent-limit 2 --sort dso,symbol \
        2>/dev/null | grep -v -e '^#' -e '^$' | head -400
}

# --- seeding ---------------------------------------------------------------

# seed <location> <count> <ids file>: exactly <count> entries
seed() {
    local loc=$1 count=$2 ids=$3 line
    rm -f "$ids".part.*
    BENCH_DONE=$ids.done wrk_wait "$ids.wrk" \
        -t"$THREADS" -c"$CONNECTIONS" -d600s --timeout 10s \
        -H "X-API-Key: $KEY" -s "$bench/seed.lua" "$URL$loc" \
        -- "$count" "$THREADS" "$ids" \
        || die "seeding $loc failed: $(tail -5 "$ids.wrk")"
    line=$(grep '^SEED ' "$ids.wrk") || die "seeding $loc: $(tail -5 "$ids.wrk")"
    cat "$ids".part.* > "$ids"
    rm -f "$ids".part.* "$ids".done.*
    log "seeded $count entries at $loc: ${line#SEED } ($(wc -l < "$ids") ids)"
    [ "$(wc -l < "$ids")" = "$count" ] \
        || die "seeding $loc created $(wc -l < "$ids") entries, not $count"
}

# total <url>: paging.total of a list
total() {
    curl -s -H "X-API-Key: $KEY" "$1" \
        | sed -n 's/.*"paging":{[^}]*"total":\([0-9]*\).*/\1/p'
}

NOTES=""
note() {
    NOTES="$NOTES- $*
"
    log "NOTE: $*"
}

rss_note "at start"
cpu_mark
RUN_CPU_AT=$CPU_AT

log "seeding"
seed "$API" "$N_ROTATE" "$dir/ids/rotate.seeded"

# the ids GET, PUT and PATCH go round, read back through the list
pages=$(( (N_ROTATE + 99) / 100 ))
curl -s -H "X-API-Key: $KEY" "$URL$API?per_page=100&page=[1-$pages]" \
    | grep -o '"_id":"[0-9a-f]\{24\}"' | cut -d'"' -f4 > "$dir/ids/rotate.listed"
sort "$dir/ids/rotate.seeded" > "$dir/ids/a"
sort -u "$dir/ids/rotate.listed" > "$dir/ids/b"
if ! cmp -s "$dir/ids/a" "$dir/ids/b"; then
    note "the list over $N_ROTATE entries (per_page=100, $pages pages) gave $(wc -l < "$dir/ids/rotate.listed") ids, $(wc -l < "$dir/ids/b") distinct; $(comm -23 "$dir/ids/a" "$dir/ids/b" | wc -l) created ids missing, $(comm -13 "$dir/ids/a" "$dir/ids/b" | wc -l) not created"
fi
rm -f "$dir/ids/a" "$dir/ids/b"
awk '!seen[$0]++' "$dir/ids/rotate.listed" > "$dir/ids/rotate"
log "read $(wc -l < "$dir/ids/rotate") ids back through GET $API?per_page=100 ($pages pages)"

# the ids PUT and PATCH go round (apart, so that GET keeps serving
# entries of the ceiling's size) and those DELETE deletes, each once, as
# the creates answered them
if [ -z "$LISTS" ]; then
    seed "$API" "$N_ROTATE" "$dir/ids/modify"
    seed "$API" "$N_DELETE" "$dir/ids/delete"
fi

# the ceiling body against a real answer
real=$(curl -s -H "X-API-Key: $KEY" "$URL$API/$(head -1 "$dir/ids/rotate")")
case $real in
    '{"success":true,"data":{'*) ;;
    *) die "GET $API/{id} answered: $real" ;;
esac
CEILING_BYTES=${#ceiling_body}
GET_BYTES=${#real}
log "ceiling body $CEILING_BYTES bytes, GET /{id} body $GET_BYTES bytes"

# seed_list_set <location> <count> <name>: <count> entries, a tenth of
# them in_progress (so that status= selects); ids in ids/<name>
seed_list_set() {
    local loc=$1 n=$2 name=$3 t_all t_prog t_ns
    seed "$loc" "$n" "$dir/ids/$name"
    head -n $((n / 10)) "$dir/ids/$name" > "$dir/ids/$name.progress"
    BENCH_DONE=$dir/done/progress-$name wrk_wait "$dir/wrk/seed-progress-$name.txt" \
        -t"$THREADS" -c"$CONNECTIONS" -d600s --timeout 10s \
        -H "X-API-Key: $KEY" -s "$bench/rotate.lua" "$URL$loc" \
        -- status-once "$dir/ids/$name.progress" "$THREADS" \
        || die "status changes at $loc: $(tail -5 "$dir/wrk/seed-progress-$name.txt")"
    sleep 0.2               # the last ones wrk did not wait for
    t_all=$(total "$URL$loc?per_page=1")
    t_prog=$(total "$URL$loc?per_page=1&status=in_progress")
    t_ns=$(total "$URL$loc?per_page=1&company_namespace=ns-3")
    log "$name: total $t_all, in_progress $t_prog, ns-3 $t_ns"
    [ "$t_all" = "$n" ] || note "the list over $n entries at $loc says total $t_all"
    [ "$t_prog" = $((n / 10)) ] \
        || note "$((n / 10)) of $n entries at $loc were set in_progress; the list with status=in_progress says total $t_prog"
}

for n in $SIZES; do
    seed_list_set "/list-$n-entries" "$n" "list-$n"
done
# the mixed run's set, seeded now with the others: it runs in workers of
# its own (a reload), whose memory the seeding would not count anyway
if [ "$MIXED_DURATION" -gt 0 ]; then
    seed_list_set /mixed-entries "$MIXED_ENTRIES" mixed
fi

# the entry-size runs: fresh entries, and as many whose status_history
# has $HISTORY items (the create's, then $((HISTORY - 1)) PATCH /{id}/status,
# in_progress and pending in turn: the contract lets an entry go between
# them any number of times), under a key prefix of their own
if [ -z "$LISTS" ]; then
    seed /history-entries "$N_HISTORY" "$dir/ids/fresh"
    seed /history-entries "$N_HISTORY" "$dir/ids/history"
    BENCH_DONE=$dir/done/history wrk_wait "$dir/wrk/seed-history.txt" \
        -t"$THREADS" -c"$CONNECTIONS" -d900s --timeout 10s \
        -H "X-API-Key: $KEY" -s "$bench/rotate.lua" "$URL/history-entries" \
        -- history "$dir/ids/history" "$THREADS" "$((HISTORY - 1))" \
        || die "status changes of the history entries: $(tail -5 "$dir/wrk/seed-history.txt")"
    refused=$(grep -c '^rotate.lua: ' "$dir/wrk/seed-history.txt" || true)
    [ "$refused" = 0 ] \
        || note "$refused of the $((N_HISTORY * (HISTORY - 1))) status changes of the history entries were not answered 200: $(grep -m1 '^rotate.lua: ' "$dir/wrk/seed-history.txt")"
    # every entry's status_history, counted in the list: "<id> <items>"
    pages=$(( (2 * N_HISTORY + 99) / 100 ))
    curl -s -H "X-API-Key: $KEY" \
            "$URL/history-entries?per_page=100&page=[1-$pages]" \
        | awk 'BEGIN {RS = "\"_id\":\""} NR > 1 {
              id = substr($0, 1, 24); n = gsub(/"changed_at"/, "");
              print id, n }' > "$dir/ids/history.counted"
    history_check=$(awk -v want="$HISTORY" '
        FILENAME ~ /counted$/ {n[$1] = $2; next}
        FILENAME ~ /fresh$/ {f++; if (n[$1] == 1) fok++; next}
        {h++; if (n[$1] == want) hok++}
        END {printf "%d %d %d %d", fok, f, hok, h}' \
        "$dir/ids/history.counted" "$dir/ids/fresh" "$dir/ids/history")
    read -r h_fresh_ok h_fresh h_hist_ok h_hist <<< "$history_check"
    log "status_history counted in the list: $h_fresh_ok of $h_fresh fresh entries with 1 item, $h_hist_ok of $h_hist others with $HISTORY"
    [ "$h_fresh_ok" = "$h_fresh" ] && [ "$h_hist_ok" = "$h_hist" ] \
        || note "status_history counted in the list over /history-entries: $h_fresh_ok of $h_fresh fresh entries with 1 item, $h_hist_ok of $h_hist others with $HISTORY"
    FRESH_BYTES=$(curl -s -H "X-API-Key: $KEY" \
        "$URL/history-entries/$(head -1 "$dir/ids/fresh")" | wc -c)
    HISTORY_BYTES=$(curl -s -H "X-API-Key: $KEY" \
        "$URL/history-entries/$(head -1 "$dir/ids/history")" | wc -c)
    log "GET /{id}: a fresh entry $FRESH_BYTES bytes, one with $HISTORY status_history items $HISTORY_BYTES bytes"
fi

# --- the runs --------------------------------------------------------------

sleep 1
rss_note "after seeding, before the runs"

lua="-s $bench/rotate.lua"
rotate() {                  # <op> <ids> [limit]
    echo "-- $1 $2 $THREADS ${3:-0}"
}

# the lists alone need no ceiling: their figures are absolute
if [ -z "$LISTS" ]; then
    run_wrk ceiling "return 200 (the ceiling)" - "$URL/ceiling" \
        $WRK_SETTINGS -s "$bench/static.lua"
    run_wrk ceiling-lua "return 200, Lua request()" - "$URL$API" \
        $WRK_SETTINGS $lua $(rotate ceiling -)
fi

# also GET /{id}'s p99 alone, against which its p99 during lists is taken
run_wrk get "GET /{id}" lua "$URL$API" \
    $WRK_SETTINGS $lua $(rotate get "$dir/ids/rotate")

if [ -z "$LISTS" ]; then
    # entry size: fresh, $HISTORY items, $HISTORY items, fresh (so that a
    # drift of the machine's load falls on both alike)
    run_wrk get-fresh "GET /{id}, fresh entry (1 status_history item)" lua \
        "$URL/history-entries" $WRK_SETTINGS $lua $(rotate get "$dir/ids/fresh")
    run_wrk get-history "GET /{id}, $HISTORY status_history items" lua \
        "$URL/history-entries" $WRK_SETTINGS $lua $(rotate get "$dir/ids/history")
    run_wrk get-history-2 "GET /{id}, $HISTORY status_history items, again" lua \
        "$URL/history-entries" $WRK_SETTINGS $lua $(rotate get "$dir/ids/history")
    run_wrk get-fresh-2 "GET /{id}, fresh entry, again" lua \
        "$URL/history-entries" $WRK_SETTINGS $lua $(rotate get "$dir/ids/fresh")

    run_wrk post "POST /" static "$URL$API" \
        $WRK_SETTINGS -s "$bench/post.lua"
    run_wrk put "PUT /{id}" lua "$URL$API" \
        $WRK_SETTINGS $lua $(rotate put "$dir/ids/modify")
    run_wrk status "PATCH /{id}/status" lua "$URL$API" \
        $WRK_SETTINGS $lua $(rotate status "$dir/ids/modify")
fi

for n in $SIZES; do
    loc=/list-$n-entries
    run_wrk "list-$n" "GET / ($n entries)" static \
        "$URL$loc?per_page=25" $WRK_SETTINGS -s "$bench/static.lua"
    run_wrk "list-$n-status" "GET /?status= ($n)" static \
        "$URL$loc?per_page=25&status=in_progress" \
        $WRK_SETTINGS -s "$bench/static.lua"
    run_wrk "list-$n-ns" "GET /?company_namespace= ($n)" static \
        "$URL$loc?per_page=25&company_namespace=ns-3" \
        $WRK_SETTINGS -s "$bench/static.lua"
done

# the latency of one list at a time
for n in $SIZES; do
    run_wrk "list-$n-c1" "GET / ($n), 1 connection" - \
        "$URL/list-$n-entries?per_page=25" \
        -t1 -c1 -d"${LAT_DURATION}s" --timeout 10s --latency \
        -s "$bench/static.lua"
done

# GET /{id} while lists over the largest size run: no request waits on
# another
big=${SIZES##* }
wrk -t1 -c2 -d"$((DURATION + 1))s" --timeout 10s --latency \
    -H "X-API-Key: $KEY" -s "$bench/static.lua" \
    "$URL/list-$big-entries?per_page=25" > "$dir/wrk/list-during.txt" 2>&1 &
bg_pids=$!
sleep 0.5
run_wrk get-during "GET /{id} during lists ($big)" lua "$URL$API" \
    $WRK_SETTINGS $lua $(rotate get "$dir/ids/rotate")
wait "$bg_pids" || die "the concurrent lists failed: $(tail -5 "$dir/wrk/list-during.txt")"
bg_pids=""
parse_wrk "$dir/wrk/list-during.txt"
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    list-during "the lists meanwhile ($big, 2 connections)" - \
    "$W_requests" "$W_seconds" "$W_rps" "$W_p50_ms" "$W_p99_ms" \
    "(above)" "" "-" "$W_socket_errors" "$OTHERS" "- - -" "- - -" >> "$RESULTS"
log "$(printf '%-34s %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms' \
    "the lists meanwhile" "$W_rps" "$W_p50_ms" "$W_p99_ms")"

if [ -z "$LISTS" ]; then
    run_wrk delete "DELETE /{id}" lua "$URL$API" \
        $WRK_SETTINGS $lua $(rotate delete "$dir/ids/delete")

    # the ceiling again: the higher of the two is the one ratios are
    # taken to
    run_wrk ceiling-2 "return 200 (the ceiling), again" - "$URL/ceiling" \
        $WRK_SETTINGS -s "$bench/static.lua"
    run_wrk ceiling-lua-2 "return 200, Lua request(), again" - "$URL$API" \
        $WRK_SETTINGS $lua $(rotate ceiling -)
fi

sleep 1
rss_note "after the runs"

if [ "$MILLION" -gt 0 ]; then
    # fresh workers, whose heap the lists have not grown: memory that a
    # GET kept would otherwise hide in what the lists freed
    reload_workers
    rss_note "new workers (nginx -s reload)"
    first=$((MILLION / 10))
    run_wrk million-1 "GET /{id}, first $first" lua "$URL$API" \
        -t"$THREADS" -c"$CONNECTIONS" -d600s --timeout 10s --latency \
        $lua $(rotate get "$dir/ids/rotate" "$first")
    rss_note "after $first more GETs"
    run_wrk million-2 "GET /{id}, next $((MILLION - first))" lua "$URL$API" \
        -t"$THREADS" -c"$CONNECTIONS" -d600s --timeout 10s --latency \
        $lua $(rotate get "$dir/ids/rotate" "$((MILLION - first))")
    rss_note "after $MILLION more GETs"
fi

# --- lists and writes together: the workers' memory (issue 18) -----------

# Workers that keep what lists read (issue 18: each worker caches the list
# index) must not grow with the lists and writes they serve: lists and
# writes side by side for $MIXED_DURATION s over a set of their own, in
# fresh workers (a reload: what the runs above left in the workers' heaps,
# the other sets' indexes among it, must not count), the RSS of each
# worker sampled every $MIXED_SAMPLE s beside the size of the set's index
# in memcached. The writes change entries (PUT and PATCH /status in turn:
# status= selects other entries as they go, and every change appends a
# record to the index); no creates, so that the set stays at
# $MIXED_ENTRIES entries however fast they go.
MIXED_SAMPLES=$dir/mixed-samples.tsv    # "<s> <rss()> <index_bytes()>", tabs between
: > "$MIXED_SAMPLES"

mixed_sample() {            # <seconds since the start>
    local r i
    r=$(rss)
    i=$(index_bytes bench:mixed:)
    printf '%s\t%s\t%s\n' "$1" "$r" "$i" >> "$MIXED_SAMPLES"
    log "mixed run, ${1}s: worker RSS $r; index ${i% *} bytes in ${i#* } shards"
}

if [ "$MIXED_DURATION" -gt 0 ]; then
    reload_workers
    rss_note "new workers, before the mixed run"
    mark_logs
    cpu_mark
    rm -f "$dir/done/mixed".*
    echo "wrk -t1 -c$MIXED_LISTS -d${MIXED_DURATION}s --timeout 10s --latency -s $bench/lists.lua -H 'X-API-Key: $KEY' '$URL/mixed-entries' -- $dir/ids/mixed $MIXED_ENTRIES" \
        > "$dir/wrk/mixed-lists.txt.cmd"
    echo "wrk -t1 -c$MIXED_WRITES -d${MIXED_DURATION}s --timeout 10s --latency -s $bench/rotate.lua -H 'X-API-Key: $KEY' '$URL/mixed-entries' -- write $dir/ids/mixed 1 0" \
        > "$dir/wrk/mixed-writes.txt.cmd"
    BENCH_DONE=$dir/done/mixed-lists \
        wrk -t1 -c"$MIXED_LISTS" -d"${MIXED_DURATION}s" --timeout 10s --latency \
        -H "X-API-Key: $KEY" -s "$bench/lists.lua" "$URL/mixed-entries" \
        -- "$dir/ids/mixed" "$MIXED_ENTRIES" > "$dir/wrk/mixed-lists.txt" 2>&1 &
    mixed_lists=$!
    BENCH_DONE=$dir/done/mixed-writes \
        wrk -t1 -c"$MIXED_WRITES" -d"${MIXED_DURATION}s" --timeout 10s --latency \
        -H "X-API-Key: $KEY" -s "$bench/rotate.lua" "$URL/mixed-entries" \
        -- write "$dir/ids/mixed" 1 0 > "$dir/wrk/mixed-writes.txt" 2>&1 &
    mixed_writes=$!
    bg_pids="$mixed_lists $mixed_writes"
    log "mixed run: lists ($MIXED_LISTS connections) and writes ($MIXED_WRITES) over $MIXED_ENTRIES entries for ${MIXED_DURATION}s"
    t0=$SECONDS
    mixed_sample 0
    next=$MIXED_SAMPLE
    # one look a second whether wrk is done; a sample every $MIXED_SAMPLE s
    while alive "$mixed_lists" || alive "$mixed_writes"; do
        sleep 1
        if [ $((SECONDS - t0)) -ge "$next" ]; then
            mixed_sample $((SECONDS - t0))
            next=$((next + MIXED_SAMPLE))
        fi
    done
    wait "$mixed_lists" \
        || die "the mixed run's lists failed: $(tail -5 "$dir/wrk/mixed-lists.txt")"
    wait "$mixed_writes" \
        || die "the mixed run's writes failed: $(tail -5 "$dir/wrk/mixed-writes.txt")"
    bg_pids=""
    # the end: the workers as the lists and writes left them (unless the
    # loop's last sample was taken just now)
    [ "$(tail -1 "$MIXED_SAMPLES" | cut -f1)" = $((SECONDS - t0)) ] \
        || mixed_sample $((SECONDS - t0))
    rss_note "after ${MIXED_DURATION}s of lists and writes (the mixed run)" \
        "$(tail -1 "$MIXED_SAMPLES" | cut -f2)"
    OTHERS=$(cpu_others)
    count_logs
    parse_wrk "$dir/wrk/mixed-lists.txt"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        mixed-lists "mixed: lists over $MIXED_ENTRIES, every filter ($MIXED_LISTS connections)" - \
        "$W_requests" "$W_seconds" "$W_rps" "$W_p50_ms" "$W_p99_ms" \
        "$NON2XX" "$STATUSES" "${ERRLOG:--}" "$W_socket_errors" "$OTHERS" \
        "- - -" "- - -" >> "$RESULTS"
    log "$(printf '%-34s %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  non-2xx %s  others %s%%%s' \
        "mixed: lists" "$W_rps" "$W_p50_ms" "$W_p99_ms" "$NON2XX" "$OTHERS" \
        "${ERRLOG:+  error log: $ERRLOG}")"
    parse_wrk "$dir/wrk/mixed-writes.txt"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        mixed-writes "mixed: the writes meanwhile, PUT and PATCH /status ($MIXED_WRITES connections)" - \
        "$W_requests" "$W_seconds" "$W_rps" "$W_p50_ms" "$W_p99_ms" \
        "(above)" "" "-" "$W_socket_errors" "$OTHERS" "- - -" "- - -" >> "$RESULTS"
    log "$(printf '%-34s %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms' \
        "mixed: the writes" "$W_rps" "$W_p50_ms" "$W_p99_ms")"
fi

# profiles, in runs of their own (perf slows what it watches): the
# ceiling, GET /{id} and the unfiltered list over the largest set

# context switches of all threads of <pids>
ctxsw() {
    local pid
    for pid in "$@"; do
        cat /proc/"$pid"/task/*/status 2>/dev/null
    done | awk '/ctxt_switches:/ {s += $2} END {print s + 0}'
}

# perf_run <name> <wrk arguments...>: a run of its own, profiled, with the
# context switches per request of the workers and of memcached
perf_run() {
    local name=$1 w0 m0 w1 m1
    shift
    perf_start "$name" "$((DURATION > 3 ? DURATION - 2 : 1))"
    w0=$(ctxsw $(workers))
    m0=$(ctxsw "$mc_pid")
    wrk_wait "$dir/wrk/perf-$name.txt" "$@" || true
    w1=$(ctxsw $(workers))
    m1=$(ctxsw "$mc_pid")
    perf_wait "$name"
    parse_wrk "$dir/wrk/perf-$name.txt"
    awk -v r="$W_requests" -v w=$((w1 - w0)) -v m=$((m1 - m0)) -v rps="$W_rps" \
        'BEGIN {printf "== %d requests (%.0f/s, under perf); context switches" \
            " a request: nginx workers %.2f, memcached %.2f\n\n",
            r, rps, w / r, m / r}' > "$dir/perf-$name.head"
    cat "$dir/perf-$name.head" "$dir/perf-$name.txt" > "$dir/perf-$name.tmp"
    mv "$dir/perf-$name.tmp" "$dir/perf-$name.txt"
    rm -f "$dir/perf-$name.head"
}

if [ -n "$PERF" ]; then
    perf_run ceiling $WRK_SETTINGS -H "X-API-Key: $KEY" \
        -s "$bench/static.lua" "$URL/ceiling"
    perf_run get $WRK_SETTINGS -H "X-API-Key: $KEY" \
        $lua "$URL$API" $(rotate get "$dir/ids/rotate")
    perf_run "list-$big" $WRK_SETTINGS -H "X-API-Key: $KEY" \
        -s "$bench/static.lua" "$URL/list-$big-entries?per_page=25"
fi

# --- what memcached and the error log say ----------------------------------

mc_stats=$(
    exec 3<>"/dev/tcp/127.0.0.1/$MCPORT"
    printf 'stats\r\nquit\r\n' >&3
    tr -d '\r' <&3 | awk '$1 == "STAT" && ($2 == "curr_items" ||
        $2 == "bytes" || $2 == "evictions" || $2 == "limit_maxbytes" ||
        $2 == "version") {printf "%s %s, ", $2, $3}'
)
mc_stats=${mc_stats%, }
case $mc_stats in
    *"evictions 0"*) ;;
    *) note "memcached evicted items: $mc_stats" ;;
esac

errlog_total=$(sed -n 's/^[0-9/]* [0-9:]* \[\([a-z]*\)\].*/\1/p' \
    "$dir/logs/error.log" | grep -v -e '^notice$' -e '^info$' \
    | sort | uniq -c | awk '{printf "%s %s, ", $1, $2}')
errlog_total=${errlog_total%, }
errlog_sample=$(grep -v -e '\[notice\]' -e '\[info\]' "$dir/logs/error.log" \
    | sed 's/^[0-9/]* [0-9:]* //; s/, client: .*//; s/[0-9a-f]\{24\}/<id>/g' \
    | sed 's/^\[\([a-z]*\)\] [0-9]*#[0-9]*: \*[0-9]* /[\1] /; s/^\[\([a-z]*\)\] [0-9]*#[0-9]*: /[\1] /' \
    | sort | uniq -c | sort -rn | head -10)

# --- the report ------------------------------------------------------------

best() {                    # <key>: the higher req/s of <key> and <key>-2
    awk -F'\t' -v k="$1" '($1 == k || $1 == k "-2") && $6 > m {m = $6}
        END {print m + 0}' "$RESULTS"
}
ceiling_rps=$(best ceiling)
ceiling_lua_rps=$(best ceiling-lua)

table=$(awk -F'\t' -v cs="$ceiling_rps" -v cl="$ceiling_lua_rps" '
    BEGIN {
        print "| operation | requests | req/s | × ceiling | p50 ms | p99 ms | nginx µs/req | nginx cs/req | memcached µs/req | memcached cs/req | non-2xx | error log | other load |"
        print "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|"
    }
    {
        ratio = "";
        if ($3 == "static" && cs > 0) ratio = sprintf("%.2f", $6 / cs);
        if ($3 == "lua" && cl > 0) ratio = sprintf("%.2f¹", $6 / cl);
        non2xx = $9;
        if ($9 != "0" && $9 != "(above)") {
            n = split($10, s, " "); det = "";
            for (i = 1; i <= n; i++) if (s[i] !~ /^2/) det = det " " s[i];
            non2xx = $9 " (" substr(det, 2) ")";
        }
        if ($12 != "0") non2xx = non2xx ", socket errors " $12;
        # the cost a request: CPU µs, voluntary + involuntary switches
        # (none for GET during lists: the lists ran in the same workers)
        split($14, ng, " "); split($15, mc, " ");
        if ($1 == "get-during" || ng[1] == "-" || ng[1] == "")
            cost = "| | ";
        else
            cost = sprintf("| %.1f | %.2f ", ng[1], ng[2] + ng[3]);
        if ($1 == "get-during" || mc[1] == "-" || mc[1] == "")
            cost = cost "| | ";
        else
            cost = cost sprintf("| %.1f | %.2f ", mc[1], mc[2] + mc[3]);
        printf "| %s | %d | %.0f | %s | %.2f | %.2f %s| %s | %s | %s %% |\n",
            $2, $4, $6, ratio, $7, $8, cost, non2xx,
            ($11 == "-" ? "" : $11), $13
    }' "$RESULTS")

rss_table=$(printf '%s' "$RSS_ROWS" | awk -F'\t' '
    BEGIN { print "| when | workers (pid: VmRSS kB) | total kB |"; print "|---|---|--:|" }
    {
        n = split($2, f, " "); w = ""; t = "";
        for (i = 1; i <= n; i++) {
            if (f[i] ~ /^total:/) t = substr(f[i], 7); else w = w ", " f[i];
        }
        printf "| %s | %s | %s |\n", $1, substr(w, 3), t
    }')

# worker RSS over the million GETs, after the first tenth (the warm-up):
# "<total before> <total after> <worst growth kB> <its %> <flat 1|0> <workers>"
rss_flat=""
if [ "$MILLION" -gt 0 ]; then
    rss_flat=$(printf '%s' "$RSS_ROWS" | awk -F'\t' \
        -v a="after $first more GETs" -v b="after $MILLION more GETs" '
        $1 == a || $1 == b {
            n = split($2, f, " ");
            for (i = 1; i <= n; i++) {
                split(f[i], kv, ":");
                if (kv[1] == "total") continue;
                if ($1 == a) A[kv[1]] = kv[2]; else B[kv[1]] = kv[2];
            }
        }
        END {
            flat = 1; worst = -1e9; wp = 0;
            for (p in A) {
                w++;
                if (!(p in B)) { flat = 0; continue }
                g = B[p] - A[p]; pct = A[p] > 0 ? 100 * g / A[p] : 0;
                # flat: under 2 MB or under 5 % more, each worker
                if (g >= 2048 && pct >= 5) flat = 0;
                if (g > worst) { worst = g; wp = pct }
                ta += A[p]; tb += B[p];
            }
            for (p in B) if (!(p in A)) flat = 0;
            if (!w) { flat = 0; worst = 0 }
            printf "%d %d %d %.1f %d %d", ta, tb, worst, wp, flat, w
        }')
fi

# the ratio of the mean req/s of the runs named: "<ratio> <mean a> <mean b>"
mean_ratio() {              # "<keys a>" "<keys b>"
    awk -F'\t' -v a=" $1 " -v b=" $2 " '
        index(a, " " $1 " ") {x += $6; nx++}
        index(b, " " $1 " ") {y += $6; ny++}
        END {if (nx && y > 0) printf "%.2f %.0f %.0f", (x / nx) / (y / ny), x / nx, y / ny}' "$RESULTS"
}
# every status change adds a status_history item: how much the entries
# PATCH went round grew over its run
status_growth=$(awk -F'\t' -v n="$N_ROTATE" '$1 == "status" && n > 0 {
    printf "%.0f", $4 / n}' "$RESULTS")

read -r history_ratio history_rps fresh_rps <<< \
    "$(mean_ratio "get-history get-history-2" "get-fresh get-fresh-2")" || true

# the mixed run, its last sample against its index: "<the most a worker
# holds / index> <its kB> <index kB> <shards> <workers>"; the most a
# worker held at any sample: "<kB> <at s>"; the index at the start: kB
mixed_end=""
mixed_peak=""
mixed_idx0=""
if [ -s "$MIXED_SAMPLES" ]; then
    mixed_end=$(tail -1 "$MIXED_SAMPLES" | awk -F'\t' '{
        n = split($2, f, " "); worst = 0; w = 0;
        for (i = 1; i <= n; i++) {
            if (f[i] ~ /^total:/) continue;
            split(f[i], kv, ":"); w++;
            if (kv[2] + 0 > worst) worst = kv[2] + 0;
        }
        split($3, ix, " ");
        if (ix[1] > 0)
            printf "%.2f %d %.0f %d %d", worst * 1024 / ix[1], worst,
                ix[1] / 1024, ix[2], w }')
    mixed_peak=$(awk -F'\t' '{
        n = split($2, f, " ");
        for (i = 1; i <= n; i++) {
            if (f[i] ~ /^total:/) continue;
            split(f[i], kv, ":");
            if (kv[2] + 0 > worst) {worst = kv[2] + 0; at = $1}
        }
    } END {printf "%d %d", worst, at}' "$MIXED_SAMPLES")
    mixed_idx0=$(head -1 "$MIXED_SAMPLES" | awk -F'\t' '{split($3, ix, " ");
        printf "%.0f", ix[1] / 1024}')
    [ -n "$mixed_end" ] \
        || note "the mixed run found no index shard bench:mixed:idx:<n> in memcached (mg <key> s): the index size, and the memory figure, are missing"
fi

# the samples of the mixed run, at most a dozen of them: the first, the
# last, and evenly between
mixed_table=""
if [ -s "$MIXED_SAMPLES" ]; then
    mixed_table=$(awk -F'\t' -v total="$(wc -l < "$MIXED_SAMPLES")" '
        BEGIN {
            print "| s | workers (pid: VmRSS kB) | index kB (shards) | the most a worker holds / index |"
            print "|--:|---|--:|--:|"
            step = int((total - 2) / 10) + 1; if (step < 1) step = 1
        }
        (NR - 1) % step == 0 || NR == total {
            n = split($2, f, " "); w = ""; worst = 0;
            for (i = 1; i <= n; i++) {
                if (f[i] ~ /^total:/) continue;
                w = w ", " f[i]; split(f[i], kv, ":");
                if (kv[2] + 0 > worst) worst = kv[2] + 0;
            }
            split($3, ix, " ");
            printf "| %s | %s | %.0f (%d) | %s |\n", $1, substr(w, 3),
                ix[1] / 1024, ix[2],
                (ix[1] > 0 ? sprintf("%.2f", worst * 1024 / ix[1]) : "")
        }' "$MIXED_SAMPLES")
fi

# the targets: issue 14's (the figures of the operations on one entry,
# entry size, memory), issue 6's and issue 18's of the lists
targets=$(
    check() {               # <what> <issue> <value> <awk condition on v> <target> [<shown>]
        local ok
        if [ -z "$3" ]; then
            echo "| $1 | $2 | $5 | not measured | |"
            return
        fi
        ok=$(awk -v v="$3" "BEGIN {print ($4) ? \"met\" : \"**not met**\"}")
        echo "| $1 | $2 | $5 | ${6:-$3} | $ok |"
    }
    echo "| target | issue | wanted | measured | |"
    echo "|---|--:|---|--:|---|"
    ratio() {               # <key> <ceiling req/s>
        awk -F'\t' -v k="$1" -v c="$2" '$1 == k && c > 0 {printf "%.2f", $6 / c}' "$RESULTS"
    }
    field() {               # <key> <column of results.tsv>
        awk -F'\t' -v k="$1" -v c="$2" '$1 == k {print $c}' "$RESULTS"
    }
    # the lists alone measure none of issue 14's figures
    if [ -z "$LISTS" ]; then
        check "GET /{id} / ceiling¹" 14 "$(ratio get "$ceiling_lua_rps")" "v >= 0.60" "≥ 0.60"
        check "POST / / ceiling" 14 "$(ratio post "$ceiling_rps")" "v >= 0.40" "≥ 0.40"
        check "PUT /{id} / ceiling¹" 14 "$(ratio put "$ceiling_lua_rps")" "v >= 0.35" "≥ 0.35"
        check "PATCH /{id}/status / ceiling¹" 14 "$(ratio status "$ceiling_lua_rps")" "v >= 0.35" "≥ 0.35"
        check "GET /{id} of an entry with $HISTORY status_history items / of a fresh one" 14 \
            "${history_ratio:-}" "v >= 0.80" "≥ 0.80" \
            "${history_ratio:-} ($history_rps / $fresh_rps req/s, the means)"
        if [ -n "$rss_flat" ]; then
            read -r r_a r_b r_g r_p r_flat r_w <<< "$rss_flat"
            check "worker RSS flat over $MILLION GETs (after the first $first)" 14 \
                "$r_flat" "v == 1" "each worker < 5 % or < 2 MB more" \
                "$r_a → $r_b kB ($r_w workers); the most a worker grew: $r_g kB, $r_p %"
        else
            check "worker RSS flat over a million GETs (BENCH_MILLION=0: none)" 14 "" "" \
                "each worker < 5 % or < 2 MB more"
        fi
    fi
    for n in $SIZES; do
        p99=$(awk -F'\t' -v k="list-$n-c1" '$1 == k {print $8}' "$RESULTS")
        case $n in
            10000) check "GET / over 10k, p99 (1 connection)" 6 "$p99" "v + 0 < 10" "< 10 ms" "$p99 ms" ;;
            100000) check "GET / over 100k, p99 (1 connection)" 6 "$p99" "v + 0 < 50" "< 50 ms" "$p99 ms" ;;
        esac
    done
    g=$(field get 8)
    gd=$(field get-during 8)
    check "GET /{id} p99 during lists over $big / alone" "6, 18" \
        "$(awk -v a="$gd" -v b="$g" 'BEGIN {if (b > 0) printf "%.2f", a / b}')" "v <= 2" \
        "≤ 2$([ "$big" = 100000 ] || echo " (over 100000)")" \
        "$(awk -v a="$gd" -v b="$g" 'BEGIN {if (b > 0) printf "%.2f (%s / %s ms)", a / b, a, b}')"

    # issue 18: lists that cost what they return; the sizes are the
    # issue's, so that another BENCH_SIZES says "not measured"
    case " $SIZES " in
        *" 100000 "*)
            p99=$(field list-100000-c1 8)
            check "GET / of 25 over 100k, p99 (1 connection)" 18 "$p99" \
                "v + 0 <= 5" "≤ 5 ms" "$p99 ms" ;;
        *)
            check "GET / of 25 over 100k, p99 (1 connection; BENCH_SIZES has no 100000)" 18 \
                "" "" "≤ 5 ms" ;;
    esac
    case " $SIZES " in
        *" 10000 "*)
            rps=$(field list-10000 6)
            shown=$(awk -v v="$rps" 'BEGIN {printf "%.0f lists/s", v}')
            [ "$CONNECTIONS" = 64 ] || shown="$shown (at $CONNECTIONS connections, not 64)"
            check "GET / of 25 over 10k, throughput (64 connections)" 18 "$rps" \
                "v + 0 >= 5000" "≥ 5000 lists/s" "$shown" ;;
        *)
            check "GET / of 25 over 10k, throughput (64 connections; BENCH_SIZES has no 10000)" 18 \
                "" "" "≥ 5000 lists/s" ;;
    esac
    wanted="each worker ≤ 3 × the index"
    [ "$MIXED_DURATION" = 600 ] && [ "$MIXED_ENTRIES" = 100000 ] \
        || wanted="$wanted (the issue's: after 600 s over 100000)"
    if [ -n "$mixed_end" ]; then
        read -r m_ratio m_kb m_idx m_shards m_w <<< "$mixed_end"
        read -r p_kb p_at <<< "$mixed_peak"
        check "worker RSS after ${MIXED_DURATION} s of lists and writes over $MIXED_ENTRIES / index size" 18 \
            "$m_ratio" "v <= 3" "$wanted" \
            "$m_ratio (the most of $m_w workers: $m_kb kB; the index: $m_idx kB in $m_shards shards, $mixed_idx0 kB at the start; the most at any sample: $p_kb kB, at ${p_at} s)"
    else
        check "worker RSS after lists and writes over 100k / index size$([ "$MIXED_DURATION" -gt 0 ] || echo " (BENCH_MIXED_DURATION=0: none)")" 18 \
            "" "" "$wanted"
    fi
)

load_end=$(cut -d' ' -f1-3 /proc/loadavg)
CPU_AT=$RUN_CPU_AT
others_run=$(cpu_others)
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
mem=$(awk '/^MemTotal:/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
nginx_version=$("$nginx" -v 2>&1 | sed 's/^nginx version: nginx\///')
nginx_configure=$("$nginx" -V 2>&1 | sed -n 's/^configure arguments: //p' \
    | sed "s|$top/||g; s|$top|.|g")
memcached_version=$(memcached -V)
wrk_version=$(wrk -v 2>&1 | head -1 | sed 's/ Copyright.*//')
libmemcached_version=$(dpkg-query -W -f='${Version}' libmemcached-dev 2>/dev/null || echo "?")
yajl_version=$(dpkg-query -W -f='${Version}' libyajl-dev 2>/dev/null || echo "?")
mode=full
[ -n "$QUICK" ] && mode="quick (BENCH_QUICK=1)"
[ -n "$LISTS" ] && mode="the lists alone (BENCH_LISTS=1)"
command_line="make bench"
[ -n "$QUICK" ] && command_line="$command_line BENCH_QUICK=1"
[ -n "$LISTS" ] && command_line="make bench-lists"
# the settings given in the environment, so that a run can be told apart
overrides=$(env | grep -E '^BENCH_(SIZES|DURATION|LAT_DURATION|CONNECTIONS|THREADS|MIXED_[A-Z]*|MILLION|HISTORY_ENTRIES)=' \
    | sort | tr '\n' ' ')
[ -n "$overrides" ] && command_line="${overrides}$command_line"
[ -n "$PERF" ] && command_line="$command_line BENCH_PERF=1 (3 profiled runs more, not in the table)"
elapsed=$SECONDS

if [ -n "$LISTS" ]; then
    seeded="Seeded through the API: $N_ROTATE entries that \`GET /{id}\` goes round
(their ids read back through \`GET /?per_page=100&page=k\`; each wrk thread
has its own share), and $(echo $SIZES | sed 's/ /, /g') entries, each under a key prefix of
its own, for the lists. Each entry is about $GET_BYTES bytes as served."
    examples="$(cat "$dir/wrk/get.txt.cmd" "$dir/wrk/list-$big.txt.cmd" \
        "$dir/wrk/list-$big-c1.txt.cmd" | sed "s|$top/||g")"
    history_text=""
    columns="non-2xx counts"
else
    seeded="Seeded through the API: $((2 * N_ROTATE + N_DELETE)) entries for the operations on one
entry (GET goes round $N_ROTATE of them, their ids read back through
\`GET /?per_page=100&page=k\`; PUT and PATCH go round $N_ROTATE others; each
wrk thread has its own share; DELETE deletes the last $N_DELETE, each once,
and ends when they are gone), and $(echo $SIZES | sed 's/ /, /g') entries, each under a key prefix of its own,
for the lists. Each entry is about $GET_BYTES bytes as served; the ceiling body is
$CEILING_BYTES bytes."
    examples="$(cat "$dir/wrk/ceiling.txt.cmd" "$dir/wrk/get.txt.cmd" \
        "$dir/wrk/post.txt.cmd" "$dir/wrk/list-$big.txt.cmd" | sed "s|$top/||g")"
    # (a blank line, then the paragraphs, after the one on the list sets)
    history_text="

PATCH /{id}/status changed each of its $N_ROTATE entries about
${status_growth:-?} times over its run: each change adds a \`status_history\`
item, so its entries grew from 1 to about $(( ${status_growth:-0} + 1 )) items as it went (a
faster build grows them more).

Entry size: under a key prefix of its own, $N_HISTORY fresh entries (one
\`status_history\` item, $FRESH_BYTES bytes as served) and $N_HISTORY whose
\`status_history\` has $HISTORY items (the create's, then $((HISTORY - 1))
\`PATCH /{id}/status\` with \`notes\`, \`in_progress\` and \`pending\` in turn;
$HISTORY_BYTES bytes as served; $h_hist_ok of $h_hist counted with $HISTORY
items in the list). GET goes round either set in four runs: fresh, $HISTORY
items, $HISTORY items, fresh; the target is the ratio of the means."
    columns="× ceiling is req/s over the ceiling's req/s in the same run (measured at
the start and again after DELETE; the higher of the two): against
\`return 200\` driven by a static wrk request for static requests (POST, the
lists), and, marked ¹, against \`return 200\` driven by the same Lua
\`request()\` as the requests that name an entry (wrk's Lua costs the client
CPU the server would otherwise get on 2 shared cores). non-2xx counts"
fi

mixed_text=""
if [ -s "$MIXED_SAMPLES" ]; then
    mixed_text="The mixed run (issue 18: the workers' memory): under a key prefix of its
own, $MIXED_ENTRIES entries (a tenth \`in_progress\`, ten namespaces), served by
new workers (\`nginx -s reload\`: nothing the runs before left in their heaps
counts). For ${MIXED_DURATION} s, side by side, $MIXED_LISTS connections list (25 a page, going round
no filter, \`status=\`, \`company_namespace=\`, \`workorder=\`, \`client=\` and ten
\`_id[]\`, with other values every time: \`bench/lists.lua\`) and $MIXED_WRITES
connections change entries (\`PUT /{id}\` and \`PATCH /{id}/status\` in turn, round
the set; no creates, so the set keeps its size), each a wrk of its own
(\`-t1\`): the two rows \"mixed\" of the table. Every $MIXED_SAMPLE s the RSS of each
worker and the size of the set's index: the sum of the sizes of the values
\`bench:mixed:idx:0\` to \`idx:$((INDEX_SHARDS - 1))\` in memcached (\`mg <key> s\`), records of
changes not yet compacted included. The target takes the last sample,
right after the run:

$mixed_table
"
fi

report=$(cat <<REPORT
<!-- bench:begin (written by bench/bench.sh: everything up to bench:end is replaced on every run) -->
## Latest run

\`$command_line\`, $mode, $started, commit $commit; the run took ${elapsed}s.

**Machine**: $(nproc) CPUs ($cpu), $mem, Linux $(uname -r).
Load average (1, 5, 15 min) before the run: $load_start; after: $load_end.
Other processes (not this run's nginx, memcached, wrk or curl) used
$others_run % of the $(nproc) CPUs over the run (the "other load" column: during
each run); where that is high, the numbers are low and noisy.
**Versions**: nginx $nginx_version (\`$nginx_configure\`), $memcached_version,
libmemcached $libmemcached_version, yajl $yajl_version, $wrk_version.

nginx: \`worker_processes 2\`, \`thread_pool woportal threads=16 max_queue=4096\`
(lists: \`woportal_list_thread_pool\`, \`threads=4\`),
\`keepalive_requests 1000000\`, access log buffered (\`buffer=64k flush=1s\`, one
status a line), error log at \`notice\`; memcached: \`-m 2048 -c 4096\`, 4 threads,
on the same machine. Everything on 127.0.0.1. The generated configuration
is \`build/bench/run/nginx.conf\`; every wrk output is under \`build/bench/run/wrk/\`.

$seeded
In each list set a tenth of the entries is \`in_progress\`
(\`status=in_progress\` selects 10 %) and the entries are spread over ten
namespaces (\`company_namespace=ns-3\` selects 10 %).$history_text

Every run: \`wrk $WRK_SETTINGS -H 'X-API-Key: $KEY'\`
with a script of \`bench/\` (the "1 connection" rows: \`-t1 -c1 -d${LAT_DURATION}s\`),
for example:

\`\`\`sh
$examples
\`\`\`

$columns
nginx's access log over the run (499: wrk closed a connection with a request
in flight, when a thread ran out of ids); error log counts the lines above
\`notice\` the run added; other load is the share of all CPUs that other
processes took during the run. nginx µs/req and cs/req: the CPU time
(utime + stime of \`/proc/<pid>/stat\`, every thread) and the context
switches (voluntary + involuntary, summed over \`/proc/<pid>/task/*/status\`:
the thread pool's threads too) of the workers over the run, divided by the
requests wrk counted; memcached µs/req and cs/req: the same of memcached
(none for GET during lists: the lists ran meanwhile).

$table

Worker RSS (the million GETs at the end, and the mixed run, are served by
new workers, started by \`nginx -s reload\`: the memory the lists freed
cannot hide memory a GET keeps, and what the runs before left in the
workers' heaps does not count in what the mixed run's workers hold):

$rss_table

$mixed_text
Targets (issue 14: the operations on one entry, entry size, memory;
issue 6: the lists; issue 18: lists that cost what they return, all from
this run). The ratios are those of the table (¹: to the Lua
ceiling); worker RSS is flat when no worker grew by 5 % or more and by
2 MB or more between the first tenth of the million GETs (the warm-up)
and their end; the most a worker holds after the mixed run is taken
against the size of its set's index in memcached then:

$targets

memcached at the end: $mc_stats.
Error log over the whole run: ${errlog_total:-no line above notice}.
$(if [ -n "$errlog_sample" ]; then
    echo
    echo "Most frequent error-log lines (ids replaced by \`<id>\`):"
    echo
    echo '```'
    echo "$errlog_sample"
    echo '```'
fi)
$(if [ -n "$NOTES" ]; then
    echo
    echo "Checks that failed:"
    echo
    printf '%s' "$NOTES"
fi)
<!-- bench:end -->
REPORT
)

if [ -f "$OUT" ] && grep -q '^<!-- bench:begin' "$OUT" \
        && grep -q '^<!-- bench:end -->' "$OUT"; then
    # keep what was written around the generated part
    {
        sed -n '1,/^<!-- bench:begin/p' "$OUT" | sed '$d'
        printf '%s\n' "$report"
        sed -n '/^<!-- bench:end -->/,$p' "$OUT" | sed '1d'
    } > "$OUT.new"
else
    mkdir -p "$(dirname "$OUT")"
    {
        echo "# Benchmarks"
        echo
        echo "Written by \`make bench\` (see DEVELOPING.md, \"Benchmarks\"). Notes may be added"
        echo "outside the bench:begin/bench:end markers: a run replaces only what is"
        echo "between them."
        echo
        printf '%s\n' "$report"
    } > "$OUT.new"
fi
mv "$OUT.new" "$OUT"

echo
echo "$table"
echo
echo "$rss_table"
echo
if [ -n "$mixed_table" ]; then
    echo "The mixed run (${MIXED_DURATION}s over $MIXED_ENTRIES entries; index: bench:mixed:idx:<n> in memcached):"
    echo
    echo "$mixed_table"
    echo
fi
echo "$targets"
echo
[ -n "$NOTES" ] && printf 'Checks that failed:\n%s\n' "$NOTES"
echo "error log: ${errlog_total:-no line above notice}; memcached: $mc_stats"
echo "other processes used $others_run % of the CPUs over the run"
log "done in ${SECONDS}s; report in ${OUT#$top/}"
