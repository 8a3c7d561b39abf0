use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
no_shuffle();

# POST / (create): success cases and every validation rule of
# contract/openapi.yaml (CreateRequest) and contract/CONTRACT-NOTES.md.
#
# The sections api_error, details, data_is, data_ok, same_as_created and
# body_is_stored are checked by t/inc/Woportal.pm (see there).
#
# Every answer carrying an entry is also compared with what memcached holds
# under woportal:<_id>: the stored entry must be the same JSON value as the
# served data.

use JSON::PP ();

# every answer carrying an entry must equal what memcached holds
$Woportal::CheckStored = 1;
use Time::HiRes ();


our $Config = $Woportal::Location;

block_defaults(config => $Config,
               more_headers => "X-API-Key: test-key\n"
                               . "Content-Type: application/json\n");


# helpers for data_ok subs -------------------------------------------------

# the fields every answered entry carries (CONTRACT-NOTES: Entries)
our @AllFields = @Woportal::EntryFields;

sub parse_stamp {
    my $s = shift // '';
    my ($y, $mo, $d, $h, $mi, $sec, $ms) =
        $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$/
        or return undef;
    require Time::Local;
    return Time::Local::timegm($sec, $mi, $h, $d, $mo - 1, $y) + $ms / 1000;
}

# a new entry: everything the server sets on create
sub new_entry_problems {
    my $d = shift;
    my @p;
    for my $f (@AllFields) {
        push @p, "field $f missing" unless exists $d->{$f};
    }
    push @p, "_id is not 24 lowercase hex"
        unless ($d->{_id} // '') =~ /^[0-9a-f]{24}$/;
    push @p, "status is not pending" unless ($d->{status} // '') eq 'pending';
    push @p, "version is not 1" unless defined $d->{version} && !ref $d->{version}
                                       && $d->{version} eq '1';
    my $c = $d->{created_at};
    my $t = parse_stamp($c);
    push @p, "created_at '" . ($c // 'undef') . "' is not YYYY-MM-DDTHH:MM:SS.mmmZ"
        unless defined $t;
    push @p, "created_at '$c' is not about now"
        if defined $t && abs($t - Time::HiRes::time()) > 300;
    push @p, "updated_at differs from created_at"
        unless defined $c && ($d->{updated_at} // '') eq $c;
    my $h = $d->{status_history};
    if (ref $h ne 'ARRAY' || @$h != 1 || ref $h->[0] ne 'HASH') {
        push @p, "status_history is not one item";
    } else {
        push @p, "status_history[0] is not {status: pending, changed_at: created_at}"
            unless jcanon($h->[0]) eq jcanon({status => 'pending',
                                              changed_at => $c // ''});
    }
    return @p;
}


# the free objects of block "free objects are kept", checked on the served
# (or stored) JSON text too: numbers digit for digit, -0 with its sign
sub kept_free_problems {
    my ($d, $raw) = @_;
    my @p;
    my $n = $d->{notifications} // {};
    my %want = (
        nul       => "a\x{0}b",
        astral    => "\x{1F600}",
        bmp       => "\x{e9}\x{4e2d}",
        escapes   => "q\" b\\ s/ n\n t\t c\x{1f}",
        empty     => "",
    );
    for my $k (sort keys %want) {
        push @p, "notifications.$k is not kept"
            unless defined $n->{$k} && !ref $n->{$k} && $n->{$k} eq $want{$k};
    }
    push @p, "123456789012345678901234567890 not kept digit for digit"
        unless $raw =~ /"big"\s*:\s*123456789012345678901234567890\s*[,}]/;
    push @p, "-98765432109876543210987654321 not kept digit for digit"
        unless $raw =~ /"negbig"\s*:\s*-98765432109876543210987654321\s*[,}]/;
    push @p, "-0 lost its sign"
        unless $raw =~ /"negzero"\s*:\s*-0(?:\.0+)?(?:[eE][-+]?\d+)?\s*[,}]/;
    push @p, "1.50e10 is not 15000000000 any more"
        unless $raw =~ /"exp"\s*:\s*(?:1\.50?[eE]\+?10|15000000000(?:\.0+)?|1\.50?0*[eE]\+?0*10)\s*[,}]/;
    push @p, "0.1 is not kept"
        unless $raw =~ /"frac"\s*:\s*0\.10*\s*[,}]/;
    push @p, "nested arrays are not kept"
        unless jcanon($n->{nested}) eq '[[1,[2,[3,[]]]],{"k":[{},[]]}]';
    push @p, "booleans are not kept"
        unless jcanon([$n->{t}, $n->{f}]) eq '[true,false]';
    push @p, "portal_settings is not kept"
        unless jcanon($d->{portal_settings}) eq '{"a":{"b":{"c":[1,2,3]}},"z":"\/"}'
            || jcanon($d->{portal_settings}) eq '{"a":{"b":{"c":[1,2,3]}},"z":"/"}';
    push @p, "custom_branding is not kept"
        unless jcanon($d->{custom_branding}) eq '{"":"empty key","k\\"q":1}';
    return @p;
}

run_tests();

__DATA__

=== TEST 1: minimal body: 201, the defaults and the fields the server sets
--- request
POST /api/v1/workorder-portal
{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013"}
--- error_code: 201
--- response_headers_like
ETag: "1"
Location: /api/v1/workorder-portal/[0-9a-f]{24}
Content-Type: application/json(;.*)?
--- data_is
workorder: "507f1f77bcf86cd799439012"
client: "507f1f77bcf86cd799439013"
access_level: "view_only"
allowed_actions: ["view"]
expiry_date: null
notifications: {}
portal_settings: {}
custom_branding: {}
company_namespace: []
disabled: false
status: "pending"
version: 1
--- data_ok eval
\&main::new_entry_problems



=== TEST 2: the collection with a trailing slash creates too
--- request
POST /api/v1/workorder-portal/
{"workorder":"w-slash","client":"c-slash"}
--- error_code: 201
--- response_headers_like
ETag: "1"
Location: /api/v1/workorder-portal/[0-9a-f]{24}
--- data_is
workorder: "w-slash"
client: "c-slash"
--- data_ok eval
\&main::new_entry_problems



=== TEST 3: full body with every field: kept as sent, expiry_date normalised
--- request
POST /api/v1/workorder-portal
{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013","access_level":"full_access","allowed_actions":["view","comment","upload_files","approve","reject"],"expiry_date":"2019-08-24T14:15:22Z","notifications":{"email":true,"channels":["sms","push"]},"portal_settings":{"theme":"dark","page_size":25},"custom_branding":{"logo":"https://example.com/l.png","colors":{"primary":"#112233"}},"company_namespace":["acme","acme-sub"],"disabled":true}
--- error_code: 201
--- response_headers_like
ETag: "1"
Location: /api/v1/workorder-portal/[0-9a-f]{24}
--- data_is
workorder: "507f1f77bcf86cd799439012"
client: "507f1f77bcf86cd799439013"
access_level: "full_access"
allowed_actions: ["view","comment","upload_files","approve","reject"]
expiry_date: "2019-08-24T14:15:22.000Z"
notifications: {"email":true,"channels":["sms","push"]}
portal_settings: {"theme":"dark","page_size":25}
custom_branding: {"logo":"https://example.com/l.png","colors":{"primary":"#112233"}}
company_namespace: ["acme","acme-sub"]
disabled: true
--- data_ok eval
\&main::new_entry_problems



=== TEST 4: GET of the entry just created gives the same data
--- request
GET /api/v1/workorder-portal/{{id}}
--- more_headers
X-API-Key: test-key
--- error_code: 200
--- response_headers
ETag: "1"
--- same_as_created: 1



=== TEST 5: the other access levels and an empty allowed_actions are accepted
--- request eval
["POST /api/v1/workorder-portal\n" . '{"workorder":"w","client":"c","access_level":"comment","allowed_actions":[]}',
 "POST /api/v1/workorder-portal\n" . '{"workorder":"w","client":"c","access_level":"view_only","allowed_actions":["approve"]}']
--- error_code eval
[201, 201]
--- data_is eval
["access_level: \"comment\"\nallowed_actions: []\n",
 "access_level: \"view_only\"\nallowed_actions: [\"approve\"]\n"]



=== TEST 6: expiry_date with fraction and offset is normalised to UTC milliseconds
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":"2019-08-24T14:15:22.123456+02:00"}
--- error_code: 201
--- data_is
expiry_date: "2019-08-24T12:15:22.123Z"



=== TEST 7: expiry_date with a negative offset moves to the next day (and year)
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":"2019-12-31T23:30:00.5-01:00"}
--- error_code: 201
--- data_is
expiry_date: "2020-01-01T00:30:00.500Z"



=== TEST 8: expiry_date with a +05:30 offset is normalised to UTC
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":"2019-08-24T14:15:22+05:30"}
--- error_code: 201
--- data_is
expiry_date: "2019-08-24T08:45:22.000Z"



=== TEST 9: expiry_date on Feb 29 of a leap year is accepted
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":"2024-02-29T00:00:00Z"}
--- error_code: 201
--- data_is
expiry_date: "2024-02-29T00:00:00.000Z"



=== TEST 10: free objects are kept: big integers, -0, exponents, escapes, \u0000, astral chars, nested arrays
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","notifications":{"big":123456789012345678901234567890,"negbig":-98765432109876543210987654321,"negzero":-0,"exp":1.50e10,"frac":0.1,"nul":"a\u0000b","astral":"\ud83d\ude00","bmp":"\u00e9\u4e2d","escapes":"q\" b\\ s\/ n\n t\t c\u001f","empty":"","nested":[[1,[2,[3,[]]]],{"k":[{},[]]}],"t":true,"f":false},"portal_settings":{"a":{"b":{"c":[1,2,3]}},"z":"\/"},"custom_branding":{"":"empty key","k\"q":1}}
--- error_code: 201
--- data_ok eval
\&main::kept_free_problems



=== TEST 11: ... and GET gives them back the same, digit for digit
--- request
GET /api/v1/workorder-portal/{{id}}
--- more_headers
X-API-Key: test-key
--- error_code: 200
--- same_as_created: 1
--- data_ok eval
\&main::kept_free_problems



=== TEST 12: raw UTF-8 astral characters in a free object are kept
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","custom_branding":{"title":"' . "\xf0\x9f\x98\x80 \xe2\x82\xac \xc3\xa9" . '"}}'
--- error_code: 201
--- data_ok eval
sub { $_[0]{custom_branding}{title} eq "\x{1F600} \x{20ac} \x{e9}" ? () : ('title not kept') }



=== TEST 13: workorder and client of 64 characters are accepted
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"' . ('w' x 64) . '","client":"' . ('c' x 64) . '"}'
--- error_code: 201
--- data_ok eval
sub { $_[0]{workorder} eq 'w' x 64 && $_[0]{client} eq 'c' x 64 ? () : ('not kept') }



