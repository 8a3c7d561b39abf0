# What a woportal location answers before a body is stored: authentication
# (first of all), routing, methods (405, OPTIONS), the operations not
# implemented yet (501), the body limit (413) and the media type (415).
# Every error answer is application/json in the contract's envelope
# (t/inc/Woportal.pm checks each JSON body against the schema).

use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;

no_shuffle();

our $Id = '0123456789abcdef01234567';

# a valid create document, padded with inner whitespace to exactly $size
# bytes (the harness trims outer whitespace, so the padding is inside)
sub padded_create {
    my $size = shift;
    my $head = '{"workorder":"507f1f77bcf86cd799439012",';
    my $tail = '"client":"507f1f77bcf86cd799439013"}';
    my $pad = $size - length($head) - length($tail);
    die "padded_create: $size is too small\n" if $pad < 0;
    return $head . (' ' x $pad) . $tail;
}

# a chunked body of the given pieces
sub chunked {
    return join('', map { sprintf("%x\r\n%s\r\n", length $_, $_) } @_)
           . "0\r\n\r\n";
}

# the same create document cut into chunks of at most $n bytes
sub chunked_create {
    my ($size, $n) = @_;
    my $doc = padded_create($size);
    return chunked(unpack "(a$n)*", $doc);
}

# the location every block uses unless it brings its own config
my $default_config = <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(config => $default_config)
        unless defined $block->config;
});

run_tests();

__DATA__

=== TEST 1: no key: 401 unauthorized in the envelope
--- request
GET /api/v1/workorder-portal/0123456789abcdef01234567
--- error_code: 401
--- response_headers
Content-Type: application/json
--- response_body_like chomp
"code"\s*:\s*"unauthorized"



=== TEST 2: a wrong key (other case, prefix, longer, empty): 401
--- request eval
[("GET /api/v1/workorder-portal/$main::Id") x 5]
--- more_headers eval
["X-API-Key: wrong-key", "X-API-Key: TEST-KEY", "X-API-Key: test-ke",
 "X-API-Key: test-key2", "X-API-Key: "]
--- error_code eval
[401, 401, 401, 401, 401]
--- response_headers eval
[("Content-Type: application/json") x 5]
--- response_body_like eval
[('"code"\s*:\s*"unauthorized"') x 5]



=== TEST 3: header names are case-insensitive: the key in x-api-key / X-Api-KEY works
--- init
Woportal::memcached_set("woportal:$main::Id", Woportal::entry_json($main::Id));
--- request eval
[("GET /api/v1/workorder-portal/$main::Id") x 2]
--- more_headers eval
["x-api-key: test-key", "X-Api-KEY: test-key"]
--- error_code eval
[200, 200]
--- response_body_like eval
[('"_id"\s*:\s*"0123456789abcdef01234567"') x 2]



=== TEST 4: auth before routing: malformed id, unknown paths, location prefix + chars without a key are 401, not 404
--- request eval
["GET /api/v1/workorder-portal/not-an-id",
 "GET /api/v1/workorder-portal/0123456789ABCDEF01234567",
 "GET /api/v1/workorder-portal/x/y",
 "GET /api/v1/workorder-portal/$main::Id/other",
 "GET /api/v1/workorder-portalX"]
--- error_code eval
[401, 401, 401, 401, 401]
--- response_headers eval
[("Content-Type: application/json") x 5]
--- response_body_like eval
[('"code"\s*:\s*"unauthorized"') x 5]



=== TEST 5: auth before the method: 405 candidates and unimplemented operations without a key are 401 (OPTIONS needs none: t/032)
--- request eval
["DELETE /api/v1/workorder-portal",
 "FOO /api/v1/workorder-portal/$main::Id",
 "GET /api/v1/workorder-portal/$main::Id/status",
 "DELETE /api/v1/workorder-portal/$main::Id"]
--- error_code eval
[401, 401, 401, 401]
--- response_headers eval
[("Content-Type: application/json") x 4]
--- response_body_like eval
[('"code"\s*:\s*"unauthorized"') x 4]



=== TEST 6: auth before the body: invalid JSON, a wrong media type, no media type without a valid key are 401
--- request eval
["POST /api/v1/workorder-portal\n{\"workorder\": ",
 "POST /api/v1/workorder-portal\n{\"workorder\": ",
 "POST /api/v1/workorder-portal\nnot json at all",
 "POST /api/v1/workorder-portal\n{\"workorder\":\"w\",\"client\":\"c\"}"]
