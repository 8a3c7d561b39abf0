# With nginx built --with-debug and "error_log ... debug", the module logs
# each step of a request: routing, authentication, the operation, the
# body, the store call, the answer and the end of the request.
#
# The suite's nginx is built without --with-debug (its debug log would
# hold every request's headers, the API key among them, which t/075
# TEST 12 forbids, and would slow every test): this file runs the one
# `make test` builds into build/debug (WOPORTAL_DEBUG_NGINX names
# another), or TEST_NGINX_BINARY itself when that was built --with-debug.

my $Debug;

BEGIN {
    my $own = $ENV{TEST_NGINX_BINARY} // 'nginx';
    my $built = $ENV{WOPORTAL_DEBUG_NGINX}
                // 'build/debug/nginx-1.22.1/objs/nginx';
    for my $nginx ($own, $built) {
        next unless -x $nginx;
        if (`'$nginx' -V 2>&1` =~ /--with-debug/) {
            $Debug = $nginx;
            last;
        }
    }
    $ENV{TEST_NGINX_BINARY} = $Debug if $Debug;
}

use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;

unless ($Debug) {
    die "no nginx built --with-debug (make test builds "
        . "build/debug/nginx-1.22.1/objs/nginx) and WOPORTAL_REQUIRE_DEBUG "
        . "is set\n" if $ENV{WOPORTAL_REQUIRE_DEBUG};
    Test::More::plan(skip_all => 'no nginx built --with-debug: '
                     . 'make test builds one');
}

no_shuffle();
log_level('debug');

block_defaults(config => $Woportal::Location);

# the steps a request's debug log names, in order
our $Steps = qr/woportal (?:route|auth|op|body|store call|answer|finish): [A-Za-z0-9]+/;

run_tests();

__DATA__

=== TEST 1: a create: routed, authenticated, its body read, the store's add, 201
--- request
POST /api/v1/workorder-portal
{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013"}
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- error_code: 201
--- grep_error_log eval
$main::Steps
--- grep_error_log_out
woportal route: POST
woportal auth: key
woportal op: create
woportal body: reading
woportal body: 76
woportal store call: add
woportal answer: 201
woportal finish: rc



=== TEST 2: a get of it: the store's get, 200
--- request
GET /api/v1/workorder-portal/{{id}}
--- more_headers
X-API-Key: test-key
--- error_code: 200
--- grep_error_log eval
$main::Steps
--- grep_error_log_out
woportal route: GET
woportal auth: key
woportal op: get
woportal store call: get
woportal answer: 200
woportal finish: rc



=== TEST 3: an unknown key: routed, refused at authentication, 401; the module's lines never hold the key (nginx's own "http header" lines do)
--- request
GET /api/v1/workorder-portal
--- more_headers
X-API-Key: nope
--- error_code: 401
--- grep_error_log eval
$main::Steps
--- grep_error_log_out
woportal route: GET
woportal auth: unknown
woportal answer: 401
--- no_error_log eval
qr/woportal.*nope/



=== TEST 4: a body that breaks the schema: refused when decoded, 422, no store call
--- request
POST /api/v1/workorder-portal
{"workorder":""}
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- error_code: 422
--- grep_error_log eval
$main::Steps
--- grep_error_log_out
woportal route: POST
woportal auth: key
woportal op: create
woportal body: reading
woportal body: 16
woportal body: refused
woportal answer: 422