=== TEST 14: 64 multi-byte characters are 64 characters: accepted
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"' . ("\xc3\xa9" x 64) . '","client":"' . ("\xf0\x9f\x98\x80" x 64) . '"}'
--- error_code: 201
--- data_ok eval
sub { $_[0]{workorder} eq "\x{e9}" x 64 && $_[0]{client} eq "\x{1F600}" x 64 ? () : ('not kept') }



=== TEST 15: 64 characters written as escapes are accepted
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"' . ('\u00e9' x 64) . '","client":"' . ('\ud83d\ude00' x 64) . '"}'
--- error_code: 201
--- data_ok eval
sub { $_[0]{workorder} eq "\x{e9}" x 64 && $_[0]{client} eq "\x{1F600}" x 64 ? () : ('not kept') }



=== TEST 16: a namespace item of 128 characters and 32 items are accepted
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","company_namespace":['
. CORE::join(',', '"' . ('n' x 128) . '"', map { "\"ns$_\"" } 2 .. 32) . ']}'
--- error_code: 201
--- data_ok eval
sub {
    my $ns = $_[0]{company_namespace};
    return ('not 32 namespaces') unless ref $ns eq 'ARRAY' && @$ns == 32;
    return ('namespaces not kept in order')
        unless $ns->[0] eq 'n' x 128 && CORE::join(',', @$ns[1 .. 31]) eq CORE::join(',', map { "ns$_" } 2 .. 32);
    return ();
}