--- more_headers eval
["Content-Type: application/json",
 "Content-Type: application/json\nX-API-Key: wrong-key",
 "Content-Type: text/plain",
 "X-API-Key: nope"]
--- error_code eval
[401, 401, 401, 401]
--- response_headers eval
[("Content-Type: application/json") x 4]
--- response_body_like eval
[('"code"\s*:\s*"unauthorized"') x 4]



=== TEST 7: woportal_api_key_header: the key is read from the configured header only
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_api_key_header X-Portal-Token;
    }
--- init
Woportal::memcached_set("woportal:$main::Id", Woportal::entry_json($main::Id));
--- request eval
[("GET /api/v1/workorder-portal/$main::Id") x 4]
--- more_headers eval
["X-Portal-Token: test-key", "x-portal-token: test-key",
 "X-API-Key: test-key", "X-Portal-Token: wrong-key"]
--- error_code eval
[200, 200, 401, 401]
--- response_headers eval
[("Content-Type: application/json") x 4]
--- response_body_like eval
['"_id"\s*:\s*"0123456789abcdef01234567"',
 '"_id"\s*:\s*"0123456789abcdef01234567"',
 '"code"\s*:\s*"unauthorized"',
 '"code"\s*:\s*"unauthorized"']



=== TEST 8: several woportal_api_key lines: each key works, others do not
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key key-one;
        woportal_api_key key-two;
        woportal_api_key key-three;
    }
--- init
Woportal::memcached_set("woportal:$main::Id", Woportal::entry_json($main::Id));
--- request eval
[("GET /api/v1/workorder-portal/$main::Id") x 5]
--- more_headers eval
["X-API-Key: key-one", "X-API-Key: key-two", "X-API-Key: key-three",
 "X-API-Key: key-four", "X-API-Key: key-one,key-two"]
--- error_code eval
[200, 200, 200, 401, 401]
--- response_headers eval
[("Content-Type: application/json") x 5]
--- response_body_like eval
['"_id"\s*:\s*"0123456789abcdef01234567"',
 '"_id"\s*:\s*"0123456789abcdef01234567"',
 '"_id"\s*:\s*"0123456789abcdef01234567"',
 '"code"\s*:\s*"unauthorized"',
 '"code"\s*:\s*"unauthorized"']



=== TEST 9: unknown sub-paths: 404 not_found in the envelope
--- request eval
["GET /api/v1/workorder-portal/x/y",
 "GET /api/v1/workorder-portal/$main::Id/other",
 "GET /api/v1/workorder-portal/$main::Id/status/x",
 "POST /api/v1/workorder-portal/x/y\n{\"workorder\":\"w\",\"client\":\"c\"}",
 "DELETE /api/v1/workorder-portal/x/y"]
--- more_headers eval
["X-API-Key: test-key",
 "X-API-Key: test-key",
 "X-API-Key: test-key",
 "X-API-Key: test-key\nContent-Type: application/json",
 "X-API-Key: test-key"]
--- error_code eval
[404, 404, 404, 404, 404]
--- response_headers eval
[("Content-Type: application/json") x 5]
--- response_body_like eval
[('"code"\s*:\s*"not_found"') x 5]



=== TEST 10: the location prefix followed by other characters is not the API: 404 in the envelope
--- more_headers
X-API-Key: test-key
--- request eval
["GET /api/v1/workorder-portalX",
 "GET /api/v1/workorder-portalX/$main::Id",
 "GET /api/v1/workorder-portal-v2/",
 "OPTIONS /api/v1/workorder-portals"]
--- error_code eval
[404, 404, 404, 404]
--- response_headers eval
[("Content-Type: application/json") x 4]
--- response_body_like eval
[('"code"\s*:\s*"not_found"') x 4]



=== TEST 11: malformed ids are 404 not_found, even when a key of that name is in the store
--- init
Woportal::memcached_set("woportal:0123456789ABCDEF01234567",
    Woportal::entry_json("0123456789ABCDEF01234567"));
Woportal::memcached_set("woportal:0123456789abcdef0123456",
    Woportal::entry_json("0123456789abcdef0123456"));
