use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
no_shuffle();

# GET /{id} and HEAD: seeded entries, the create-then-get round trip,
# ETag and If-None-Match, 404s, corrupt stored values, memcached down.
# contract/openapi.yaml (getEntry) and contract/CONTRACT-NOTES.md.
#
# The sections api_error, details, data_is, data_ok, same_as_created and
# body_is_stored are checked by t/inc/Woportal.pm (see there).
#
# Every answer carrying an entry is also compared with what memcached holds
# under woportal:<_id>: the stored entry must be the same JSON value as the
# served data.
#
# Entries are seeded in --- init with main::seed_entry($id, %fields) (the
# stored form of Woportal::entry_json) or main::seed_raw($id, $text).

use JSON::PP ();

# every answer carrying an entry must equal what memcached holds
$Woportal::CheckStored = 1;


our $Config = $Woportal::Location;

# memcached is not listening on port 1
our $DownConfig = <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:1 --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
_EOC_

block_defaults(config => $Config,
               more_headers => "X-API-Key: test-key\n");

sub seed_entry {
    my ($id, %over) = @_;
    Woportal::memcached_set("woportal:$id", Woportal::entry_json($id, %over));
}

sub seed_raw {
    my ($id, $text) = @_;
    Woportal::memcached_set("woportal:$id", $text);
}

# a seeded entry with every field set, and free objects whose numbers and
# strings JSON::PP could not write: big integers, -0, exponents, \u0000,
# astral characters as escapes
our $RichId = '5f1d0a0b0c0d0e0f10111213';
our $RichFree = '{"big":123456789012345678901234567890,"negzero":-0,'
    . '"exp":1.50e10,"nul":"a\u0000b","astral":"\ud83d\ude00",'
    . '"nested":[[1,[2,[]]],{"k":[{}]}]}';

sub seed_rich {
    my $text = Woportal::entry_json($RichId,
        status => 'in_progress',
        access_level => 'comment',
        allowed_actions => ['view', 'comment', 'approve'],
        expiry_date => '2027-03-04T05:06:07.089Z',
        notifications => {email => JSON::PP::true(), channels => ['sms']},
        portal_settings => {theme => 'dark', page_size => 25},
        company_namespace => ['acme', 'beta'],
        disabled => JSON::PP::true(),
        status_history => [
            {status => 'pending', changed_at => '2026-01-02T03:04:05.678Z'},
            {status => 'in_progress', notes => 'started',
             changed_at => '2026-02-03T04:05:06.789Z'},
        ],
        updated_at => '2026-02-03T04:05:06.789Z',
        version => 7,
    );
    $text =~ s/"custom_branding":\{\}/"custom_branding":$RichFree/
        or die "no custom_branding in the seeded entry\n";
    seed_raw($RichId, $text);
}