=== TEST 17: a free object of exactly 16384 bytes of compact JSON is accepted
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","notifications":{"a":"' . ('x' x 16376) . '"}}'
--- error_code: 201
--- data_ok eval
sub { length(JSON::PP->new->encode($_[0]{notifications})) == 16384
      && $_[0]{notifications}{a} eq 'x' x 16376 ? () : ('not kept') }



=== TEST 18: the limit is on the compact form: whitespace sent does not count
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","notifications":  {  "a"  :  "' . ('x' x 16376) . '"  }  }'
--- error_code: 201
--- data_ok eval
sub { $_[0]{notifications}{a} eq 'x' x 16376 ? () : ('not kept') }



=== TEST 19: a free object 8 levels deep is accepted
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","portal_settings":' . ('{"a":' x 7) . '{}' . ('}' x 7) . '}'
--- error_code: 201
--- data_ok eval
sub { JSON::PP->new->canonical->encode($_[0]{portal_settings})
      eq ('{"a":' x 7) . '{}' . ('}' x 7) ? () : ('not kept') }



=== TEST 20: a free object 8 levels deep through arrays is accepted
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","portal_settings":{"a":' . ('[' x 7) . '1' . (']' x 7) . '}}'
--- error_code: 201
--- data_ok eval
sub { JSON::PP->new->canonical->encode($_[0]{portal_settings})
      eq '{"a":' . ('[' x 7) . '1' . (']' x 7) . '}' ? () : ('not kept') }



=== TEST 21: a NUL character (as \u0000) in a Reference is kept
--- request
POST /api/v1/workorder-portal
{"workorder":"a\u0000b","client":"c"}
--- error_code: 201
--- data_is
workorder: "a\u0000b"



=== TEST 22: a namespace item of 128 three-byte characters is accepted
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","company_namespace":["' . ("\xe2\x82\xac" x 128) . '"]}'
--- error_code: 201
--- data_ok eval
sub { $_[0]{company_namespace}[0] eq "\x{20ac}" x 128 ? () : ('not kept') }