--- more_headers
X-API-Key: test-key
--- request eval
["GET /api/v1/workorder-portal/0123456789ABCDEF01234567",
 "GET /api/v1/workorder-portal/0123456789abcdef0123456",
 "GET /api/v1/workorder-portal/0123456789abcdef012345678",
 "GET /api/v1/workorder-portal/0123456789abcdef0123456g",
 "HEAD /api/v1/workorder-portal/0123456789abcdef0123456"]
--- error_code eval
[404, 404, 404, 404, 404]
--- response_headers eval
[("Content-Type: application/json") x 5]
--- response_body_like eval
['"code"\s*:\s*"not_found"', '"code"\s*:\s*"not_found"',
 '"code"\s*:\s*"not_found"', '"code"\s*:\s*"not_found"', '^$']



=== TEST 12: the collection with and without a trailing slash: POST creates (201, Location)
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
["POST /api/v1/workorder-portal\n{\"workorder\":\"507f1f77bcf86cd799439012\",\"client\":\"507f1f77bcf86cd799439013\"}",
 "POST /api/v1/workorder-portal/\n{\"workorder\":\"507f1f77bcf86cd799439012\",\"client\":\"507f1f77bcf86cd799439013\"}"]
--- error_code eval
[201, 201]
--- response_headers_like eval
[("Content-Type: application/json\nLocation: /api/v1/workorder-portal/[0-9a-f]{24}") x 2]
--- response_body_like eval
[('"success"\s*:\s*true') x 2]



=== TEST 13: OPTIONS on the collection, with and without a trailing slash: 204, Allow, no body
--- more_headers
X-API-Key: test-key
--- request eval
["OPTIONS /api/v1/workorder-portal", "OPTIONS /api/v1/workorder-portal/"]
--- error_code eval
[204, 204]
--- response_headers_like eval
# the set GET, HEAD, POST, OPTIONS in any order, each once
[("Allow: (?=.*\\bGET\\b)(?=.*\\bHEAD\\b)(?=.*\\bPOST\\b)(?=.*\\bOPTIONS\\b)(?:(?:GET|HEAD|POST|OPTIONS)(?:,\\s*|\$)){4}") x 2]
--- response_body eval
["", ""]



=== TEST 14: OPTIONS on /{id} and /{id}/status: 204, Allow, no body
--- more_headers
X-API-Key: test-key
--- request eval
["OPTIONS /api/v1/workorder-portal/$main::Id",
 "OPTIONS /api/v1/workorder-portal/$main::Id/status"]
--- error_code eval
[204, 204]
--- response_headers_like eval
["Allow: (?=.*\\bGET\\b)(?=.*\\bHEAD\\b)(?=.*\\bPUT\\b)(?=.*\\bPATCH\\b)(?=.*\\bDELETE\\b)(?=.*\\bOPTIONS\\b)(?:(?:GET|HEAD|PUT|PATCH|DELETE|OPTIONS)(?:,\\s*|\$)){6}",
 "Allow: (?=.*\\bPUT\\b)(?=.*\\bPATCH\\b)(?=.*\\bOPTIONS\\b)(?:(?:PUT|PATCH|OPTIONS)(?:,\\s*|\$)){3}"]
--- response_body eval
["", ""]



=== TEST 15: 405 on the collection (PUT, PATCH, DELETE, an unknown method): Allow GET, HEAD, POST, OPTIONS
--- more_headers
X-API-Key: test-key
--- request eval
["PUT /api/v1/workorder-portal",
 "PATCH /api/v1/workorder-portal/",
 "DELETE /api/v1/workorder-portal",
 "FOO /api/v1/workorder-portal",
 "FOO /api/v1/workorder-portal/"]
--- error_code eval
[405, 405, 405, 405, 405]
--- response_headers_like eval
[("Content-Type: application/json\nAllow: (?=.*\\bGET\\b)(?=.*\\bHEAD\\b)(?=.*\\bPOST\\b)(?=.*\\bOPTIONS\\b)(?:(?:GET|HEAD|POST|OPTIONS)(?:,\\s*|\$)){4}") x 5]
--- response_body_like eval
[('"code"\s*:\s*"method_not_allowed"') x 5]



=== TEST 16: 405 on /{id} (POST, an unknown method): Allow GET, HEAD, PUT, PATCH, DELETE, OPTIONS
--- more_headers
X-API-Key: test-key
--- request eval
["POST /api/v1/workorder-portal/$main::Id",
 "FOO /api/v1/workorder-portal/$main::Id"]
