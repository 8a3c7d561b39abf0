# Self-test of the test harness (t/lib/Test/Nginx/Socket.pm, or the upstream
# Test::Nginx::Socket when installed), using stock nginx directives only.

use Test::Nginx::Socket 'no_plan';

no_shuffle();    # blocks 19 and 20 depend on each other

# A "create, then get" round trip like the real tests do: block 19 captures
# the id the server generated from its response body, and block 20's
# preprocessor puts it into its request and expectations.
our $CapturedId;

add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    return unless defined $block->capture_id;
    Test::More::is(scalar @_, 5, $block->name . " - body check gets 5 arguments");
    Test::More::like($body, qr/^id=[0-9a-f]{32}$/, $block->name . " - body check sees the body");
    ($CapturedId) = $body =~ /^id=(\w+)/;
});

add_block_preprocessor(sub {
    my $block = shift;
    return unless defined $block->use_id;
    die "no id captured by an earlier block\n" unless defined $CapturedId;
    for my $section (qw(request response_body)) {
        (my $v = $block->$section) =~ s/\@ID\@/$CapturedId/g;
        $block->set_value($section, $v);
    }
});

run_tests();

__DATA__

=== TEST 1: plain response, status and headers
--- config
    location = /t {
        add_header X-Test "yes";
        return 200 "hello\n";
    }
--- request
GET /t
--- error_code: 200
--- response_headers
Content-Type: text/plain
X-Test: yes
!X-Absent
--- response_body
hello



=== TEST 2: header regexes, raw headers, body regex
--- config
    location = /t {
        add_header X-Num "v12345";
        return 200 "value=42 here";
    }
--- request
    GET /t
--- response_headers_like
X-Num: v\d+
Content-Length: \d+
--- raw_response_headers_like: ^HTTP/1\.1 200 OK\r\n.*X-Num: v12345\r\n
--- response_body_like chomp
^value=\d+ here$



=== TEST 3: several requests, one connection each, with array expectations
--- config
    location = /a { return 200 "a\n"; }
    location = /gone { return 410; }
    location = /echo-len { return 200 "len=$content_length\n"; }
--- request eval
["GET /a", "GET /gone", "POST /echo-len\n  twelve bytes  \n"]
--- error_code eval
[200, 410, 200]
--- response_body_like eval
["^a\n\$", "410 Gone", "^len=12\n\$"]



=== TEST 4: more_headers as a string, method limits
--- config
    location = /h {
        limit_except GET { deny all; }
        return 200 "foo=$http_x_foo host=$host conn=$http_connection\n";
    }
--- more_headers
X-Foo: bar baz
--- request eval
["GET /h", "POST /h\nbody"]
--- error_code eval
[200, 403]
--- response_body_like eval
["^foo=bar baz host=localhost conn=close\n\$", "403 Forbidden"]



=== TEST 5: more_headers per request
--- config
    location = /h { return 200 "foo=$http_x_foo\n"; }
--- more_headers eval
["X-Foo: one", "X-Foo: two"]
--- request eval
["GET /h", "GET /h"]
--- response_body eval
["foo=one\n", "foo=two\n"]



=== TEST 6: request body echoed through proxy_pass ($TEST_NGINX_* expansion)
--- config
    location = /echo {
        proxy_set_header X-Body $request_body;
        proxy_set_header X-Len $content_length;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/sink;
    }
    location = /sink { return 200 "[$http_x_body] len=$http_x_len upstream_len=$content_length\n"; }
--- request
POST /echo
hello world
--- response_body
[hello world] len=11 upstream_len=11



=== TEST 7: chunked request body is sent as given
--- config
    location = /echo {
        proxy_set_header X-Body $request_body;
        proxy_set_header X-TE $http_transfer_encoding;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/sink;
    }
    location = /sink { return 200 "[$http_x_body] te=$http_x_te upstream_len=$content_length\n"; }
--- more_headers
Transfer-Encoding: chunked
--- request eval
"POST /echo
5\r
hello\r
6\r
 world\r
0\r
\r
"
--- response_body
[hello world] te=chunked upstream_len=11



=== TEST 8: chunked response (SSI), user_files
--- config
    location /ssi/ {
        root html;
        ssi on;
        ssi_types *;
    }
--- user_files
>>> ssi/page.txt
before <!--# echo var="arg_x" --> after
--- request
GET /ssi/page.txt?x=middle
--- raw_response_headers_like: Transfer-Encoding: chunked\r\n
--- response_headers
!Content-Length
--- response_body
before middle after



=== TEST 9: large static file, body filters
--- config
    location /files/ { root html; }
--- user_files eval
[["files/big.bin" => "x" x 300000]]
--- request
GET /files/big.bin
--- response_headers
Content-Length: 300000
--- response_body_filters
length
--- response_body chomp
300000



=== TEST 10: HEAD and 204 responses have no body
--- config
    location = /t { return 200 "some body\n"; }
    location = /empty { return 204; }
--- request eval
["HEAD /t", "GET /empty"]
--- error_code eval
[200, 204]
--- response_headers eval
["Content-Length: 10", "!Content-Length"]
--- response_body eval
["", ""]