=== TEST 23: a body of about 40 KB (spilled to a temporary file by nginx) is created
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w-big","client":"c-big",'
. '"notifications":{"a":"' . ('n' x 13000) . '"},'
. '"portal_settings":{"b":"' . ('p' x 13000) . '"},'
. '"custom_branding":{"c":"' . ('b' x 13000) . '"},'
. '"company_namespace":[' . CORE::join(',', map { '"' . ('s' x 100) . $_ . '"' } 10 .. 41) . ']}'
--- error_code: 201
--- data_ok eval
sub {
    my $d = shift;
    my @p;
    push @p, 'notifications' unless $d->{notifications}{a} eq 'n' x 13000;
    push @p, 'portal_settings' unless $d->{portal_settings}{b} eq 'p' x 13000;
    push @p, 'custom_branding' unless $d->{custom_branding}{c} eq 'b' x 13000;
    push @p, 'company_namespace'
        unless CORE::join(',', @{ $d->{company_namespace} }) eq CORE::join(',', map { ('s' x 100) . $_ } 10 .. 41);
    push @p, 'workorder' unless $d->{workorder} eq 'w-big';
    return @p;
}
--- error_log
a client request body is buffered to a temporary file



=== TEST 24: a chunked body of about 40 KB, a UTF-8 character split across chunks, is created
--- more_headers
X-API-Key: test-key
Content-Type: application/json
Transfer-Encoding: chunked
--- request eval
my $json = '{"workorder":"w-chunked","client":"c-chunked",'
    . '"notifications":{"a":"' . ("\xc3\xa9" x 6000) . '"},'
    . '"portal_settings":{"b":"' . ('p' x 13000) . '"},'
    . '"custom_branding":{"c":"' . ('b' x 13000) . '"}}';
my $out = '';
while (length $json) {
    my $c = substr $json, 0, 4001, '';
    $out .= sprintf("%x\r\n", length $c) . $c . "\r\n";
}
"POST /api/v1/workorder-portal\n" . $out . "0\r\n\r\n"
--- error_code: 201
--- data_ok eval
sub {
    my $d = shift;
    my @p;
    push @p, 'notifications' unless $d->{notifications}{a} eq "\x{e9}" x 6000;
    push @p, 'portal_settings' unless $d->{portal_settings}{b} eq 'p' x 13000;
    push @p, 'custom_branding' unless $d->{custom_branding}{c} eq 'b' x 13000;
    push @p, 'workorder' unless $d->{workorder} eq 'w-chunked';
    return @p;
}
--- error_log
a client request body is buffered to a temporary file



=== TEST 25: a root key written with escapes is the field it spells
--- request
POST /api/v1/workorder-portal
{"w\u006frkorder":"w-esc","\u0063lient":"c-esc"}
--- error_code: 201
--- data_is
workorder: "w-esc"
client: "c-esc"



=== TEST 26: media type with a charset parameter is JSON
--- more_headers
X-API-Key: test-key
Content-Type: application/json; charset=utf-8
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c"}
--- error_code: 201



=== TEST 27: media type compared case-insensitively
--- more_headers
X-API-Key: test-key
Content-Type: Application/JSON;Charset=UTF-8
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c"}
--- error_code: 201



=== TEST 28: media type with whitespace before its parameter is JSON
--- more_headers
X-API-Key: test-key
Content-Type: application/json ; charset=utf-8
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c"}
--- error_code: 201



=== TEST 29: a body without Content-Type is 415
--- more_headers
X-API-Key: test-key
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c"}
--- error_code: 415
--- api_error: unsupported_media_type



=== TEST 30: text/plain is 415
--- more_headers
X-API-Key: test-key
Content-Type: text/plain
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c"}
--- error_code: 415
--- api_error: unsupported_media_type



=== TEST 31: a media type that only starts with application/json is 415
--- more_headers
X-API-Key: test-key
Content-Type: application/json-patch+json
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c"}
--- error_code: 415
--- api_error: unsupported_media_type



=== TEST 32: invalid JSON: truncated
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c"
--- error_code: 400
--- api_error: invalid_json



=== TEST 33: invalid JSON: trailing garbage
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c"} x
--- error_code: 400
--- api_error: invalid_json



=== TEST 34: invalid JSON: a second document after the first
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c"}{"workorder":"w","client":"c"}
--- error_code: 400
--- api_error: invalid_json



=== TEST 35: invalid JSON: a trailing NUL byte
--- request eval
"POST /api/v1/workorder-portal\n" . '{"workorder":"w","client":"c"}' . "\0"
--- error_code: 400
--- api_error: invalid_json



=== TEST 36: invalid JSON: NaN
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","notifications":{"x":NaN}}
--- error_code: 400
--- api_error: invalid_json



=== TEST 37: invalid JSON: single quotes
--- request
POST /api/v1/workorder-portal
{'workorder':'w','client':'c'}
--- error_code: 400
--- api_error: invalid_json



