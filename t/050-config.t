# Configuration: nginx refuses a bad woportal configuration at startup
# (as `nginx -t` does), naming the directive and the reason; the good ones
# work end to end: a declared thread pool, a key prefix, directives
# inherited from the server and http levels.

use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;

no_shuffle();

our $Id = '0123456789abcdef01234567';

run_tests();

__DATA__

=== TEST 1: woportal without woportal_memcached is refused
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_api_key test-key;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_memcached"/



=== TEST 2: woportal without any woportal_api_key is refused
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_api_key"/



=== TEST 3: an unparsable libmemcached configuration string is refused, naming the directive and the value
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVERX=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT";
        woportal_api_key test-key;
    }
--- must_die
--- error_log eval
[qr/\[emerg\].*woportal_memcached/, qr/\[emerg\].*--SERVERX=/]



=== TEST 4: woportal_memcached_timeout 0 is refused
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 0;
        woportal_api_key test-key;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_memcached_timeout".*0/



=== TEST 5: woportal_max_body_size 0 is refused
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_max_body_size 0;
        woportal_api_key test-key;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_max_body_size".*0/



=== TEST 6: a woportal_key_prefix with a space is refused
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_key_prefix "wo portal:";
        woportal_api_key test-key;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_key_prefix".*space/



=== TEST 7: a woportal_api_key_header with an underscore is refused
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_api_key_header X_API_Key;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_api_key_header"/



=== TEST 8: woportal_thread_pool naming a pool no thread_pool declares is refused, naming the pool
# nginx's thread pool module reports it, once the whole configuration is
# read (thread_pool may follow http{}); the module asks for the pool in
# the directive's handler, so the file:line named is that directive's.
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_thread_pool foo;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*unknown thread pool "foo" in \S+nginx\.conf:\d+/



=== TEST 9: woportal twice in a location is refused
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal" directive.*duplicate/



=== TEST 10: woportal in a regex location is refused
--- config
    location ~ ^/api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal" directive.*location/



=== TEST 11: a declared thread_pool with woportal_thread_pool works end to end (create, then read)
--- main_config
    thread_pool tp threads=2;
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_thread_pool tp;
    }
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request
POST /api/v1/workorder-portal
{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013"}
--- error_code: 201
--- response_body_like chomp
"success"\s*:\s*true



=== TEST 12: ... and the entry created through the declared pool reads back through it
--- main_config
    thread_pool tp threads=2;
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_thread_pool tp;
    }
--- more_headers
X-API-Key: test-key
--- request
GET /api/v1/workorder-portal/{{id}}
--- error_code: 200
--- response_body_like chomp
"success"\s*:\s*true



=== TEST 13: woportal_key_prefix "other:": create stores the entry under that prefix
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix "other:";
    }
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request
POST /api/v1/workorder-portal
{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013"}
--- error_code: 201
--- response_body_like chomp
"success"\s*:\s*true



=== TEST 14: ... it is in memcached as other:<id>, not woportal:<id>, and reads back through the location
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix "other:";
    }
--- init
my $id = Woportal::last_id();
my $stored = Woportal::memcached_entry("other:$id");
Test::More::ok(defined $stored, "the entry is stored under other:$id");
Test::More::like($stored // '', qr/"_id"\s*:\s*"$id"/,
                 "other:$id holds the entry");
Test::More::ok(!defined Woportal::memcached_get("woportal:$id"),
               "nothing is stored under woportal:$id");
--- more_headers
X-API-Key: test-key
--- request
GET /api/v1/workorder-portal/{{id}}
--- error_code: 200
--- response_body_like chomp
"success"\s*:\s*true



=== TEST 15: ... a location with the default prefix does not find it
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
--- more_headers
X-API-Key: test-key
--- request
GET /api/v1/workorder-portal/{{id}}
--- error_code: 404
--- response_body_like chomp
"code"\s*:\s*"not_found"



=== TEST 16: woportal_key_prefix "other:": an entry seeded as other:<id> is read from there
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix "other:";
    }
--- init
Woportal::memcached_delete("woportal:$main::Id");
Woportal::memcached_set("other:$main::Id", Woportal::entry_json($main::Id));
--- more_headers
X-API-Key: test-key
--- request
GET /api/v1/workorder-portal/0123456789abcdef01234567
--- error_code: 200
--- response_body_like chomp
"_id"\s*:\s*"0123456789abcdef01234567"



=== TEST 17: directives inherited from the server level (store, timeout, keys, key header, body limit)
--- config
    woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
    woportal_memcached_timeout 1s;
    woportal_api_key server-key;
    woportal_api_key_header X-Server-Key;
    woportal_max_body_size 1k;

    location /api/v1/workorder-portal {
        woportal;
    }
--- request eval
["POST /api/v1/workorder-portal\n{\"workorder\":\"507f1f77bcf86cd799439012\",\"client\":\"507f1f77bcf86cd799439013\"}",
 "POST /api/v1/workorder-portal\n{\"workorder\":\"507f1f77bcf86cd799439012\",\"client\":\"507f1f77bcf86cd799439013\"}",
 "POST /api/v1/workorder-portal\n{\"workorder\":\"507f1f77bcf86cd799439012\"," . (' ' x 1100) . "\"client\":\"507f1f77bcf86cd799439013\"}"]
--- more_headers eval
["X-Server-Key: server-key\nContent-Type: application/json",
 "X-API-Key: server-key\nContent-Type: application/json",
 "X-Server-Key: server-key\nContent-Type: application/json"]
--- error_code eval
[201, 401, 413]
--- response_headers eval
["Content-Type: application/json", "Content-Type: application/json",
 "Content-Type: application/json"]
--- response_body_like eval
['"success"\s*:\s*true', '"code"\s*:\s*"unauthorized"',
 '"code"\s*:\s*"payload_too_large"']



=== TEST 18: directives inherited from the http level; the location adds its own key
--- http_config
    woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
    woportal_key_prefix "http-level:";
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_api_key loc-key;
    }
--- more_headers
X-API-Key: loc-key
Content-Type: application/json
--- request
POST /api/v1/workorder-portal
{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013"}
--- error_code: 201
--- response_body_like chomp
"success"\s*:\s*true



=== TEST 19: ... the entry is stored under the http-level prefix
--- http_config
    woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
    woportal_key_prefix "http-level:";
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_api_key loc-key;
    }
--- init
my $id = Woportal::last_id();
Test::More::ok(defined Woportal::memcached_get("http-level:$id"),
               "the entry is stored under http-level:$id");
--- more_headers
X-API-Key: loc-key
--- request
GET /api/v1/workorder-portal/{{id}}
--- error_code: 200
--- response_body_like chomp
"success"\s*:\s*true



=== TEST 20: woportal_list_thread_pool naming a pool no thread_pool declares is refused, naming the pool
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_list_thread_pool lists;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*unknown thread pool "lists" in \S+nginx\.conf:\d+/



=== TEST 21: woportal_list_thread_pool twice in a location is refused
--- main_config
    thread_pool lists threads=2;
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_list_thread_pool lists;
        woportal_list_thread_pool lists;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*"woportal_list_thread_pool" directive.*duplicate/



=== TEST 22: woportal_list_thread_pool inherited from the http level: lists are served through it
--- http_config
    woportal_list_thread_pool lists;
--- main_config
    thread_pool lists threads=2;
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix "t050-lists:";
    }
--- more_headers
X-API-Key: test-key
--- request
GET /api/v1/workorder-portal?per_page=1
--- error_code: 200
--- response_body_like chomp
"success"\s*:\s*true