--- error_code eval
[405, 405]
--- response_headers_like eval
[("Content-Type: application/json\nAllow: (?=.*\\bGET\\b)(?=.*\\bHEAD\\b)(?=.*\\bPUT\\b)(?=.*\\bPATCH\\b)(?=.*\\bDELETE\\b)(?=.*\\bOPTIONS\\b)(?:(?:GET|HEAD|PUT|PATCH|DELETE|OPTIONS)(?:,\\s*|\$)){6}") x 2]
--- response_body_like eval
[('"code"\s*:\s*"method_not_allowed"') x 2]



=== TEST 17: 405 on /{id}/status (GET, HEAD, POST, DELETE, an unknown method): Allow PUT, PATCH, OPTIONS
--- more_headers
X-API-Key: test-key
--- request eval
["GET /api/v1/workorder-portal/$main::Id/status",
 "HEAD /api/v1/workorder-portal/$main::Id/status",
 "POST /api/v1/workorder-portal/$main::Id/status",
 "DELETE /api/v1/workorder-portal/$main::Id/status",
 "FOO /api/v1/workorder-portal/$main::Id/status"]
--- error_code eval
[405, 405, 405, 405, 405]
--- response_headers_like eval
[("Content-Type: application/json\nAllow: (?=.*\\bPUT\\b)(?=.*\\bPATCH\\b)(?=.*\\bOPTIONS\\b)(?:(?:PUT|PATCH|OPTIONS)(?:,\\s*|\$)){3}") x 5]
--- response_body_like eval
['"code"\s*:\s*"method_not_allowed"', '^$',
 '"code"\s*:\s*"method_not_allowed"', '"code"\s*:\s*"method_not_allowed"',
 '"code"\s*:\s*"method_not_allowed"']



=== TEST 18: PUT, PATCH, DELETE /{id} of an id with no entry reach the store: 404 not_found
--- init
Woportal::memcached_delete("woportal:$main::Id");
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
["PUT /api/v1/workorder-portal/$main::Id\n{\"disabled\":true}",
 "PATCH /api/v1/workorder-portal/$main::Id\n{\"disabled\":true}",
 "DELETE /api/v1/workorder-portal/$main::Id"]
--- error_code eval
[404, 404, 404]
--- response_headers eval
[("Content-Type: application/json") x 3]
--- response_body_like eval
[('"code"\s*:\s*"not_found"') x 3]



=== TEST 19: PATCH and PUT /{id}/status of an id with no entry reach the store: 404 not_found
--- init
Woportal::memcached_delete("woportal:$main::Id");
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
["PATCH /api/v1/workorder-portal/$main::Id/status\n{\"status\":\"in_progress\"}",
 "PUT /api/v1/workorder-portal/$main::Id/status\n{\"status\":\"in_progress\"}"]
--- error_code eval
[404, 404]
--- response_headers eval
[("Content-Type: application/json") x 2]
--- response_body_like eval
[('"code"\s*:\s*"not_found"') x 2]



=== TEST 20: GET on the collection, with and without the trailing slash, is the list (t/080-list.t tests it in full)
--- more_headers
X-API-Key: test-key
--- request eval
["GET /api/v1/workorder-portal", "GET /api/v1/workorder-portal/?page=1&per_page=2"]
--- error_code eval
[200, 200]
--- response_headers eval
[("Content-Type: application/json") x 2]
--- response_body_like eval
['^\{"success":true,"data":\[.*\],"paging":\{"page":1,"per_page":25,"total":\d+,"total_pages":\d+\}\}$',
 '^\{"success":true,"data":\[.*\],"paging":\{"page":1,"per_page":2,"total":\d+,"total_pages":\d+\}\}$']



=== TEST 21: a Content-Length over the default 64 KiB limit: 413 payload_too_large in the envelope
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
"POST /api/v1/workorder-portal\n" . main::padded_create(65537)
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body_like chomp
"code"\s*:\s*"payload_too_large"



=== TEST 22: a body of exactly 64 KiB is not 413
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
"POST /api/v1/workorder-portal\n" . main::padded_create(65536)
--- error_code: 201
--- response_headers
Content-Type: application/json