=== TEST 38: invalid JSON: invalid UTF-8 bytes in a string
--- request eval
"POST /api/v1/workorder-portal\n" . '{"workorder":"w' . "\xff\xfe" . '","client":"c"}'
--- error_code: 400
--- api_error: invalid_json



=== TEST 39: invalid JSON: a truncated UTF-8 sequence in a string
--- request eval
"POST /api/v1/workorder-portal\n" . '{"workorder":"w' . "\xe2\x82" . '","client":"c"}'
--- error_code: 400
--- api_error: invalid_json



=== TEST 40: invalid JSON: overlong UTF-8 (two bytes for "/")
--- request eval
"POST /api/v1/workorder-portal\n" . '{"workorder":"w' . "\xc0\xaf" . '","client":"c"}'
--- error_code: 400
--- api_error: invalid_json



=== TEST 41: invalid JSON: overlong UTF-8 (three bytes for "/")
--- request eval
"POST /api/v1/workorder-portal\n" . '{"workorder":"w' . "\xe0\x80\xaf" . '","client":"c"}'
--- error_code: 400
--- api_error: invalid_json



=== TEST 42: invalid JSON: a UTF-8 encoded surrogate
--- request eval
"POST /api/v1/workorder-portal\n" . '{"workorder":"w' . "\xed\xa0\x80" . '","client":"c"}'
--- error_code: 400
--- api_error: invalid_json



=== TEST 43: invalid JSON: a code point past U+10FFFF
--- request eval
"POST /api/v1/workorder-portal\n" . '{"workorder":"w' . "\xf4\x90\x80\x80" . '","client":"c"}'
--- error_code: 400
--- api_error: invalid_json



=== TEST 44: invalid JSON: lone high surrogate escape
--- request
POST /api/v1/workorder-portal
{"workorder":"w\ud83d","client":"c"}
--- error_code: 400
--- api_error: invalid_json



=== TEST 45: invalid JSON: lone high surrogate escape followed by another escape
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","notifications":{"s":"\ud83d\u0041"}}
--- error_code: 400
--- api_error: invalid_json



=== TEST 46: invalid JSON: lone low surrogate escape
--- request
POST /api/v1/workorder-portal
{"workorder":"w\ude00x","client":"c"}
--- error_code: 400
--- api_error: invalid_json



=== TEST 47: invalid JSON: reversed surrogate pair
--- request
POST /api/v1/workorder-portal
{"workorder":"w\ude00\ud83d","client":"c"}
--- error_code: 400
--- api_error: invalid_json



=== TEST 48: invalid JSON: a UTF-8 BOM before the document
--- request eval
"POST /api/v1/workorder-portal\n" . "\xef\xbb\xbf" . '{"workorder":"w","client":"c"}'
--- error_code: 400
--- api_error: invalid_json



=== TEST 49: invalid JSON: 33 levels of nesting (inside a free object)
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","notifications":' . ('{"a":' x 31) . '{}' . ('}' x 31) . '}'
--- error_code: 400
--- api_error: invalid_json



=== TEST 50: invalid JSON: 33 levels of nesting inside an unknown field
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","colour":' . ('[' x 32) . (']' x 32) . '}'
--- error_code: 400
--- api_error: invalid_json



=== TEST 51: invalid JSON: 33 levels of nesting inside a field of the wrong type
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":' . ('{"a":' x 31) . '{}' . ('}' x 31) . ',"client":"c"}'
--- error_code: 400
--- api_error: invalid_json



=== TEST 52: invalid JSON: 33 levels of nested arrays at the root
--- request eval
"POST /api/v1/workorder-portal\n" . ('[' x 33) . (']' x 33)
--- error_code: 400
--- api_error: invalid_json



=== TEST 53: 32 levels in all (a free object 31 deep) is valid JSON: 422 for the free object's depth
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","notifications":' . ('{"a":' x 30) . '{}' . ('}' x 30) . '}'
--- error_code: 422
--- api_error: validation_failed
--- details
notifications



=== TEST 54: invalid JSON: an empty body
--- request
POST /api/v1/workorder-portal
--- error_code: 400
--- api_error: invalid_json



=== TEST 55: invalid JSON: an empty body with Content-Length: 0
--- more_headers
X-API-Key: test-key
Content-Type: application/json
Content-Length: 0
--- request
POST /api/v1/workorder-portal
--- error_code: 400
--- api_error: invalid_json



=== TEST 56: a valid document whose root is an array: 422 without details
--- request
POST /api/v1/workorder-portal
[{"workorder":"w","client":"c"}]
--- error_code: 422
--- api_error: validation_failed
--- details
none



=== TEST 57: a valid document whose root is a string: 422 without details
--- request
POST /api/v1/workorder-portal
"workorder"
--- error_code: 422
--- api_error: validation_failed
--- details
none



