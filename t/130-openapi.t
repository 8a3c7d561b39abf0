use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
no_shuffle();
no_root_location();

# GET <location>/openapi.json: the contract, contract/openapi.yaml, as
# JSON, with "servers" set to the location's path and info.version the
# module's; no API key needed.
#
#   --- openapi_servers: URL   the body is the contract, all of it, with
#                              servers [{"url": URL}] and info.version
#                              the module's
#
# Not through t/inc/Woportal.pm: this body is not the API's envelope.

use JSON::PP ();
use YAML::XS ();

$YAML::XS::Boolean = 'JSON::PP';

our $Contract = YAML::XS::LoadFile('contract/openapi.yaml');

# info.version is the module's (src/ngx_http_woportal_version.h)
our ($Version) = do {
    open my $in, '<', 'src/ngx_http_woportal_version.h' or die "$!\n";
    local $/;
    <$in> =~ /^#define\s+NGX_HTTP_WOPORTAL_VERSION\s+"([^"]+)"/m;
};

our $Config = <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value(config => $Config) unless defined $block->config;
    return $block;
});

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;
    return if $dry_run;
    my $url = $block->openapi_servers;
    return unless defined $url;
    $url =~ s/^\s+|\s+$//g;
    my $name = $block->name;

    my $doc = eval { JSON::PP->new->decode($body) };
    Test::More::ok(ref $doc eq 'HASH', "$name - the body is a JSON object")
        or return Test::More::diag($@);

    Test::More::is_deeply($doc->{servers}, [{url => $url}],
                          "$name - servers is the location");

    Test::More::is(join(' ', sort keys %{ $doc->{paths} || {} }),
                   join(' ', sort keys %{ $Contract->{paths} }),
                   "$name - every path of the contract, and no other");

    Test::More::is(ref $doc->{info} eq 'HASH' ? $doc->{info}{version} : undef,
                   $Version, "$name - info.version is the module's");

    # the rest is the contract's: info but its version (the API's)
    my %want = (%$Contract, info => { %{ $Contract->{info} } });
    my %got = (%$doc, info => { %{ $doc->{info} || {} } });
    delete $_->{servers}, delete $_->{info}{version} for \%want, \%got;
    Test::More::is_deeply(\%got, \%want,
                          "$name - the rest is the contract as it is");
});

# the methods of a path in the contract, as OPTIONS and 405 must answer
# them in Allow: HEAD with GET, and OPTIONS; a regex of the set, in any
# order, each once
sub allow_like {
    my $path = shift;
    my @m = map { uc } grep { /^(?:get|head|post|put|patch|delete)$/ }
            keys %{ $Contract->{paths}{$path} };
    push @m, 'HEAD' if grep { $_ eq 'GET' } @m;
    push @m, 'OPTIONS';
    my $alt = join '|', @m;
    return 'Allow: ' . join('', map { "(?=.*\\b$_\\b)" } @m)
           . "(?:(?:$alt)(?:,\\s*|\$)){" . scalar(@m) . '}';
}

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;
    return if $dry_run;
    my $want = $block->openapi_methods;
    return unless defined $want;

    my $doc = eval { JSON::PP->new->decode($body) } // {};
    for my $line (grep { /\S/ } split /\n/, $want) {
        my ($path, $methods) = $line =~ /^\s*(\S+):\s*(.*?)\s*$/;
        my $got = join ' ', sort grep { !/^parameters$/ }
                  keys %{ $doc->{paths}{$path} || {} };
        Test::More::is($got, $methods,
                       $block->name . " - the methods of $path");
    }
});

run_tests();

__DATA__

=== TEST 1: the contract, without an API key, with the location as its server
--- request
GET /api/v1/workorder-portal/openapi.json
--- error_code: 200
--- response_headers
Content-Type: application/json
--- openapi_servers: /api/v1/workorder-portal



=== TEST 2: a wrong API key does not matter either
--- request
GET /api/v1/workorder-portal/openapi.json
--- more_headers
X-API-Key: not-a-key
--- error_code: 200
--- openapi_servers: /api/v1/workorder-portal



=== TEST 3: the location's path without its trailing slash
--- config
    location /api/ {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
--- request
GET /api/openapi.json
--- error_code: 200
--- openapi_servers: /api



=== TEST 4: the location "/"
--- config
    location / {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
--- request
GET /openapi.json
--- error_code: 200
--- openapi_servers: /



=== TEST 5: HEAD: the headers only, with the length of the document
--- request
HEAD /api/v1/workorder-portal/openapi.json
--- error_code: 200
--- response_headers_like
Content-Type: application/json
Content-Length: [1-9]\d{3,}
--- response_body



=== TEST 6: OPTIONS: which methods it takes
--- request
OPTIONS /api/v1/workorder-portal/openapi.json
--- error_code: 204
--- response_headers
Allow: GET, HEAD, OPTIONS



=== TEST 7: another method: 405 in the envelope, with Allow
--- request
POST /api/v1/workorder-portal/openapi.json
{}
--- more_headers
Content-Type: application/json
--- error_code: 405
--- response_headers
Allow: GET, HEAD, OPTIONS
Content-Type: application/json
--- response_body_like chomp
"code":"method_not_allowed"



=== TEST 8: only that exact path: anything else still needs a key
--- request eval
["GET /api/v1/workorder-portal/openapi.jsonx",
 "GET /api/v1/workorder-portal/openapi.json/x",
 "GET /api/v1/workorder-portal/x/openapi.json"]
--- error_code eval
[401, 401, 401]
--- response_body_like eval
['"code":"unauthorized"', '"code":"unauthorized"', '"code":"unauthorized"']



=== TEST 9: the served document lists every method served: PATCH /{id} and PUT /{id}/status too
--- request
GET /api/v1/workorder-portal/openapi.json
--- error_code: 200
--- openapi_methods
/: get post
/{id}: delete get patch put
/{id}/status: patch put



=== TEST 10: OPTIONS on each path answers the contract's methods in Allow, without a key
--- request eval
["OPTIONS /api/v1/workorder-portal", "OPTIONS /api/v1/workorder-portal/0123456789abcdef01234567",
 "OPTIONS /api/v1/workorder-portal/0123456789abcdef01234567/status"]
--- error_code eval
[204, 204, 204]
--- response_headers_like eval
[map { main::allow_like($_) } '/', '/{id}', '/{id}/status']



=== TEST 11: openapi.json is the same for every key: no Cache-Control, no Vary
--- request
GET /api/v1/workorder-portal/openapi.json
--- more_headers
X-API-Key: test-key
--- error_code: 200
--- response_headers
!Cache-Control
!Vary