=== TEST 23: woportal_max_body_size 1k: 1025 bytes are 413, 1024 bytes are not
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_max_body_size 1k;
    }
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
["POST /api/v1/workorder-portal\n" . main::padded_create(1025),
 "POST /api/v1/workorder-portal\n" . main::padded_create(1024)]
--- error_code eval
[413, 201]
--- response_headers eval
[("Content-Type: application/json") x 2]
--- response_body_like eval
['"code"\s*:\s*"payload_too_large"', '"success"\s*:\s*true']



=== TEST 24: a chunked body over woportal_max_body_size: 413 payload_too_large in the envelope
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_max_body_size 1k;
    }
--- more_headers
X-API-Key: test-key
Content-Type: application/json
Transfer-Encoding: chunked
--- request eval
"POST /api/v1/workorder-portal\n" . main::chunked_create(1500, 400)
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body_like chomp
"code"\s*:\s*"payload_too_large"



=== TEST 25: a chunked body of exactly woportal_max_body_size is not 413
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_max_body_size 1k;
    }
--- more_headers
X-API-Key: test-key
Content-Type: application/json
Transfer-Encoding: chunked
--- request eval
"POST /api/v1/workorder-portal\n" . main::chunked_create(1024, 400)
--- error_code: 201
--- response_headers
Content-Type: application/json



=== TEST 26: a chunked body over the default 64 KiB limit: 413 payload_too_large in the envelope
--- more_headers
X-API-Key: test-key
Content-Type: application/json
Transfer-Encoding: chunked
--- request eval
"POST /api/v1/workorder-portal\n" . main::chunked_create(70000, 16384)
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body_like chomp
"code"\s*:\s*"payload_too_large"



=== TEST 27: too large without a valid key: 401 first (Content-Length seen by nginx, and chunked)
--- request eval
["POST /api/v1/workorder-portal\n" . main::padded_create(65537),
 "POST /api/v1/workorder-portal\n" . main::padded_create(65537),
 "POST /api/v1/workorder-portal\n" . main::chunked_create(70000, 16384)]
--- more_headers eval
["Content-Type: application/json",
 "Content-Type: application/json\nX-API-Key: wrong-key",
 "Content-Type: application/json\nTransfer-Encoding: chunked"]
--- error_code eval
[401, 401, 401]
--- response_headers eval
[("Content-Type: application/json") x 3]
--- response_body_like eval
[('"code"\s*:\s*"unauthorized"') x 3]



=== TEST 28: a body that is not application/json (or has no Content-Type): 415 unsupported_media_type
--- request eval
[("POST /api/v1/workorder-portal\n{\"workorder\":\"507f1f77bcf86cd799439012\",\"client\":\"507f1f77bcf86cd799439013\"}") x 5]
--- more_headers eval
["X-API-Key: test-key\nContent-Type: text/plain",
 "X-API-Key: test-key",
 "X-API-Key: test-key\nContent-Type: application/x-www-form-urlencoded",
 "X-API-Key: test-key\nContent-Type: application/jsonx",
 "X-API-Key: test-key\nContent-Type: text/json"]
--- error_code eval
[415, 415, 415, 415, 415]
--- response_headers eval
[("Content-Type: application/json") x 5]
--- response_body_like eval
[('"code"\s*:\s*"unsupported_media_type"') x 5]



=== TEST 29: the media type is compared case-insensitively, parameters ignored
--- request eval
[("POST /api/v1/workorder-portal\n{\"workorder\":\"507f1f77bcf86cd799439012\",\"client\":\"507f1f77bcf86cd799439013\"}") x 3]
--- more_headers eval
["X-API-Key: test-key\nContent-Type: application/json; charset=utf-8",
 "X-API-Key: test-key\nContent-Type: Application/JSON",
 "X-API-Key: test-key\nContent-Type: APPLICATION/JSON;charset=UTF-8"]
--- error_code eval
[201, 201, 201]
--- response_headers eval
[("Content-Type: application/json") x 3]
--- response_body_like eval
[('"success"\s*:\s*true') x 3]



=== TEST 30: a broken chunked body (nginx's own 400) is answered in the envelope
--- more_headers
X-API-Key: test-key
Content-Type: application/json
Transfer-Encoding: chunked
--- request eval
"POST /api/v1/workorder-portal\nzz\r\n{}\r\n0\r\n\r\n"
--- error_code: 400
--- response_headers
Content-Type: application/json
--- response_body_like chomp
^\{.*"success"\s*:\s*false