=== TEST 58: a valid document whose root is a number: 422 without details
--- request
POST /api/v1/workorder-portal
42
--- error_code: 422
--- api_error: validation_failed
--- details
none



=== TEST 59: a valid document whose root is null: 422 without details
--- request
POST /api/v1/workorder-portal
null
--- error_code: 422
--- api_error: validation_failed
--- details
none



=== TEST 60: an unknown field
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","colour":"blue"}
--- error_code: 422
--- api_error: validation_failed
--- details
colour



=== TEST 61: server field sent on create: _id
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","_id":"507f1f77bcf86cd799439011"}
--- error_code: 422
--- api_error: validation_failed
--- details
_id



=== TEST 62: server field sent on create: status
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","status":"pending"}
--- error_code: 422
--- api_error: validation_failed
--- details
status



=== TEST 63: server field sent on create: version
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","version":1}
--- error_code: 422
--- api_error: validation_failed
--- details
version



=== TEST 64: server field sent on create: created_at
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","created_at":"2026-01-02T03:04:05.678Z"}
--- error_code: 422
--- api_error: validation_failed
--- details
created_at



=== TEST 65: server field sent on create: updated_at
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","updated_at":"2026-01-02T03:04:05.678Z"}
--- error_code: 422
--- api_error: validation_failed
--- details
updated_at



=== TEST 66: server field sent on create: status_history
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","status_history":[]}
--- error_code: 422
--- api_error: validation_failed
--- details
status_history



=== TEST 67: notes (a field of status requests only) is unknown on create
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","notes":"hello"}
--- error_code: 422
--- api_error: validation_failed
--- details
notes



=== TEST 68: missing workorder
--- request
POST /api/v1/workorder-portal
{"client":"c"}
--- error_code: 422
--- api_error: validation_failed
--- details
workorder



=== TEST 69: missing client
--- request
POST /api/v1/workorder-portal
{"workorder":"w"}
--- error_code: 422
--- api_error: validation_failed
--- details
client



=== TEST 70: an empty object misses both
--- request
POST /api/v1/workorder-portal
{}
--- error_code: 422
--- api_error: validation_failed
--- details
workorder
client



=== TEST 71: wrong type: workorder a number
--- request
POST /api/v1/workorder-portal
{"workorder":507,"client":"c"}
--- error_code: 422
--- api_error: validation_failed
--- details
workorder



=== TEST 72: wrong type: workorder an object
--- request
POST /api/v1/workorder-portal
{"workorder":{"id":"w"},"client":"c"}
--- error_code: 422
--- api_error: validation_failed
--- details
workorder



=== TEST 73: wrong type: client a boolean
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":true}
--- error_code: 422
--- api_error: validation_failed
--- details
client



=== TEST 74: wrong type: client an array
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":["c"]}
--- error_code: 422
--- api_error: validation_failed
--- details
client



=== TEST 75: wrong type: access_level a number
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","access_level":1}
--- error_code: 422
--- api_error: validation_failed
--- details
access_level



=== TEST 76: wrong type: allowed_actions a string
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","allowed_actions":"view"}
--- error_code: 422
--- api_error: validation_failed
--- details
allowed_actions



=== TEST 77: wrong type: allowed_actions an object
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","allowed_actions":{"0":"view"}}
--- error_code: 422
--- api_error: validation_failed
--- details
allowed_actions



=== TEST 78: wrong type: an allowed_actions item a number
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","allowed_actions":["view",1]}
--- error_code: 422
--- api_error: validation_failed
--- details
allowed_actions[1]



=== TEST 79: wrong type: an allowed_actions item an array
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","allowed_actions":[["view"],"comment"]}
--- error_code: 422
--- api_error: validation_failed
--- details
allowed_actions[0]



=== TEST 80: wrong type: expiry_date a number
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":1566656122}
--- error_code: 422
--- api_error: validation_failed
--- details
expiry_date



=== TEST 81: wrong type: notifications an array
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","notifications":[]}
--- error_code: 422
--- api_error: validation_failed
--- details
notifications



=== TEST 82: wrong type: portal_settings a string
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","portal_settings":"{}"}
--- error_code: 422
--- api_error: validation_failed
--- details
portal_settings



=== TEST 83: wrong type: custom_branding a number
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","custom_branding":0}
--- error_code: 422
--- api_error: validation_failed
--- details
custom_branding



=== TEST 84: wrong type: company_namespace a string
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","company_namespace":"acme"}
--- error_code: 422
--- api_error: validation_failed
--- details
company_namespace



=== TEST 85: wrong type: a company_namespace item a number, named with its index
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","company_namespace":["acme",7,"other"]}
--- error_code: 422
--- api_error: validation_failed
--- details
company_namespace[1]



=== TEST 86: wrong type: a company_namespace item an object
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","company_namespace":[{"name":"acme"}]}
--- error_code: 422
--- api_error: validation_failed
--- details
company_namespace[0]