=== TEST 11: pipelined requests on one keep-alive connection
--- config
    location = /a { return 200 "first\n"; }
    location = /b { return 200 "second\n"; }
--- pipelined_requests eval
["GET /a", "GET /b"]
--- response_body eval
["first\n", "second\n"]



=== TEST 12: raw request, sent as is
--- config
    location = /raw { return 200 "proto=$server_protocol\n"; }
--- raw_request eval
"GET /raw HTTP/1.0\r\n\r\n"
--- response_body
proto=HTTP/1.0



=== TEST 13: request split into packets with a delay
--- config
    location = /echo {
        proxy_set_header X-Body $request_body;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/sink;
    }
    location = /sink { return 200 "[$http_x_body]\n"; }
--- request eval
[["POST /echo\nhel", {value => "lo", delay_before => 0.05}]]
--- response_body
[hello]



=== TEST 14: redirects, error_page, $ServerPort in expectations
--- config
    location = /old { return 302 /new; }
    location = /missing { error_page 404 = /fallback; return 404; }
    location = /fallback { return 200 "fallback on $TEST_NGINX_SERVER_PORT\n"; }
--- request eval
["GET /old", "GET /missing"]
--- error_code eval
[302, 200]
--- response_headers eval
["Location: http://localhost:\$ServerPort/new", "!Location"]
--- response_body_like eval
["302 Found", "^fallback on \\d+\$"]



=== TEST 15: error_log and no_error_log
--- config
    location /files/ { root html; }
--- request
GET /files/nope.txt
--- error_code: 404
--- error_log eval
["No such file or directory", qr/open\(\) ".*nope\.txt" failed/]
--- no_error_log
[warn]



=== TEST 16: must_die with an unknown directive
--- config
    location = /t { no_such_directive_here on; }
--- must_die
--- error_log
unknown directive "no_such_directive_here"



=== TEST 17: must_die with an exit code
--- http_config
    server_names_hash_bucket_size not_a_number;
--- config
--- must_die: 1
--- error_log eval
qr/\[emerg\] .*invalid number/



=== TEST 18: a fast location answers within a short client timeout
--- config
    location = /fast { return 200 "quick\n"; }
--- request
GET /fast
--- timeout: 0.5
--- response_body
quick



=== TEST 19: create: the server makes an id (captured by a body check)
--- config
    location = /create { return 201 "id=$request_id"; }
    location ~ ^/item/(\w+)$ { return 200 "item $1\n"; }
--- request
POST /create
{"x":1}
--- capture_id
--- error_code: 201
--- response_body_like: ^id=[0-9a-f]{32}$



=== TEST 20: get: the preprocessor puts the captured id in the request
--- config
    location ~ ^/item/(\w+)$ { return 200 "item $1\n"; }
--- use_id
--- request
GET /item/@ID@
--- response_body
item @ID@



=== TEST 21: init runs after nginx is up and before the requests
--- config
    location /files/ { root html; }
--- init
open my $out, '>', html_dir() . '/files/made-by-init.txt' or die $!;
print $out "from init\n";
close $out;
--- user_files
>>> files/placeholder.txt
x
--- request
GET /files/made-by-init.txt
--- response_body
from init



=== TEST 22: slow response with abort: the client timeout is not a failure
--- config
    location /files/ { root html; limit_rate 1; }
--- user_files eval
[["files/slow.txt" => "y" x 1000]]
--- request
GET /files/slow.txt
--- timeout: 0.2
--- abort
--- ignore_response



=== TEST 23: an expected [crit] (opening a socket file) is not a failure
--- config
    location /files/ { root html; }
--- init
use IO::Socket::UNIX;
our $Sock = IO::Socket::UNIX->new(Local => html_dir() . '/files/sock',
                                  Listen => 1) or die "socket: $!";
--- user_files
>>> files/placeholder.txt
x
--- request
GET /files/sock
--- error_code: 500
--- error_log
[crit]



=== TEST 24: wait, log_level and the shutdown part of the log
--- config
    location = /t { return 200 "ok\n"; }
--- log_level: notice
--- request
GET /t
--- wait: 0.05
--- response_body
ok
--- no_error_log
[debug]
--- shutdown_error_log
exit



=== TEST 25: comment lines, HTTP/1.0, Host and Content-Length from more_headers
--- config
    location = /t { return 200 "host=$host proto=$server_protocol len=$http_content_length\n"; }
--- more_headers
Host: example.test
Content-Length: 3
--- request
# a comment before the request line
POST /t HTTP/1.0
abc
--- response_body
host=example.test proto=HTTP/1.0 len=3



=== TEST 26: grep_error_log, access_log, a regex as response_body
--- config
    location /files/ { root html; }
--- request
GET /files/nope-grep
--- error_code: 404
--- grep_error_log eval
qr/failed \(2: No such file or directory\)/
--- grep_error_log_out
failed (2: No such file or directory)
--- access_log
"GET /files/nope-grep HTTP/1.1" 404
--- no_access_log
POST
--- response_body eval
qr{<title>404 Not Found</title>}
