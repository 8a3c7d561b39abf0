use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use File::Temp ();
use IO::Socket::INET ();
use POSIX ();
use Time::HiRes ();
no_shuffle();

# woportal_health: 200 when every store of the woportal locations answers
# (each memcached configuration, each database), 503 otherwise, with a
# small JSON body saying which.  The checks run in the thread pool.
#
# Not through t/inc/Woportal.pm: these bodies are not the API's envelope.

our $Dir = File::Temp::tempdir(CLEANUP => 1);
$ENV{TEST_NGINX_HEALTH_DIR} = $Dir;

# a port that accepts connections (the kernel's backlog) and never answers
$ENV{TEST_NGINX_MEMCACHED_PORT} //= 21211;
$ENV{TEST_NGINX_SILENT_PORT} = $ENV{TEST_NGINX_MEMCACHED_PORT} + 2;
our $Silent = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                    LocalPort => $ENV{TEST_NGINX_SILENT_PORT},
                                    Listen => 64, ReuseAddr => 1)
    or die "cannot listen on $ENV{TEST_NGINX_SILENT_PORT}: $!\n";

# a GET in a child process, answered or not: its pid
sub request_in_background {
    my $path = shift;
    my $pid = fork // die "fork: $!\n";
    return $pid if $pid;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => Test::Nginx::Socket::server_port(),
                                  Timeout => 5);
    if ($s) {
        print $s "GET $path HTTP/1.0\r\nHost: localhost\r\n\r\n";
        my $buf;
        1 while sysread $s, $buf, 4096;
    }
    POSIX::_exit(0);
}

run_tests();

__DATA__

=== TEST 1: memcached answers: 200, ok
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }

    location = /health {
        woportal_health;
    }
--- request
GET /health
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body
{"status":"ok","memcached":"ok"}
--- no_error_log
[error]



=== TEST 2: memcached does not answer (a closed port): 503, and the log says which and why
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:1 --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }

    location = /health {
        woportal_health;
    }
--- request
GET /health
--- error_code: 503
--- response_headers
Content-Type: application/json
--- response_body
{"status":"unavailable","memcached":"unavailable"}
--- error_log eval
qr/\[error\].*woportal: health: memcached "--SERVER=127\.0\.0\.1:1 --BINARY-PROTOCOL" does not answer/



=== TEST 3: every memcached configuration is checked: one of two down is 503
--- config
    location /a {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }

    location /b {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:1 --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }

    location = /health {
        woportal_health;
    }
--- request
GET /health
--- error_code: 503
--- response_body
{"status":"unavailable","memcached":"unavailable"}



=== TEST 4: ... and a cluster with one server down is 503 too
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --SERVER=127.0.0.1:1 --BINARY-PROTOCOL --DISTRIBUTION=consistent";
        woportal_api_key test-key;
    }

    location = /health {
        woportal_health;
    }
--- request
GET /health
--- error_code: 503
--- response_body
{"status":"unavailable","memcached":"unavailable"}



=== TEST 5: with persistence, the database is checked too: both answer
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_persist sqlite:$TEST_NGINX_HEALTH_DIR/health.db;
    }

    location = /health {
        woportal_health;
    }
--- request
GET /health
--- error_code: 200
--- response_body
{"status":"ok","memcached":"ok","sql":"ok"}



=== TEST 6: a database that cannot be used: 503, sql unavailable, memcached ok
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_persist sqlite:/proc/wp.db;
    }

    location = /health {
        woportal_health;
    }
--- request
GET /health
--- error_code: 503
--- response_body
{"status":"unavailable","memcached":"ok","sql":"unavailable"}
--- error_log
woportal: health: the sqlite database does not answer



=== TEST 7: a PostgreSQL server that cannot be reached: 503, sql unavailable
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_persist "postgresql:host=127.0.0.1 port=1 dbname=woportal connect_timeout=1";
    }

    location = /health {
        woportal_health;
    }
--- request
GET /health
--- error_code: 503
--- response_body
{"status":"unavailable","memcached":"ok","sql":"unavailable"}



=== TEST 8: the checks run in the woportal_thread_pool in effect at the health location
# one thread, a queue of one: of three checks of a silent memcached, the
# third finds the queue full, and nginx names the pool
--- main_config
    thread_pool health threads=1 max_queue=1;
--- config
    location /a {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_SILENT_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 300ms;
        woportal_api_key test-key;
    }

    location /b {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_SILENT_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 301ms;
        woportal_api_key test-key;
    }

    location /c {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_SILENT_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 302ms;
        woportal_api_key test-key;
    }

    location = /health {
        woportal_thread_pool health;
        woportal_health;
    }
--- request
GET /health
--- error_code: 503
--- response_body
{"status":"unavailable","memcached":"unavailable"}
--- error_log
thread pool "health" queue overflow



=== TEST 9: ... inherited from the server level like the other woportal directives
--- main_config
    thread_pool health threads=1 max_queue=1;
--- config
    woportal_thread_pool health;

    location /a {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_SILENT_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 300ms;
        woportal_api_key test-key;
    }

    location /b {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_SILENT_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 301ms;
        woportal_api_key test-key;
    }

    location /c {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_SILENT_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 302ms;
        woportal_api_key test-key;
    }

    location = /health {
        woportal_health;
    }
--- request
GET /health
--- error_code: 503
--- error_log
thread pool "health" queue overflow



=== TEST 10: a store that does not answer does not hold up the event loop: another request is answered meanwhile
# the silent port accepts connections and never answers: the check waits
# for the whole timeout (1.5 s) in a pool thread, while /ping is answered
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_SILENT_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 1500ms;
        woportal_api_key test-key;
    }

    location = /health {
        woportal_health;
    }

    location = /ping {
        return 200 "pong\n";
    }
--- init
$main::Health = main::request_in_background('/health');
Time::HiRes::sleep(0.2);
--- request
GET /ping
--- error_code: 200
--- response_body
pong
--- timeout: 1



=== TEST 11: ... and the health check, when the timeout is over, is 503
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_SILENT_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 300ms;
        woportal_api_key test-key;
    }

    location = /health {
        woportal_health;
    }
--- request
GET /health
--- error_code: 503
--- response_body
{"status":"unavailable","memcached":"unavailable"}



=== TEST 12: only GET and HEAD
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }

    location = /health {
        woportal_health;
    }
--- request eval
["POST /health\nx", "HEAD /health"]
--- error_code eval
[405, 200]



=== TEST 13: a memcached that stalls does not make the database's check fail: sql ok
# one pool thread: the memcached check holds it for the whole timeout and
# fails; the database's check, queued behind it, is a call of its own (it
# was once posted with the memcached store, and answered as a call that
# waited while memcached failed)
--- main_config
    thread_pool health threads=1;
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_SILENT_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 300ms;
        woportal_api_key test-key;
        woportal_persist sqlite:$TEST_NGINX_HEALTH_DIR/stalled.db;
    }

    location = /health {
        woportal_thread_pool health;
        woportal_health;
    }
--- request
GET /health
--- error_code: 503
--- response_body
{"status":"unavailable","memcached":"unavailable","sql":"ok"}