=== TEST 87: wrong type: disabled a string
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","disabled":"false"}
--- error_code: 422
--- api_error: validation_failed
--- details
disabled



=== TEST 88: wrong type: disabled a number
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","disabled":0}
--- error_code: 422
--- api_error: validation_failed
--- details
disabled



=== TEST 89: null is a type error: expiry_date null on create
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":null}
--- error_code: 422
--- api_error: validation_failed
--- details
expiry_date



=== TEST 90: null is a type error: workorder
--- request
POST /api/v1/workorder-portal
{"workorder":null,"client":"c"}
--- error_code: 422
--- api_error: validation_failed
--- details
workorder



=== TEST 91: null is a type error: an allowed_actions item
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","allowed_actions":["view",null]}
--- error_code: 422
--- api_error: validation_failed
--- details
allowed_actions[1]



=== TEST 92: null is a type error: a company_namespace item
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","company_namespace":[null]}
--- error_code: 422
--- api_error: validation_failed
--- details
company_namespace[0]



=== TEST 93: null is a type error: every other field at once, each named
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":null,"access_level":null,"allowed_actions":null,"notifications":null,"portal_settings":null,"custom_branding":null,"company_namespace":null,"disabled":null}
--- error_code: 422
--- api_error: validation_failed
--- details
client
access_level
allowed_actions
notifications
portal_settings
custom_branding
company_namespace
disabled



=== TEST 94: enum: an unknown access_level
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","access_level":"admin"}
--- error_code: 422
--- api_error: validation_failed
--- details
access_level



=== TEST 95: enum: access_level is case-sensitive
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","access_level":"VIEW_ONLY"}
--- error_code: 422
--- api_error: validation_failed
--- details
access_level



=== TEST 96: enum: an unknown allowed_actions item, named with its index
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","allowed_actions":["view","comment","delete"]}
--- error_code: 422
--- api_error: validation_failed
--- details
allowed_actions[2]



=== TEST 97: enum: allowed_actions items are case-sensitive
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","allowed_actions":["View"]}
--- error_code: 422
--- api_error: validation_failed
--- details
allowed_actions[0]



=== TEST 98: a duplicate allowed_actions item is named by its index
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","allowed_actions":["view","comment","view"]}
--- error_code: 422
--- api_error: validation_failed
--- details
allowed_actions[2]



=== TEST 99: a duplicate sixth allowed_actions item after all five actions
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","allowed_actions":["view","comment","upload_files","approve","reject","view"]}
--- error_code: 422
--- api_error: validation_failed
--- details
allowed_actions[5]



=== TEST 100: Reference of length 0
--- request
POST /api/v1/workorder-portal
{"workorder":"","client":"c"}
--- error_code: 422
--- api_error: validation_failed
--- details
workorder



=== TEST 101: Reference of 65 characters
--- request eval
"POST /api/v1/workorder-portal\n" . '{"workorder":"w","client":"' . ('c' x 65) . '"}'
--- error_code: 422
--- api_error: validation_failed
--- details
client



=== TEST 102: Reference of 65 multi-byte characters
--- request eval
"POST /api/v1/workorder-portal\n" . '{"workorder":"' . ("\xc3\xa9" x 65) . '","client":"c"}'
--- error_code: 422
--- api_error: validation_failed
--- details
workorder



=== TEST 103: namespace item of length 0
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","company_namespace":[""]}
--- error_code: 422
--- api_error: validation_failed
--- details
company_namespace[0]



=== TEST 104: namespace item of 129 characters
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","company_namespace":["acme","' . ('n' x 129) . '"]}'
--- error_code: 422
--- api_error: validation_failed
--- details
company_namespace[1]



=== TEST 105: namespace item of 129 three-byte characters
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","company_namespace":["' . ("\xe2\x82\xac" x 129) . '"]}'
--- error_code: 422
--- api_error: validation_failed
--- details
company_namespace[0]



=== TEST 106: 33 namespace items
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","company_namespace":[' . CORE::join(',', map { "\"ns$_\"" } 1 .. 33) . ']}'
--- error_code: 422
--- api_error: validation_failed
--- details
company_namespace



=== TEST 107: a duplicate key at the root
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","workorder":"w2"}
--- error_code: 422
--- api_error: validation_failed
--- details
workorder



=== TEST 108: a duplicate key inside a free object
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","notifications":{"email":true,"email":false}}
--- error_code: 422
--- api_error: validation_failed
--- details
notifications



=== TEST 109: a duplicate key deep inside a free object
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","custom_branding":{"a":[{"x":1}],"b":{"c":{"k":1,"j":2,"k":3}}}}
--- error_code: 422
--- api_error: validation_failed
--- details
custom_branding



=== TEST 110: a duplicate key at the root written with an escape
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","\u0077orkorder":"w2"}
--- error_code: 422
--- api_error: validation_failed
--- details
workorder



