use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;

# Browsers, caches, rate limits (CONTRACT-NOTES): OPTIONS needs no key;
# CORS only for the origins of woportal_cors_origins, with the exact
# headers of a preflight and of any other answer; "Cache-Control: private,
# no-cache" and Vary naming the key header on what depends on the key; a
# limit_req refusal is 429 rate_limited, and 429 and 503 carry
# Retry-After.

no_shuffle();

our $Base = '/api/v1/workorder-portal';
our $Id = '0123456789abcdef01234567';

our $Cors = <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_cors_origins https://app.example http://localhost:8080;
    }
_EOC_

# the headers of an answer that depends on the key, CORS off
our $PerKey = "Cache-Control: private, no-cache\nVary: X-API-Key\n"
            . "!Access-Control-Allow-Origin\n"
            . "!Access-Control-Expose-Headers\n";

# the same, to an allowed origin
our $PerKeyCors = "Cache-Control: private, no-cache\n"
                . "Vary: X-API-Key, Origin\n"
                . "Access-Control-Allow-Origin: https://app.example\n"
                . "Access-Control-Expose-Headers: ETag, Location, "
                . "Retry-After\n"
                . "!Access-Control-Allow-Methods\n";

our $NoCors = "!Access-Control-Allow-Origin\n!Access-Control-Allow-Methods\n"
            . "!Access-Control-Allow-Headers\n!Access-Control-Max-Age\n"
            . "!Access-Control-Expose-Headers\n";

block_defaults(config => $Woportal::Location);

run_tests();

__DATA__

=== TEST 1: OPTIONS needs no key: 204 and the path's methods, and nothing that depends on a key
--- request eval
["OPTIONS $main::Base", "OPTIONS $main::Base/$main::Id",
 "OPTIONS $main::Base/$main::Id/status", "OPTIONS $main::Base/not-an-id"]
--- more_headers eval
["", "X-API-Key: wrong-key", "", ""]
--- error_code eval
[204, 204, 204, 204]
--- response_headers eval
[map { "Allow: $_\n!Cache-Control\n!Vary\n$main::NoCors" }
    'GET, HEAD, POST, OPTIONS', 'GET, HEAD, PUT, PATCH, DELETE, OPTIONS',
    'PUT, PATCH, OPTIONS', 'GET, HEAD, PUT, PATCH, DELETE, OPTIONS']
--- response_body eval
["", "", "", ""]



=== TEST 2: OPTIONS on a path the API does not have still needs a key: 401, then 404
--- request eval
["OPTIONS $main::Base/$main::Id/other", "OPTIONS $main::Base/$main::Id/other"]
--- more_headers eval
["", "X-API-Key: test-key"]
--- error_code eval
[401, 404]
--- api_error eval
['unauthorized', 'not_found']



=== TEST 3: CORS off: an Origin changes nothing, a preflight is a plain OPTIONS
--- request eval
["GET $main::Base", "OPTIONS $main::Base"]
--- more_headers eval
["X-API-Key: test-key\nOrigin: https://app.example",
 "Origin: https://app.example\nAccess-Control-Request-Method: POST"]
--- error_code eval
[200, 204]
--- response_headers eval
[$main::PerKey . $main::NoCors,
 "Allow: GET, HEAD, POST, OPTIONS\n!Vary\n$main::NoCors"]



=== TEST 4: a preflight from an allowed origin: 204 with the origin, the path's methods, the headers it may send and Max-Age
--- config eval
$main::Cors
--- request eval
["OPTIONS $main::Base", "OPTIONS $main::Base/$main::Id",
 "OPTIONS $main::Base/$main::Id/status"]
--- more_headers eval
[("Origin: https://app.example\nAccess-Control-Request-Method: PATCH\n"
  . "Access-Control-Request-Headers: x-api-key, content-type") x 3]
--- error_code eval
[204, 204, 204]
--- response_headers eval
[map { "Access-Control-Allow-Origin: https://app.example\n"
       . "Access-Control-Allow-Methods: $_\n"
       . "Access-Control-Allow-Headers: X-API-Key, Content-Type, If-Match, If-None-Match\n"
       . "Access-Control-Max-Age: 600\n"
       . "Vary: Origin\n!Access-Control-Expose-Headers\n!Cache-Control" }
    'GET, HEAD, POST, OPTIONS', 'GET, HEAD, PUT, PATCH, DELETE, OPTIONS',
    'PUT, PATCH, OPTIONS']
--- response_body eval
["", "", ""]



=== TEST 5: a preflight from another origin, or without an origin: no CORS header at all
--- config eval
$main::Cors
--- request eval
["OPTIONS $main::Base", "OPTIONS $main::Base", "OPTIONS $main::Base",
 "OPTIONS $main::Base"]
--- more_headers eval
["Origin: https://evil.example\nAccess-Control-Request-Method: POST",
 "Origin: https://app.example.evil\nAccess-Control-Request-Method: POST",
 "Origin: http://app.example\nAccess-Control-Request-Method: POST",
 "Access-Control-Request-Method: POST"]
