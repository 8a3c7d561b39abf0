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
# (a quick run: build/bench/BENCHMARKS-quick.md).
#
# Environment:
#   BENCH_QUICK=1          smaller sizes, shorter runs, no million GETs
#   BENCH_PORT             nginx port (18500)
#   BENCH_MEMCACHED_PORT   memcached port (21500)
#   BENCH_THREADS          wrk threads (2)
#   BENCH_CONNECTIONS      wrk connections (64)
#   BENCH_DURATION         seconds of each run (10; quick 3)
#   BENCH_SIZES            entries of the list runs ("1000 10000 100000";
#                          quick "1000 10000")
#   BENCH_MILLION          GETs of the memory check (1000000; quick: 0,
#                          none)
#   BENCH_PERF=1           also perf-record the workers during the ceiling,
#                          a GET /{id} run and a list run over the largest
#                          set: three runs more, not in the table
#                          (build/bench/run/perf-*.txt)
#   BENCH_OUT              the report (BENCHMARKS.md; quick:
#                          build/bench/BENCHMARKS-quick.md)
#
# Raw wrk outputs, nginx's logs and the generated nginx.conf stay under
# build/bench/run/.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
nginx=${1:?usage: $0 <nginx binary>}
nginx=$(cd "$(dirname "$nginx")" && pwd)/$(basename "$nginx")
bench=$top/bench
dir=$top/build/bench/run

QUICK=${BENCH_QUICK:-0}
[ "$QUICK" = 0 ] && QUICK=""
PORT=${BENCH_PORT:-18500}
MCPORT=${BENCH_MEMCACHED_PORT:-21500}
THREADS=${BENCH_THREADS:-2}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
KEY=bench-key
PERF=${BENCH_PERF:-0}
[ "$PERF" = 0 ] && PERF=""

if [ -n "$QUICK" ]; then
    DURATION=${BENCH_DURATION:-3}
    SIZES=${BENCH_SIZES:-"1000 10000"}
    N_ROTATE=2000           # entries GET goes round (PUT and PATCH: as many)
    N_DELETE=6000           # entries DELETE deletes, each once
    MILLION=${BENCH_MILLION:-0}
    LAT_DURATION=2          # the one-connection list runs
    OUT=${BENCH_OUT:-$top/build/bench/BENCHMARKS-quick.md}
else
    DURATION=${BENCH_DURATION:-10}
    SIZES=${BENCH_SIZES:-"1000 10000 100000"}
    N_ROTATE=10000
    N_DELETE=40000
    MILLION=${BENCH_MILLION:-1000000}
    LAT_DURATION=5
    OUT=${BENCH_OUT:-$top/BENCHMARKS.md}
fi

API=/api/v1/workorder-portal
URL=http://127.0.0.1:$PORT
WRK_SETTINGS="-t$THREADS -c$CONNECTIONS -d${DURATION}s --timeout 10s --latency"

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
$list_locations
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
rss_note() {                # <stage>
    local r
    r=$(rss)
    RSS_ROWS="$RSS_ROWS$1	$r
"
    log "worker RSS $1: $r"
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
run_wrk() {
    local key=$1 label=$2 ceiling=$3 url=$4
    shift 4
    local out=$dir/wrk/$key.txt
    local opts=() sargs=()
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
    BENCH_DONE=$dir/done/$key wrk_wait "$out" \
        "${opts[@]}" -H "X-API-Key: $KEY" "$url" "${sargs[@]}" \
        || die "wrk failed for $label: $(tail -5 "$out")"
    OTHERS=$(cpu_others)
    count_logs
    parse_wrk "$out"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
        "$key" "$label" "$ceiling" "$W_requests" "$W_seconds" "$W_rps" \
        "$W_p50_ms" "$W_p99_ms" "$NON2XX" "$STATUSES" "${ERRLOG:--}" \
        "$W_socket_errors" "$OTHERS" >> "$RESULTS"
    log "$(printf '%-34s %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  non-2xx %s  others %s%%%s' \
        "$label" "$W_rps" "$W_p50_ms" "$W_p99_ms" "$NON2XX" "$OTHERS" \
        "${ERRLOG:+  error log: $ERRLOG}")"
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
seed "$API" "$N_ROTATE" "$dir/ids/modify"
seed "$API" "$N_DELETE" "$dir/ids/delete"

# the ceiling body against a real answer
real=$(curl -s -H "X-API-Key: $KEY" "$URL$API/$(head -1 "$dir/ids/rotate")")
case $real in
    '{"success":true,"data":{'*) ;;
    *) die "GET $API/{id} answered: $real" ;;