=== TEST 111: a free object given twice at the root
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","notifications":{"a":1},"notifications":{"b":2}}
--- error_code: 422
--- api_error: validation_failed
--- details
notifications



=== TEST 112: a duplicate key in a free object, after a nested object
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","notifications":{"a":1,"b":{"a":2,"c":[{"a":3}]},"a":4}}
--- error_code: 422
--- api_error: validation_failed
--- details
notifications



=== TEST 113: a duplicate key in a free object written with an escape
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","portal_settings":{"key":1,"k\u0065y":2}}
--- error_code: 422
--- api_error: validation_failed
--- details
portal_settings



=== TEST 114: the same key in sibling objects of a free object is no duplicate
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","custom_branding":{"a":{"k":1},"b":{"k":2},"c":[{"k":3},{"k":4}]}}
--- error_code: 201
--- data_is
custom_branding: {"a":{"k":1},"b":{"k":2},"c":[{"k":3},{"k":4}]}



=== TEST 115: a free object of 16385 bytes of compact JSON
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","notifications":{"a":"' . ('x' x 16377) . '"}}'
--- error_code: 422
--- api_error: validation_failed
--- details
notifications



=== TEST 116: a free object 9 levels deep
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","portal_settings":' . ('{"a":' x 8) . '{}' . ('}' x 8) . '}'
--- error_code: 422
--- api_error: validation_failed
--- details
portal_settings



=== TEST 117: a free object 9 levels deep through arrays
--- request eval
"POST /api/v1/workorder-portal\n"
. '{"workorder":"w","client":"c","notifications":{"a":' . ('[' x 8) . '1' . (']' x 8) . '}}'
--- error_code: 422
--- api_error: validation_failed
--- details
notifications



=== TEST 118: expiry_date: date only
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":"2019-08-24"}
--- error_code: 422
--- api_error: validation_failed
--- details
expiry_date



=== TEST 119: expiry_date: no offset
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":"2019-08-24T14:15:22"}
--- error_code: 422
--- api_error: validation_failed
--- details
expiry_date



=== TEST 120: expiry_date: Feb 30
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":"2019-02-30T00:00:00Z"}
--- error_code: 422
--- api_error: validation_failed
--- details
expiry_date



=== TEST 121: expiry_date: Feb 29 on a non-leap year
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":"2019-02-29T00:00:00Z"}
--- error_code: 422
--- api_error: validation_failed
--- details
expiry_date



=== TEST 122: expiry_date: Feb 29 of 1900 (not a leap year)
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":"1900-02-29T00:00:00Z"}
--- error_code: 422
--- api_error: validation_failed
--- details
expiry_date



=== TEST 123: expiry_date: month 13
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":"2019-13-01T00:00:00Z"}
--- error_code: 422
--- api_error: validation_failed
--- details
expiry_date



=== TEST 124: expiry_date: hour 25
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":"2019-08-24T25:00:00Z"}
--- error_code: 422
--- api_error: validation_failed
--- details
expiry_date



=== TEST 125: expiry_date: offset +25:00
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":"2019-08-24T14:15:22+25:00"}
--- error_code: 422
--- api_error: validation_failed
--- details
expiry_date



=== TEST 126: expiry_date: words
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c","expiry_date":"next tuesday"}
--- error_code: 422
--- api_error: validation_failed
--- details
expiry_date



=== TEST 127: several bad fields at once: one detail for each
--- request
POST /api/v1/workorder-portal
{"workorder":"","client":1,"access_level":"root","allowed_actions":["view","fly","view"],"expiry_date":"soon","company_namespace":["",""],"disabled":"no","colour":"blue"}
--- error_code: 422
--- api_error: validation_failed
--- details
workorder
client
access_level
allowed_actions[1]
allowed_actions[2]
expiry_date
company_namespace[0]
company_namespace[1]
disabled
colour



=== TEST 128: each field is named once: a bad field repeated, an unknown field repeated
--- request
POST /api/v1/workorder-portal
{"workorder":1,"client":"c","workorder":2,"colour":"a","colour":"b"}
--- error_code: 422
--- api_error: validation_failed
--- details
workorder
colour



=== TEST 129: an invalid field and a missing one
--- request
POST /api/v1/workorder-portal
{"client":"c","disabled":"yes"}
--- error_code: 422
--- api_error: validation_failed
--- details
workorder
disabled



=== TEST 130: a syntax error anywhere wins over validation errors: 400
--- request
POST /api/v1/workorder-portal
{"workorder":1,"client":2,"colour":"x",}
--- error_code: 400
--- api_error: invalid_json



=== TEST 131: the fields before a syntax error are not reported: a 400 has no details
--- request
POST /api/v1/workorder-portal
{"workorder":1,"client":"","allowed_actions":["x","x"],"colour":"x"
--- error_code: 400
--- api_error: invalid_json
--- details
none
