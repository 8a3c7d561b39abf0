#!/bin/bash
# make run / make stop: serve the API on loopback from run/<PORT>/.
#
#   util/run.sh start|stop <nginx binary>
#
# Environment: PORT (8080), MEMCACHED_PORT (11211), MEMCACHED_MB (1024:
# the memory of a memcached it starts), API_KEY (the key in
# conf/woportal.conf), KEYS_FILE (a woportal_api_keys file served instead
# of that key).  A memcached already listening on MEMCACHED_PORT
# is used as it is; one started here is stopped by `stop`, by its pid.
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
action=$1
nginx=${2:-}
PORT=${PORT:-8080}
MEMCACHED_PORT=${MEMCACHED_PORT:-11211}
DEV_KEY=dev-key-change-me
API_KEY=${API_KEY:-$DEV_KEY}
KEYS_FILE=${KEYS_FILE:-}
dir=$top/run/$PORT
mcpid=$dir/memcached/memcached.pid

# a zombie (exited, not yet reaped by init) counts as gone
alive() {
    local pid
    [ -f "$1" ] || return 1
    pid=$(cat "$1" 2>/dev/null) || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    case $(ps -o stat= -p "$pid" 2>/dev/null) in Z*|"") return 1 ;; esac
}

listening() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# stops the process of pid file $1 with signal $2 and returns when it is
# gone and its port $4 free, so that a start right after never meets it
# (a memcached still shutting down answered the first requests 503)
stop_pid() {
    local pid
    if alive "$1"; then
        pid=$(cat "$1" 2>/dev/null) || return 1
        kill "-$2" "$pid"
        for _ in $(seq 300); do
            alive "$1" || listening "$4" || break
            sleep 0.1
        done
        if alive "$1" || listening "$4"; then
            echo "$3 (pid $pid) did not stop within 30 s" >&2
            return 1
        fi
        echo "stopped $3 (pid $pid)"
    fi
    rm -f "$1"
}

case $action in
stop)
    stop_pid "$dir/logs/nginx.pid" QUIT nginx "$PORT"
    stop_pid "$mcpid" TERM memcached "$MEMCACHED_PORT"
    exit 0
    ;;
start)
    ;;
*)
    echo "usage: $0 start|stop <nginx binary>" >&2
    exit 2
    ;;
esac

case $API_KEY in
    *[!A-Za-z0-9._~+/=-]*|"")
        echo "API_KEY may hold only letters, digits and . _ ~ + / = -" >&2
        exit 2 ;;
esac

# the key directive of conf/woportal.conf, or a key file in its place
keys="s|$DEV_KEY|$API_KEY|"
if [ -n "$KEYS_FILE" ]; then
    if [ ! -r "$KEYS_FILE" ]; then
        echo "KEYS_FILE $KEYS_FILE cannot be read" >&2
        exit 2
    fi
    KEYS_FILE=$(cd "$(dirname "$KEYS_FILE")" && pwd)/$(basename "$KEYS_FILE")
    keys="s|woportal_api_key  *$DEV_KEY;|woportal_api_keys $KEYS_FILE;|"
fi

mkdir -p "$dir/logs" "$dir/temp" "$dir/data"

# the SQLite database of conf/woportal.conf: nginx's workers run as nobody
# when it is started as root
if [ "$(id -u)" = 0 ]; then
    chown nobody "$dir/data"
fi

if ! alive "$mcpid" && ! listening "$MEMCACHED_PORT"; then
    # never as root: as the user of Debian's memcached package, or nobody;
    # it writes its pid file as that user, into a directory of its own
    user=""
    mkdir -p "$dir/memcached"
    if [ "$(id -u)" = 0 ]; then
        user=nobody
        if id memcache >/dev/null 2>&1; then
            user=memcache
        fi
        chown "$user" "$dir/memcached"
        user="-u $user"
    fi
    # entries and the list index must fit: memcached evicts what does not
    memcached -d -l 127.0.0.1 -p "$MEMCACHED_PORT" -U 0 $user \
        -m "${MEMCACHED_MB:-1024}" -P "$mcpid"
    for _ in $(seq 100); do
        listening "$MEMCACHED_PORT" && break
        sleep 0.05
    done
    listening "$MEMCACHED_PORT" || {
        echo "memcached did not start on 127.0.0.1:$MEMCACHED_PORT" >&2
        exit 1
    }
    echo "started memcached on 127.0.0.1:$MEMCACHED_PORT"
fi

sed -e "s/127\.0\.0\.1:8080/127.0.0.1:$PORT/" \
    -e "s/127\.0\.0\.1:11211/127.0.0.1:$MEMCACHED_PORT/" \
    -e "$keys" \
    "$top/conf/woportal.conf" > "$dir/nginx.conf"

"$nginx" -p "$dir/" -c nginx.conf -t -q

if alive "$dir/logs/nginx.pid"; then
    "$nginx" -p "$dir/" -c nginx.conf -s reload
    echo "reloaded nginx on 127.0.0.1:$PORT"
else
    "$nginx" -p "$dir/" -c nginx.conf
    for _ in $(seq 100); do
        listening "$PORT" && break
        sleep 0.05
    done
    echo "started nginx on 127.0.0.1:$PORT (logs in run/$PORT/logs)"
fi

url=http://127.0.0.1:$PORT/api/v1/workorder-portal

if [ -n "$KEYS_FILE" ]; then
    echo
    echo "Keys: $KEYS_FILE (below, put one of its keys in place of the"
    echo "development key)"
fi

cat <<USAGE

The API is at $url

Create an entry, then read it back (paste both lines):

  id=\$(curl -s -X POST $url -H 'X-API-Key: $API_KEY' -H 'Content-Type: application/json' -d '{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013","company_namespace":["acme"]}' | tee /dev/stderr | sed -n 's/.*"_id":"\([0-9a-f]*\)".*/\1/p'); echo
  curl -s $url/\$id -H 'X-API-Key: $API_KEY'; echo

Stop it with: make stop PORT=$PORT

USAGE
