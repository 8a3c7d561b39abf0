use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use Time::HiRes ();
no_shuffle();

# The module's variables: $woportal_op, $woportal_id, $woportal_error,
# $woportal_store_time and $woportal_key_name, written by a log_format to
# the access log (checked line by line) and, where the value is known when
# the headers go out, echoed by add_header.
#
# "{{id}}" in --- access_log and --- response_headers is the _id of the
# last entry answered, as in requests (t/inc/Woportal.pm).

Test::Nginx::Socket::add_block_preprocessor(sub {
    my $block = shift;
    for my $section (qw(access_log no_access_log response_headers)) {
        my $v = $block->$section;
        next unless defined $v && !ref $v && $v =~ /\{\{id\}\}/;
        my $id = Woportal::last_id() // die "{{id}} before any entry\n";
        $v =~ s/\{\{id\}\}/$id/g;
        $block->set_value($section, $v);
    }
    return $block;
});

our $HttpConfig = <<'_EOC_';
    log_format woportal 'wo op=$woportal_op id=$woportal_id error=$woportal_error store=$woportal_store_time key=$woportal_key_name status=$status';
_EOC_

our $Config = <<'_EOC_';
    access_log logs/access.log woportal;

    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key tester;
        woportal_max_body_size 1k;

        add_header X-Op $woportal_op always;
        add_header X-Id $woportal_id always;
        add_header X-Error $woportal_error always;
        add_header X-Store-Time $woportal_store_time always;
    }

    location = /plain {
        return 200 "op=$woportal_op id=$woportal_id error=$woportal_error store=$woportal_store_time key=$woportal_key_name\n";
    }
_EOC_

block_defaults(http_config => $HttpConfig, config => $Config,
               more_headers => "X-API-Key: test-key\n"
                               . "Content-Type: application/json\n");

run_tests();

__DATA__

=== TEST 1: a create: op create, the new entry's id, no error, the store time in seconds with milliseconds
--- request
POST /api/v1/workorder-portal
{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013"}
--- error_code: 201
--- response_headers_like
X-Op: create
X-Id: [0-9a-f]{24}
X-Store-Time: \d+\.\d{3}
--- raw_response_headers_unlike
X-Error:
--- access_log eval
qr/^wo op=create id=[0-9a-f]{24} error=- store=\d+\.\d{3} key=tester status=201$/
--- timeout: 10



=== TEST 2: ... the id logged is the one created
--- request
POST /api/v1/workorder-portal
{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013"}
--- error_code: 201
--- data_ok eval
sub {
    my $data = shift;
    my $log = do { local (@ARGV, $/) = "$ENV{TEST_NGINX_SERVER_ROOT}/logs/access.log"; <> };
    # the line is written after the answer: wait for it
    for (1 .. 50) {
        last if $log =~ /status=201/;
        Time::HiRes::sleep(0.02);
        $log = do { local (@ARGV, $/) = "$ENV{TEST_NGINX_SERVER_ROOT}/logs/access.log"; <> };
    }
    $log =~ /\bop=create id=$data->{_id} / ? () : ("no op=create id=$data->{_id} in: $log");
}



=== TEST 3: a get of that entry: op get, its id, the store time
--- request
GET /api/v1/workorder-portal/{{id}}
--- error_code: 200
--- response_headers
X-Op: get
X-Id: {{id}}
--- access_log
wo op=get id={{id}} error=- store=



=== TEST 4: a get of an id that is not there: error not_found, the id asked for
--- request
GET /api/v1/workorder-portal/0123456789abcdef0123ffff
--- error_code: 404
--- api_error: not_found
--- response_headers
X-Op: get
X-Id: 0123456789abcdef0123ffff
X-Error: not_found
--- access_log eval
qr/^wo op=get id=0123456789abcdef0123ffff error=not_found store=\d+\.\d{3} key=tester status=404$/



=== TEST 5: a malformed id is not logged as an id
--- request
GET /api/v1/workorder-portal/not-an-id
--- error_code: 404
--- api_error: not_found
--- access_log eval
qr/^wo op=get id=- error=not_found store=- key=tester status=404$/



=== TEST 6: no API key: no operation, no key name, error unauthorized, no store call
--- more_headers
Content-Type: application/json
--- request
GET /api/v1/workorder-portal
--- error_code: 401
--- api_error: unauthorized
--- response_headers
X-Error: unauthorized
--- access_log eval
qr/^wo op=- id=- error=unauthorized store=- key=- status=401$/



=== TEST 7: an invalid body: op create, error validation_failed, no store call
--- request
POST /api/v1/workorder-portal
{"workorder":""}
--- error_code: 422
--- api_error: validation_failed
--- access_log eval
qr/^wo op=create id=- error=validation_failed store=- key=tester status=422$/



=== TEST 8: a body over the limit, refused by nginx itself: error payload_too_large
--- request eval
"POST /api/v1/workorder-portal\n{\"workorder\":\"" . ('x' x 2000) . "\"}"
--- error_code: 413
--- api_error: payload_too_large
--- access_log eval
qr/^wo op=\S+ id=- error=payload_too_large store=- key=- status=413$/



=== TEST 9: a list: op list, no id
--- request
GET /api/v1/workorder-portal?per_page=1
--- error_code: 200
--- response_headers
X-Op: list
--- access_log eval
qr/^wo op=list id=- error=- store=\d+\.\d{3} key=tester status=200$/



=== TEST 10: an update is named update, with the entry's id
--- init
Woportal::memcached_set("woportal:0123456789abcdef01234567",
                        Woportal::entry_json("0123456789abcdef01234567"));
--- request
PATCH /api/v1/workorder-portal/0123456789abcdef01234567
{"disabled":true}
--- error_code: 200
--- access_log eval
qr/^wo op=update id=0123456789abcdef01234567 error=- store=\d+\.\d{3} key=tester status=200$/



=== TEST 11: ... a status change, status
--- request
PATCH /api/v1/workorder-portal/0123456789abcdef01234567/status
{"status":"in_progress"}
--- error_code: 200
--- access_log eval
qr/^wo op=status id=0123456789abcdef01234567 error=- store=\d+\.\d{3} key=tester status=200$/



=== TEST 12: ... a deletion, delete
--- request
DELETE /api/v1/workorder-portal/0123456789abcdef01234567
--- error_code: 200
--- access_log eval
qr/^wo op=delete id=0123456789abcdef01234567 error=- store=\d+\.\d{3} key=tester status=200$/



=== TEST 13: memcached down: error store_unavailable, and the store time is still there
--- config
    access_log logs/access.log woportal;

    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:1 --BINARY-PROTOCOL";
        woportal_api_key test-key tester;
    }
--- request
GET /api/v1/workorder-portal/0123456789abcdef01234567
--- error_code: 503
--- api_error: store_unavailable
--- access_log eval
qr/^wo op=get id=0123456789abcdef01234567 error=store_unavailable store=\d+\.\d{3} key=tester status=503$/
--- error_log
woportal: memcached get



=== TEST 14: outside a woportal location every variable is empty (not found)
--- request
GET /plain
--- error_code: 200
--- response_body
op= id= error= store= key=
--- access_log eval
qr/^wo op=- id=- error=- store=- key=- status=200$/
