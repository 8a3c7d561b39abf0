#!/bin/bash
# Compare nginx builds on the operations on one entry, interleaved, so
# that the load other processes put on a shared machine falls on all of
# them alike.
#
#   bench/compare.sh <nginx A> [<nginx B> ...]
#
# One memcached, seeded once (BENCH_COMPARE_SEED entries to GET, as many
# to PUT and PATCH); then BENCH_COMPARE_ROUNDS rounds, in each of which
# every build in turn is started (with the bench's configuration) and
# measured: the Lua ceiling, GET /{id}, PUT /{id}, PATCH /{id}/status and
# POST / (against the static ceiling), BENCH_DURATION seconds each.
# Prints each build's req/s and ratio to its own ceiling per round, and
# the median ratio over the rounds.
#
# Environment: BENCH_PORT (18500), BENCH_MEMCACHED_PORT (21500),
# BENCH_DURATION (3), BENCH_COMPARE_ROUNDS (3), BENCH_COMPARE_OPS
# ("get put status post"), BENCH_COMPARE_THREADS (the pool's threads, 16),
# BENCH_CONNECTIONS (64), BENCH_COMPARE_SEED (2000).
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
bench=$top/bench
dir=$top/build/bench/compare
[ $# -ge 1 ] || { echo "usage: $0 <nginx> [<nginx>...]" >&2; exit 1; }

PORT=${BENCH_PORT:-18500}
MCPORT=${BENCH_MEMCACHED_PORT:-21500}
DURATION=${BENCH_DURATION:-3}
ROUNDS=${BENCH_COMPARE_ROUNDS:-3}
OPS=${BENCH_COMPARE_OPS:-"get put status post"}
POOL=${BENCH_COMPARE_THREADS:-16}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
SEED=${BENCH_COMPARE_SEED:-2000}
KEY=bench-key
API=/api/v1/workorder-portal
URL=http://127.0.0.1:$PORT
W="-t2 -c$CONNECTIONS -d${DURATION}s --timeout 10s --latency"
H="X-API-Key: $KEY"

listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

listening "$PORT" && { echo "port $PORT is taken" >&2; exit 1; }
listening "$MCPORT" && { echo "port $MCPORT is taken" >&2; exit 1; }

rm -rf "$dir"
mkdir -p "$dir/logs" "$dir/temp" "$dir/ids"

mc_pid=""
ngx_pid=""

stop_nginx() {
    [ -n "$ngx_pid" ] || return 0
    kill -QUIT "$ngx_pid" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$ngx_pid" 2>/dev/null || break
        sleep 0.05
    done
    ngx_pid=""
}

cleanup() {
    stop_nginx
    [ -n "$mc_pid" ] && kill "$mc_pid" 2>/dev/null || true
    for _ in $(seq 100); do
        listening "$MCPORT" || break
        sleep 0.05
    done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

memcached -d -l 127.0.0.1 -p "$MCPORT" -U 0 -u root -m 1024 -c 4096 \
    -P "$dir/memcached.pid"
for _ in $(seq 100); do
    listening "$MCPORT" && [ -s "$dir/memcached.pid" ] && break
    sleep 0.05
done
mc_pid=$(cat "$dir/memcached.pid")

cat > "$dir/nginx.conf" <<CONF
worker_processes  2;
error_log  logs/error.log  notice;
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
        location = /bench-noop { return 204; }
        location $API { woportal; }
    }
}
CONF

start_nginx() {
    "$1" -p "$dir/" -c "$dir/nginx.conf" -e "$dir/logs/error.log"
    for _ in $(seq 100); do
        listening "$PORT" && [ -s "$dir/logs/nginx.pid" ] && break
        sleep 0.05
    done
    ngx_pid=$(cat "$dir/logs/nginx.pid")
}

HZ=$(getconf CLK_TCK)