--- error_code eval
[204, 204, 204, 204]
--- response_headers eval
[("Allow: GET, HEAD, POST, OPTIONS\nVary: Origin\n$main::NoCors") x 4]



=== TEST 6: every other answer to an allowed origin: the origin, the headers it may read, Vary: Origin
--- config eval
$main::Cors
--- request eval
["GET $main::Base",
 "GET $main::Base",
 "GET $main::Base/$main::Id",
 "DELETE $main::Base",
 "GET $main::Base",
 "OPTIONS $main::Base"]
--- more_headers eval
["X-API-Key: test-key\nOrigin: https://app.example",
 "Origin: https://app.example",
 "X-API-Key: test-key\nOrigin: https://app.example",
 "X-API-Key: test-key\nOrigin: https://app.example",
 "X-API-Key: test-key\nOrigin: https://other.example",
 "Origin: https://app.example"]
--- error_code eval
[200, 401, 404, 405, 200, 204]
--- response_headers eval
[($main::PerKeyCors) x 4,
 "Cache-Control: private, no-cache\nVary: X-API-Key, Origin\n$main::NoCors",
 "Access-Control-Allow-Origin: https://app.example\n"
 . "Access-Control-Expose-Headers: ETag, Location, Retry-After\n"
 . "Vary: Origin\n!Access-Control-Allow-Methods\n!Cache-Control"]



=== TEST 7: create: a 201 carries the per-key headers (the next blocks read it)
--- request
POST /api/v1/workorder-portal
{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013"}
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- error_code: 201
--- response_headers eval
$main::PerKey



=== TEST 8: an entry, its 304 and its status change carry them too (openapi.json does not: t/130)
--- request eval
["GET $main::Base/{{id}}", "GET $main::Base/{{id}}",
 "PATCH $main::Base/{{id}}/status\n{\"status\":\"in_progress\"}"]
--- more_headers eval
["X-API-Key: test-key", "X-API-Key: test-key\nIf-None-Match: \"1\"",
 "X-API-Key: test-key\nContent-Type: application/json"]
--- error_code eval
[200, 304, 200]
--- response_headers eval
[$main::PerKey, $main::PerKey, $main::PerKey]



=== TEST 9: Vary and the preflight's Allow-Headers name the location's own key header
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_api_key_header Portal-Key;
        woportal_cors_origins https://app.example;
    }
--- request eval
["GET $main::Base", "OPTIONS $main::Base"]
--- more_headers eval
["Portal-Key: test-key\nOrigin: https://app.example",
 "Origin: https://app.example\nAccess-Control-Request-Method: GET"]
--- error_code eval
[200, 204]
--- response_headers eval
["Cache-Control: private, no-cache\nVary: Portal-Key, Origin",
 "Access-Control-Allow-Headers: Portal-Key, Content-Type, If-Match, If-None-Match"]



=== TEST 10: limit_req with limit_req_status 429: 429 rate_limited with Retry-After, and the key still comes first
--- http_config
    limit_req_zone $binary_remote_addr zone=t032a:1m rate=1r/m;
    limit_req_status 429;
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        limit_req zone=t032a nodelay;
    }
--- request eval
[("GET /api/v1/workorder-portal") x 3]
--- more_headers eval
["X-API-Key: test-key", "X-API-Key: test-key", ""]
--- error_code eval
[200, 429, 401]
--- api_error eval
[undef, 'rate_limited', 'unauthorized']
--- response_headers eval
["!Retry-After", "Retry-After: 1\n$main::PerKey", "!Retry-After"]



=== TEST 11: limit_req's own 503 is 429 rate_limited too; woportal_retry_after sets the seconds
--- http_config
    limit_req_zone $binary_remote_addr zone=t032b:1m rate=1r/m;
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_retry_after 1m;
        limit_req zone=t032b nodelay;
    }
--- request eval
[("GET /api/v1/workorder-portal") x 2]
--- more_headers
X-API-Key: test-key
--- error_code eval
[200, 429]
--- api_error eval
[undef, 'rate_limited']
--- response_headers eval
["!Retry-After", "Retry-After: 60"]



=== TEST 12: 503 store_unavailable carries Retry-After
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:1 --BINARY-PROTOCOL";
        woportal_memcached_timeout 100ms;
        woportal_api_key test-key;
        woportal_retry_after 5;
    }
--- request eval
["GET /api/v1/workorder-portal/0123456789abcdef01234567",
 "DELETE /api/v1/workorder-portal/0123456789abcdef01234567"]
--- more_headers
X-API-Key: test-key
--- error_code eval
[503, 503]
--- api_error eval
['store_unavailable', 'store_unavailable']
--- response_headers eval
[("Retry-After: 5\n$main::PerKey") x 2]
--- no_error_log
[alert]
