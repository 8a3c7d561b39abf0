use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;

# Requests nginx refuses before it chooses a location (a NUL or CR in a
# header, headers over the limit, a Transfer-Encoding it does not read, a
# URI over the limit): with error_page at the server level naming a
# woportal_error location, as README "Errors nginx answers itself" shows,
# they too are answered in the envelope.

no_shuffle();

our $Server = <<'_EOC_';
    large_client_header_buffers 2 1k;
    error_page 400 414 494 501 /woportal-error;

    location = /woportal-error {
        internal;
        woportal_error;
    }
_EOC_

block_defaults(config => $Woportal::Location . $Server);

sub raw {
    my $headers = shift;
    return "GET /api/v1/workorder-portal HTTP/1.1\r\nHost: localhost\r\n"
           . "X-API-Key: test-key\r\n$headers"
           . "Connection: close\r\n\r\n";
}

run_tests();

__DATA__

=== TEST 1: a NUL in a header: 400 invalid_parameter
--- raw_request eval
main::raw("X-Bad: a\0b\r\n")
--- error_code: 400
--- response_headers
Content-Type: application/json
--- api_error: invalid_parameter
--- response_body_like: the request is malformed



=== TEST 2: a CR in a header: 400 invalid_parameter
--- raw_request eval
main::raw("X-Bad: a\rb\r\n")
--- error_code: 400
--- response_headers
Content-Type: application/json
--- api_error: invalid_parameter



=== TEST 3: a header over large_client_header_buffers: 400 invalid_parameter
--- raw_request eval
main::raw("X-Long: " . ('a' x 2000) . "\r\n")
--- error_code: 400
--- response_headers
Content-Type: application/json
--- api_error: invalid_parameter
--- response_body_like: headers are too large



=== TEST 4: Transfer-Encoding nginx does not read (gzip, chunked): 400 invalid_parameter, not nginx's 501 page
--- raw_request eval
main::raw("Transfer-Encoding: gzip, chunked\r\n")
--- error_code: 400
--- response_headers
Content-Type: application/json
--- api_error: invalid_parameter



=== TEST 5: a URI over the limit: 414 invalid_parameter
--- raw_request eval
"GET /api/v1/workorder-portal/" . ('a' x 2000) . " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
--- error_code: 414
--- response_headers
Content-Type: application/json
--- api_error: invalid_parameter
--- response_body_like: the request line is too long



=== TEST 6: the woportal_error location asked for directly: 404 not_found in the envelope
--- request
GET /woportal-error
--- error_code: 404
--- response_headers
Content-Type: application/json
--- api_error: not_found



=== TEST 7: without the error_page, nginx's own page (what the README's lines change)
--- config eval
$Woportal::Location
--- raw_request eval
main::raw("X-Bad: a\0b\r\n")
--- error_code: 400
--- response_headers
Content-Type: text/html



=== TEST 8: an error_page that makes the status 200 still finds no page there: 404 in the envelope
--- config eval
$Woportal::Location . <<'_EOC_'
    large_client_header_buffers 2 1k;
    error_page 400 =200 /woportal-error;

    location = /woportal-error {
        internal;
        woportal_error;
    }
_EOC_
--- raw_request eval
main::raw("X-Bad: a\0b\r\n")
--- error_code: 404
--- response_headers
Content-Type: application/json
--- api_error: not_found