# CPU jiffies and context switches of nginx's workers and memcached
usage() {
    local pids
    pids="$(pgrep -P "$ngx_pid" | tr '\n' ' ') $mc_pid"
    for pid in $pids; do
        awk '{print "cpu", $14 + $15}' "/proc/$pid/stat"
        cat /proc/"$pid"/task/*/status 2>/dev/null \
            | awk '/ctxt_switches:/ {s += $2} END {print "cs", s + 0}'
    done | awk '$1 == "cpu" {c += $2} $1 == "cs" {s += $2} END {print c, s}'
}

# us of CPU and context switches a request, from two usage lines
per_request() {             # <before> <after> <requests>
    echo "$1 $2 $3" | awk -v hz="$HZ" '{
        printf "%.1fus %.1fcs", ($3 - $1) * 1e6 / hz / $5, ($4 - $2) / $5 }'
}

requests() {
    sed -n 's/^BENCH requests=\([0-9]*\).*/\1/p' "$1" | tail -1
}

rps() {                     # <wrk output>: req/s from the BENCH line
    sed -n 's/^BENCH .*rps=\([0-9.]*\).*/\1/p' "$1" | tail -1
}

seed() {                    # <ids file>
    wrk -t2 -c64 -d600s --timeout 10s -H "X-API-Key: $KEY" \
        -s "$bench/seed.lua" "$URL$API" -- "$SEED" 2 "$1" > "$1.wrk" 2>&1
    cat "$1".part.* > "$1"
    rm -f "$1".part.* "$1".done.*
}

start_nginx "$1"
seed "$dir/ids/get"
seed "$dir/ids/modify"
stop_nginx

: > "$dir/results.tsv"

for round in $(seq "$ROUNDS"); do
    b=0
    for nginx in "$@"; do
        b=$((b + 1))
        start_nginx "$nginx"
        out=$dir/r$round-b$b
        wrk $W -H "$H" -s "$bench/rotate.lua" "$URL$API" -- ceiling - 2 0 \
            > "$out-ceiling-lua.txt" 2>&1
        wrk $W -H "$H" -s "$bench/static.lua" "$URL/ceiling" \
            > "$out-ceiling.txt" 2>&1
        cl=$(rps "$out-ceiling-lua.txt")
        cs=$(rps "$out-ceiling.txt")
        line="round $round build $b: ceiling $cs, lua $cl"
        for op in $OPS; do
            u0=$(usage)
            case $op in
                get) wrk $W -H "$H" -s "$bench/rotate.lua" "$URL$API" -- get \
                         "$dir/ids/get" 2 0 > "$out-$op.txt" 2>&1; c=$cl ;;
                put|status) wrk $W -H "$H" -s "$bench/rotate.lua" "$URL$API" -- \
                         "$op" "$dir/ids/modify" 2 0 > "$out-$op.txt" 2>&1
                         c=$cl ;;
                post) wrk $W -H "$H" -s "$bench/post.lua" "$URL$API" \
                         > "$out-$op.txt" 2>&1; c=$cs ;;
            esac
            u1=$(usage)
            r=$(rps "$out-$op.txt")
            ratio=$(awk -v a="$r" -v c="$c" 'BEGIN {printf "%.3f", a / c}')
            pr=$(per_request "$u0" "$u1" "$(requests "$out-$op.txt")")
            line="$line; $op $r ($ratio, $pr)"
            printf '%s\t%s\t%s\t%s\t%s\n' "$b" "$op" "$r" "$ratio" \
                "${pr%%us *}" >> "$dir/results.tsv"
        done
        stop_nginx
        echo "$line"
    done
done

echo
echo "median ratio to the ceiling (and CPU of nginx and memcached a request) over $ROUNDS rounds:"
b=0
for nginx in "$@"; do
    b=$((b + 1))
    line="build $b ($nginx):"
    for op in $OPS; do
        m=$(awk -F'\t' -v b="$b" -v op="$op" '$1 == b && $2 == op {print $4}' \
            "$dir/results.tsv" | sort -n \
            | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
        u=$(awk -F'\t' -v b="$b" -v op="$op" '$1 == b && $2 == op {print $5}' \
            "$dir/results.tsv" | sort -n \
            | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
        line="$line $op $m (${u}us)"
    done
    echo "$line"
done
grep -h -v -e '\[notice\]' -e '\[info\]' "$dir/logs/error.log" | tail -5 || true
