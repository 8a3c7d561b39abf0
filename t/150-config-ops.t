use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
no_shuffle();

# Configuration mistakes nginx refuses at startup (as `nginx -t` does),
# naming the directive, and its file and line where it has one: the
# metrics and health locations, thread pools, memcached strings and
# persistence values, and woportal locations that share a key prefix in
# one memcached but not the number of index shards.  t/151-nginx-t.t checks the same through nginx -t
# itself, with the exact line of each.

our $Woportal = <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    my $config = $block->config // '';
    $config =~ s/^\s*WOPORTAL\s*$/$Woportal/m;
    $block->set_value(config => $config);
    return $block;
});

run_tests();

__DATA__

=== TEST 1: woportal_metrics without any woportal location
--- config
    location = /metrics {
        woportal_metrics;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_metrics" needs a "woportal" location in the same http block in \S+nginx\.conf:\d+/



=== TEST 2: woportal_health without any woportal location
--- config
    location = /health {
        woportal_health;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_health" needs a "woportal" location in the same http block in \S+nginx\.conf:\d+/



=== TEST 3: woportal_metrics in the woportal location itself
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_metrics;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_metrics" directive cannot be used in a "woportal" location in \S+nginx\.conf:\d+/



=== TEST 4: woportal after woportal_health in one location
--- config
    location /api/v1/workorder-portal {
        woportal_health;
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_health" cannot be used in a "woportal" location in \S+nginx\.conf:\d+/



=== TEST 5: woportal_metrics twice in a location
--- config
    WOPORTAL

    location = /metrics {
        woportal_metrics;
        woportal_metrics;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_metrics" directive is duplicate.* in \S+nginx\.conf:\d+/



=== TEST 6: woportal_metrics and woportal_health in one location
--- config
    WOPORTAL

    location = /ops {
        woportal_metrics;
        woportal_health;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_health" directive is duplicate, or the location has another content handler in \S+nginx\.conf:\d+/



=== TEST 7: woportal_metrics takes no argument
--- config
    WOPORTAL

    location = /metrics {
        woportal_metrics on;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*invalid number of arguments in "woportal_metrics" directive in \S+nginx\.conf:\d+/



=== TEST 8: woportal_health is a location's directive only
--- config
    woportal_health;

    WOPORTAL
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_health" directive is not allowed here in \S+nginx\.conf:\d+/



=== TEST 9: a thread pool that no thread_pool declares, at the http level
--- http_config
    woportal_thread_pool nosuch;
--- config
    WOPORTAL
--- must_die
--- error_log eval
qr/\[emerg\].*unknown thread pool "nosuch" in \S+nginx\.conf:\d+/



=== TEST 10: ... in the health location
--- config
    WOPORTAL

    location = /health {
        woportal_thread_pool nosuch;
        woportal_health;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*unknown thread pool "nosuch" in \S+nginx\.conf:\d+/



=== TEST 11: a libmemcached string that does not parse, at the http level: the directive and libmemcached's reason
--- http_config
    woportal_memcached "--SERVER=127.0.0.1:11211 --NO-SUCH-OPTION";
--- config
    WOPORTAL
--- must_die
--- error_log eval
qr/\[emerg\].*invalid value "--SERVER=127\.0\.0\.1:11211 --NO-SUCH-OPTION" in "woportal_memcached" directive: \S.* in \S+nginx\.conf:\d+/



=== TEST 12: an unknown persistence scheme
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_persist mysql:db;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*invalid value "mysql:db" in "woportal_persist" directive.* in \S+nginx\.conf:\d+/



=== TEST 13: two locations with one key prefix in one memcached but different shard counts
--- config
    location /a {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }

    location /b {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_index_shards 16;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*woportal locations "\/a" and "\/b" share the key prefix "woportal:" in one memcached, so they must have the same "woportal_index_shards", not 256 and 16, in \S+nginx\.conf/



=== TEST 14: a libmemcached string that parses but names no server
--- http_config
    woportal_memcached "--BINARY-PROTOCOL";
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_api_key test-key;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*invalid value "--BINARY-PROTOCOL" in "woportal_memcached" directive: no server \(--SERVER=host:port\) in \S+nginx\.conf:\d+/



=== TEST 15: a PostgreSQL conninfo that libpq cannot parse: libpq's reason
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_persist "postgresql:host=127.0.0.1 nosuchoption=1";
    }
--- must_die
--- error_log eval
qr/\[emerg\].*invalid conninfo "host=127\.0\.0\.1 nosuchoption=1" in "woportal_persist" directive: .*nosuchoption.* in \S+nginx\.conf:\d+/



=== TEST 16: woportal_persist_timeout 0 with persistence
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_persist "postgresql:host=127.0.0.1 port=1";
        woportal_persist_timeout 0;
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*"woportal_persist_timeout" directive must be more than 0 in \S+nginx\.conf:\d+/



=== TEST 17: one key prefix in two different memcached, or two prefixes in one, one persisting and one not, are fine
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
        woportal_index_shards 16;
    }

    location /c {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix "c:";
        woportal_index_shards 16;
    }

    location /d {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix "d:";
        woportal_persist "postgresql:host=127.0.0.1 port=1";
    }

    location = /metrics {
        woportal_metrics;
    }
--- request
GET /metrics
--- error_code: 200