esac
CEILING_BYTES=${#ceiling_body}
GET_BYTES=${#real}
log "ceiling body $CEILING_BYTES bytes, GET /{id} body $GET_BYTES bytes"

for n in $SIZES; do
    seed "/list-$n-entries" "$n" "$dir/ids/list-$n"
    # a tenth in_progress, so that status= selects
    head -n $((n / 10)) "$dir/ids/list-$n" > "$dir/ids/list-$n.progress"
    BENCH_DONE=$dir/done/progress-$n wrk_wait "$dir/wrk/seed-progress-$n.txt" \
        -t"$THREADS" -c"$CONNECTIONS" -d600s --timeout 10s \
        -H "X-API-Key: $KEY" -s "$bench/rotate.lua" "$URL/list-$n-entries" \
        -- status-once "$dir/ids/list-$n.progress" "$THREADS" \
        || die "status changes at $n: $(tail -5 "$dir/wrk/seed-progress-$n.txt")"
    sleep 0.2               # the last ones wrk did not wait for
    t_all=$(total "$URL/list-$n-entries?per_page=1")
    t_prog=$(total "$URL/list-$n-entries?per_page=1&status=in_progress")
    t_ns=$(total "$URL/list-$n-entries?per_page=1&company_namespace=ns-3")
    log "list-$n: total $t_all, in_progress $t_prog, ns-3 $t_ns"
    [ "$t_all" = "$n" ] || note "the list over $n entries says total $t_all"
    [ "$t_prog" = $((n / 10)) ] \
        || note "$((n / 10)) of $n entries were set in_progress; the list with status=in_progress says total $t_prog"
done

# --- the runs --------------------------------------------------------------

sleep 1
rss_note "after seeding, before the runs"

lua="-s $bench/rotate.lua"
rotate() {                  # <op> <ids> [limit]
    echo "-- $1 $2 $THREADS ${3:-0}"
}

run_wrk ceiling "return 200 (the ceiling)" - "$URL/ceiling" \
    $WRK_SETTINGS -s "$bench/static.lua"
run_wrk ceiling-lua "return 200, Lua request()" - "$URL$API" \
    $WRK_SETTINGS $lua $(rotate ceiling -)

run_wrk get "GET /{id}" lua "$URL$API" \
    $WRK_SETTINGS $lua $(rotate get "$dir/ids/rotate")

run_wrk post "POST /" static "$URL$API" \
    $WRK_SETTINGS -s "$bench/post.lua"
run_wrk put "PUT /{id}" lua "$URL$API" \
    $WRK_SETTINGS $lua $(rotate put "$dir/ids/modify")
run_wrk status "PATCH /{id}/status" lua "$URL$API" \
    $WRK_SETTINGS $lua $(rotate status "$dir/ids/modify")

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
printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    list-during "the lists meanwhile ($big, 2 connections)" - \
    "$W_requests" "$W_seconds" "$W_rps" "$W_p50_ms" "$W_p99_ms" \
    "(above)" "" "-" "$W_socket_errors" "$OTHERS" >> "$RESULTS"
log "$(printf '%-34s %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms' \
    "the lists meanwhile" "$W_rps" "$W_p50_ms" "$W_p99_ms")"

run_wrk delete "DELETE /{id}" lua "$URL$API" \
    $WRK_SETTINGS $lua $(rotate delete "$dir/ids/delete")

# the ceiling again: the higher of the two is the one ratios are taken to
run_wrk ceiling-2 "return 200 (the ceiling), again" - "$URL/ceiling" \
    $WRK_SETTINGS -s "$bench/static.lua"
run_wrk ceiling-lua-2 "return 200, Lua request(), again" - "$URL$API" \
    $WRK_SETTINGS $lua $(rotate ceiling -)

sleep 1
rss_note "after the runs"

if [ "$MILLION" -gt 0 ]; then
    # fresh workers, whose heap the lists have not grown: memory that a
    # GET kept would otherwise hide in what the lists freed
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
        print "| operation | requests | req/s | × ceiling | p50 ms | p99 ms | non-2xx | error log | other load |"
        print "|---|--:|--:|--:|--:|--:|--:|---|--:|"
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
        printf "| %s | %d | %.0f | %s | %.2f | %.2f | %s | %s | %s %% |\n",
            $2, $4, $6, ratio, $7, $8, non2xx, ($11 == "-" ? "" : $11), $13
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

# the targets of issue 6
get_ratio=$(awk -F'\t' -v c="$ceiling_lua_rps" '$1 == "get" {printf "%.2f", $6 / c}' "$RESULTS")
targets=$(
    check() {               # <what> <value> <awk condition on v> <target>
        local ok
        ok=$(awk -v v="$2" "BEGIN {print ($3) ? \"met\" : \"**not met**\"}")
        echo "| $1 | $4 | $2 | $ok |"
    }
    echo "| target | wanted | measured | |"
    echo "|---|---|--:|---|"
    ratio() { awk -F'\t' -v k="$1" -v c="$2" '$1 == k {printf "%.2f", $6 / c}' "$RESULTS"; }
    check "GET /{id} / ceiling" "$(ratio get "$ceiling_lua_rps")" "v >= 0.50" "≥ 0.50"
    check "POST / / ceiling" "$(ratio post "$ceiling_rps")" "v >= 0.35" "≥ 0.35"
    check "PUT /{id} / ceiling" "$(ratio put "$ceiling_lua_rps")" "v >= 0.30" "≥ 0.30"
    check "PATCH /{id}/status / ceiling" "$(ratio status "$ceiling_lua_rps")" "v >= 0.30" "≥ 0.30"
    for n in $SIZES; do
        p99=$(awk -F'\t' -v k="list-$n-c1" '$1 == k {print $8}' "$RESULTS")
        case $n in
            10000) check "GET / over 10k, p99 (1 connection)" "$p99 ms" "v + 0 < 10" "< 10 ms" ;;
            100000) check "GET / over 100k, p99 (1 connection)" "$p99 ms" "v + 0 < 50" "< 50 ms" ;;
        esac
    done
    g=$(awk -F'\t' '$1 == "get" {print $8}' "$RESULTS")
    gd=$(awk -F'\t' '$1 == "get-during" {print $8}' "$RESULTS")
    check "GET /{id} p99 during lists over $big / alone" \
        "$(awk -v a="$gd" -v b="$g" 'BEGIN {printf "%.2f", a / b}')" "v <= 2" "≤ 2"
    if [ "$MILLION" -gt 0 ]; then
        a=$(printf '%s' "$RSS_ROWS" | awk -F'\t' -v k="after $first more GETs" \
            '$1 == k {sub(/.*total:/, "", $2); print $2}')
        b=$(printf '%s' "$RSS_ROWS" | awk -F'\t' -v k="after $MILLION more GETs" \
            '$1 == k {sub(/.*total:/, "", $2); print $2}')
        check "worker RSS after $MILLION GETs / after $((MILLION / 10))" \
            "$(awk -v a="$b" -v b="$a" 'BEGIN {printf "%.3f", a / b}')" \
            "v <= 1.05" "≤ 1.05"
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
command_line="make bench"
[ -n "$QUICK" ] && command_line="$command_line BENCH_QUICK=1"
[ -n "$PERF" ] && command_line="$command_line BENCH_PERF=1 (3 profiled runs more, not in the table)"
elapsed=$SECONDS

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

Seeded through the API: $((2 * N_ROTATE + N_DELETE)) entries for the operations on one
entry (GET goes round $N_ROTATE of them, their ids read back through
\`GET /?per_page=100&page=k\`; PUT and PATCH go round $N_ROTATE others; each
wrk thread has its own share; DELETE deletes the last $N_DELETE, each once,
and ends when they are gone), and $(echo $SIZES | sed 's/ /, /g') entries, each under a key prefix of its own,
for the lists. Each entry is about $GET_BYTES bytes as served; the ceiling body is
$CEILING_BYTES bytes. In each list set a tenth of the entries is \`in_progress\`
(\`status=in_progress\` selects 10 %) and the entries are spread over ten
namespaces (\`company_namespace=ns-3\` selects 10 %).

Every run: \`wrk $WRK_SETTINGS -H 'X-API-Key: $KEY'\`
with a script of \`bench/\` (the "1 connection" rows: \`-t1 -c1 -d${LAT_DURATION}s\`),
for example:

\`\`\`sh
$(cat "$dir/wrk/ceiling.txt.cmd" | sed "s|$top/||g")
$(cat "$dir/wrk/get.txt.cmd" | sed "s|$top/||g")
$(cat "$dir/wrk/post.txt.cmd" | sed "s|$top/||g")
$(cat "$dir/wrk/list-$big.txt.cmd" | sed "s|$top/||g")
\`\`\`

× ceiling is req/s over the ceiling's req/s in the same run (measured at
the start and again after DELETE; the higher of the two): against
\`return 200\` driven by a static wrk request for static requests (POST, the
lists), and, marked ¹, against \`return 200\` driven by the same Lua
\`request()\` as the requests that name an entry (wrk's Lua costs the client
CPU the server would otherwise get on 2 shared cores). non-2xx counts
nginx's access log over the run (499: wrk closed a connection with a request
in flight, when a thread ran out of ids); error log counts the lines above
\`notice\` the run added; other load is the share of all CPUs that other
processes took during the run.

$table

Worker RSS (the GETs at the end are served by new workers, started by
\`nginx -s reload\`, so that the memory the lists freed cannot hide memory a
GET keeps):

$rss_table

Targets (issue 6):

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
echo "$targets"
echo
[ -n "$NOTES" ] && printf 'Checks that failed:\n%s\n' "$NOTES"
echo "error log: ${errlog_total:-no line above notice}; memcached: $mc_stats"
echo "other processes used $others_run % of the CPUs over the run"
log "done in ${SECONDS}s; report in ${OUT#$top/}"