sub rich_raw_problems {
    my ($d, $raw) = @_;
    my @p;
    push @p, "123456789012345678901234567890 not kept digit for digit"
        unless $raw =~ /"big"\s*:\s*123456789012345678901234567890\s*[,}]/;
    push @p, "-0 lost its sign"
        unless $raw =~ /"negzero"\s*:\s*-0(?:\.0+)?(?:[eE][-+]?\d+)?\s*[,}]/;
    push @p, "1.50e10 is not 15000000000 any more"
        unless $raw =~ /"exp"\s*:\s*(?:1\.50?[eE]\+?10|15000000000(?:\.0+)?)\s*[,}]/;
    my $c = $d->{custom_branding} // {};
    push @p, "\\u0000 not kept" unless ($c->{nul} // '') eq "a\x{0}b";
    push @p, "astral character not kept" unless ($c->{astral} // '') eq "\x{1F600}";
    return @p;
}


run_tests();

__DATA__

=== TEST 1: a seeded entry: 200, ETag of its version, the body is the stored entry
--- init
main::seed_rich();
--- request
GET /api/v1/workorder-portal/5f1d0a0b0c0d0e0f10111213
--- error_code: 200
--- response_headers_like
ETag: "7"
Content-Type: application/json(;.*)?
--- body_is_stored: 1
--- data_is
_id: "5f1d0a0b0c0d0e0f10111213"
status: "in_progress"
access_level: "comment"
allowed_actions: ["view","comment","approve"]
expiry_date: "2027-03-04T05:06:07.089Z"
company_namespace: ["acme","beta"]
disabled: true
version: 7
status_history: [{"status":"pending","changed_at":"2026-01-02T03:04:05.678Z"},{"status":"in_progress","notes":"started","changed_at":"2026-02-03T04:05:06.789Z"}]
--- data_ok eval
\&main::rich_raw_problems



=== TEST 2: a seeded entry with the defaults: 200, ETag "1", the body is the stored entry
--- init
main::seed_entry('5f1d00000000000000000001');
--- request
GET /api/v1/workorder-portal/5f1d00000000000000000001
--- error_code: 200
--- response_headers
ETag: "1"
--- body_is_stored: 1
--- data_is
expiry_date: null
notifications: {}
portal_settings: {}
custom_branding: {}



=== TEST 3: HEAD: same status and headers as GET, no body
--- request
HEAD /api/v1/workorder-portal/5f1d0a0b0c0d0e0f10111213
--- error_code: 200
--- response_headers_like
ETag: "7"
Content-Type: application/json(;.*)?
Content-Length: [1-9][0-9]*
--- response_body



=== TEST 4: HEAD of an unknown id: 404 like GET, no body
--- request
HEAD /api/v1/workorder-portal/5f1dffffffffffffffffffff
--- error_code: 404
--- response_body



=== TEST 5: If-None-Match "1" matches version 1: 304 with the ETag, no body
--- more_headers
X-API-Key: test-key
If-None-Match: "1"
--- request
GET /api/v1/workorder-portal/5f1d00000000000000000001
--- error_code: 304
--- response_headers
ETag: "1"
--- response_body



=== TEST 6: If-None-Match compares weakly: W/"1" matches
--- more_headers
X-API-Key: test-key
If-None-Match: W/"1"
--- request
GET /api/v1/workorder-portal/5f1d00000000000000000001
--- error_code: 304
--- response_headers
ETag: "1"
--- response_body



=== TEST 7: If-None-Match takes a list: "9", "1" matches
--- more_headers
X-API-Key: test-key
If-None-Match: "9", "1"
--- request
GET /api/v1/workorder-portal/5f1d00000000000000000001
--- error_code: 304
--- response_headers
ETag: "1"
--- response_body



=== TEST 8: If-None-Match list without spaces, weak tags: W/"5",W/"1" matches
--- more_headers
X-API-Key: test-key
If-None-Match: W/"5",W/"1"
--- request
GET /api/v1/workorder-portal/5f1d00000000000000000001
--- error_code: 304
--- response_headers
ETag: "1"
--- response_body



=== TEST 9: If-None-Match * matches an existing entry
--- more_headers
X-API-Key: test-key
If-None-Match: *
--- request
GET /api/v1/workorder-portal/5f1d0a0b0c0d0e0f10111213
--- error_code: 304
--- response_headers
ETag: "7"
--- response_body



=== TEST 10: If-None-Match on HEAD: 304 too
--- more_headers
X-API-Key: test-key
If-None-Match: "7"
--- request
HEAD /api/v1/workorder-portal/5f1d0a0b0c0d0e0f10111213
--- error_code: 304
--- response_headers
ETag: "7"
--- response_body



=== TEST 11: If-None-Match not matching: 200 with the entry
--- more_headers
X-API-Key: test-key
If-None-Match: "2"
--- request
GET /api/v1/workorder-portal/5f1d00000000000000000001
--- error_code: 200
--- response_headers
ETag: "1"
--- body_is_stored: 1



=== TEST 12: If-None-Match with a list none of which matches: 200
--- more_headers
X-API-Key: test-key
If-None-Match: W/"2", "3", "17"
--- request
GET /api/v1/workorder-portal/5f1d0a0b0c0d0e0f10111213
--- error_code: 200
--- response_headers
ETag: "7"
--- body_is_stored: 1



=== TEST 13: If-None-Match "1" does not match version 11
--- init
main::seed_entry('5f1d00000000000000000011', version => 11);
--- more_headers
X-API-Key: test-key
If-None-Match: "1"
--- request
GET /api/v1/workorder-portal/5f1d00000000000000000011
--- error_code: 200
--- response_headers
ETag: "11"
--- body_is_stored: 1



=== TEST 14: If-None-Match "11" does not match version 1
--- more_headers
X-API-Key: test-key
If-None-Match: "11"
--- request
GET /api/v1/workorder-portal/5f1d00000000000000000001
--- error_code: 200
--- response_headers
ETag: "1"
--- body_is_stored: 1



=== TEST 15: If-None-Match with an unknown id: still 404
--- more_headers
X-API-Key: test-key
If-None-Match: *
--- request
GET /api/v1/workorder-portal/5f1dffffffffffffffffffff
--- error_code: 404
--- api_error: not_found



=== TEST 16: an unknown id: 404 not_found
--- request
GET /api/v1/workorder-portal/5f1dffffffffffffffffffff
--- error_code: 404
--- api_error: not_found



=== TEST 17: a malformed id of 23 characters: 404 not_found
--- request
GET /api/v1/workorder-portal/5f1d0a0b0c0d0e0f1011121
--- error_code: 404
--- api_error: not_found



=== TEST 18: a malformed id of 25 characters: 404 not_found
--- request
GET /api/v1/workorder-portal/5f1d0a0b0c0d0e0f101112134
--- error_code: 404
--- api_error: not_found



=== TEST 19: a malformed id in uppercase hex: 404 not_found
--- request
GET /api/v1/workorder-portal/5F1D0A0B0C0D0E0F10111213
--- error_code: 404
--- api_error: not_found



=== TEST 20: a malformed id with non-hex characters: 404 not_found
--- request
GET /api/v1/workorder-portal/5f1d0a0b0c0d0e0f1011121z
--- error_code: 404
--- api_error: not_found



=== TEST 21: an uppercase id is malformed even when its key holds an entry
--- init
main::seed_raw('5F1D0A0B0C0D0E0F10111213', Woportal::entry_json('5F1D0A0B0C0D0E0F10111213'));
--- request
GET /api/v1/workorder-portal/5F1D0A0B0C0D0E0F10111213
--- error_code: 404
--- api_error: not_found



=== TEST 22: malformed ids are answered without a store lookup: 404 with memcached down
--- config eval: $main::DownConfig
--- request eval
["GET /api/v1/workorder-portal/5f1d0a0b0c0d0e0f1011121",
 "GET /api/v1/workorder-portal/5f1d0a0b0c0d0e0f101112134",
 "GET /api/v1/workorder-portal/5F1D0A0B0C0D0E0F10111213",
 "GET /api/v1/workorder-portal/xxxxxxxxxxxxxxxxxxxxxxxx"]
--- error_code eval
[404, 404, 404, 404]
--- api_error eval
["not_found", "not_found", "not_found", "not_found"]



=== TEST 23: create an entry ...
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request
POST /api/v1/workorder-portal
{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013","access_level":"comment","allowed_actions":["view","upload_files"],"expiry_date":"2030-06-01T10:00:00+02:00","notifications":{"n":[1,{"x":-0}]},"portal_settings":{"big":123456789012345678901234567890},"custom_branding":{"s":"\ud83d\ude00\u0000"},"company_namespace":["acme"],"disabled":true}
--- error_code: 201
--- response_headers
ETag: "1"



=== TEST 24: ... GET gives it back: same data, ETag "1"
--- request
GET /api/v1/workorder-portal/{{id}}
--- error_code: 200
--- response_headers
ETag: "1"
--- same_as_created: 1
--- body_is_stored: 1
--- data_ok eval
sub {
    my ($d, $raw) = @_;
    my @p;
    push @p, 'big integer' unless $raw =~ /"big"\s*:\s*123456789012345678901234567890\s*[,}]/;
    push @p, '-0' unless $raw =~ /"x"\s*:\s*-0(?:\.0+)?(?:[eE][-+]?\d+)?\s*[,}]/;
    push @p, 'string' unless ($d->{custom_branding}{s} // '') eq "\x{1F600}\x{0}";
    push @p, 'expiry_date' unless ($d->{expiry_date} // '') eq '2030-06-01T08:00:00.000Z';
    return @p;
}



=== TEST 25: ... HEAD of it: 200, ETag "1", no body
--- request
HEAD /api/v1/workorder-portal/{{id}}
--- error_code: 200
--- response_headers
ETag: "1"
--- response_body



=== TEST 26: ... If-None-Match with its ETag: 304
--- more_headers
X-API-Key: test-key
If-None-Match: "1"
--- request
GET /api/v1/workorder-portal/{{id}}
--- error_code: 304
--- response_headers
ETag: "1"
--- response_body



=== TEST 27: a corrupt stored value (not JSON): 503 store_unavailable, never the garbage
--- init
main::seed_raw('5f1dc0000000000000000001', 'GARBAGE-1 <html>not json</html>');
--- request
GET /api/v1/workorder-portal/5f1dc0000000000000000001
--- error_code: 503
--- api_error: store_unavailable
--- response_body_unlike: GARBAGE|html



=== TEST 28: a corrupt stored value (truncated entry): 503 store_unavailable
--- init
main::seed_raw('5f1dc0000000000000000002',
    substr(Woportal::entry_json('5f1dc0000000000000000002', workorder => 'TRUNCATED-WO'), 0, -10));
--- request
GET /api/v1/workorder-portal/5f1dc0000000000000000002
--- error_code: 503
--- api_error: store_unavailable
--- response_body_unlike: TRUNCATED-WO



=== TEST 29: a corrupt stored value (an empty value): 503 store_unavailable
--- init
main::seed_raw('5f1dc0000000000000000003', '');
--- request
GET /api/v1/workorder-portal/5f1dc0000000000000000003
--- error_code: 503
--- api_error: store_unavailable



=== TEST 30: wrong shape (a JSON array): 503 store_unavailable
--- init
main::seed_raw('5f1dc0000000000000000004', '["WRONG-SHAPE",1]');
--- request
GET /api/v1/workorder-portal/5f1dc0000000000000000004
--- error_code: 503
--- api_error: store_unavailable
--- response_body_unlike: WRONG-SHAPE



=== TEST 31: wrong shape (an object that is not an entry): 503 store_unavailable
--- init
main::seed_raw('5f1dc0000000000000000005', '{"_id":"5f1dc0000000000000000005","workorder":"WRONG-SHAPE"}');
--- request
GET /api/v1/workorder-portal/5f1dc0000000000000000005
--- error_code: 503
--- api_error: store_unavailable
--- response_body_unlike: WRONG-SHAPE



=== TEST 32: wrong shape (version a string): 503 store_unavailable
--- init
main::seed_entry('5f1dc0000000000000000006', version => '1', workorder => 'WRONG-SHAPE');
--- request
GET /api/v1/workorder-portal/5f1dc0000000000000000006
--- error_code: 503
--- api_error: store_unavailable
--- response_body_unlike: WRONG-SHAPE



=== TEST 33: wrong shape (a status outside the enum): 503 store_unavailable
--- init
main::seed_entry('5f1dc0000000000000000007', status => 'bogus', workorder => 'WRONG-SHAPE');
--- request
GET /api/v1/workorder-portal/5f1dc0000000000000000007
--- error_code: 503
--- api_error: store_unavailable
--- response_body_unlike: WRONG-SHAPE



=== TEST 34: wrong shape (a timestamp that is not a date-time): 503 store_unavailable
--- init
main::seed_entry('5f1dc0000000000000000008', created_at => 'yesterday', workorder => 'WRONG-SHAPE');
--- request
GET /api/v1/workorder-portal/5f1dc0000000000000000008
--- error_code: 503
--- api_error: store_unavailable
--- response_body_unlike: WRONG-SHAPE



=== TEST 35: the stored _id is another entry's: 503 store_unavailable, not the other entry
--- init
main::seed_raw('5f1dc0000000000000000009',
    Woportal::entry_json('5f1dc00000000000000000aa', workorder => 'OTHER-ENTRY'));
--- request
GET /api/v1/workorder-portal/5f1dc0000000000000000009
--- error_code: 503
--- api_error: store_unavailable
--- response_body_unlike: OTHER-ENTRY|5f1dc00000000000000000aa



=== TEST 36: the stored _id is another entry's: no 304 either
--- more_headers
X-API-Key: test-key
If-None-Match: "1"
--- request
GET /api/v1/workorder-portal/5f1dc0000000000000000009
--- error_code: 503
--- api_error: store_unavailable



=== TEST 37: HEAD of a corrupt entry: 503, no body
--- request
HEAD /api/v1/workorder-portal/5f1dc0000000000000000001
--- error_code: 503
--- response_body



=== TEST 38: memcached unreachable: GET is 503 store_unavailable
--- config eval: $main::DownConfig
--- request
GET /api/v1/workorder-portal/5f1d0a0b0c0d0e0f10111213
--- error_code: 503
--- api_error: store_unavailable



=== TEST 39: memcached unreachable: POST is 503 store_unavailable
--- config eval: $main::DownConfig
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c"}
--- error_code: 503
--- api_error: store_unavailable



=== TEST 40: memcached unreachable: HEAD is 503, no body
--- config eval: $main::DownConfig
--- request
HEAD /api/v1/workorder-portal/5f1d0a0b0c0d0e0f10111213
--- error_code: 503
--- response_body



=== TEST 41: a stored _id in uppercase hex is corrupt, even when it is the entry's own id
--- init
main::seed_raw('5f1dc00000000000000000ab',
    Woportal::entry_json('5F1DC00000000000000000AB'));
--- request
GET /api/v1/workorder-portal/5f1dc00000000000000000ab
--- error_code: 503
--- api_error: store_unavailable
--- error_log eval
qr/stored entry "woportal:5f1dc00000000000000000ab" is corrupt: (?!it holds another entry's id)/
