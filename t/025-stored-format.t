use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalPersist 'sqlite';
use WoportalFaults;
no_shuffle();

# The stored format of an entry in memcached (src/ngx_http_woportal_value.c,
# DEVELOPING.md "How entries are stored"): item flags 5, a binary header
# (magic, the JSON's length, the _id, the version, the namespaces) and
# then the entry's JSON exactly as served.  A get serves the JSON without
# parsing it, from what the header says: which entry it is, its ETag and
# whom it is for.
#
#   - every write stores flags 5 and a header that says what the JSON
#     does; the database's doc stays the JSON alone; a read through the
#     database fills memcached in the same format;
#   - a value of flags 1 (the JSON alone, as stored before) is still
#     served, changed and listed, and a change stores it as flags 5;
#   - a header that is wrong in any way (cut short, lengths that do not
#     add up, another entry's id, namespaces that run past their end, a
#     JSON that is not an object) is 503 store_unavailable, never served
#     nor written over; a delete clears it;
#   - tenancy and ETags hold through the header.
#
# The blocks use t/inc/WoportalPersist.pm's per-block prefix and database;
# "--- directives" go inside the location; "--- no_persist": the block's
# location has no persistence.  Every location also has the keys of
# keys.txt: "beta-key" sees the namespace beta only.

use Digest::SHA ();

our $Base = '/api/v1/workorder-portal';
our $J = $WoportalFaults::J;
our $BetaKey = 'beta-key';
our $KeysFile = 'beta ' . Digest::SHA::sha256_hex($BetaKey) . " beta\n";

add_block_preprocessor(sub {
    my $block = shift;
    my ($n) = $block->name =~ /TEST (\d+)/;
    my $extra = "        woportal_api_keys ../html/keys.txt;\n"
                . ($block->directives // '');
    $block->set_value(config => main::location($n, $extra,
                                    defined $block->no_persist ? 'off'
                                                               : undef))
        unless defined $block->config;
    $block->set_value(user_files => ">>> keys.txt\n$KeysFile")
        unless defined $block->user_files;
    return $block;
});

# the raw item of an entry: value, flags, cas
sub raw { WoportalFaults::mc_gets($ENV{TEST_NGINX_MEMCACHED_PORT},
                                  $main::Prefix . $main::Id{$_[0]}) }

sub set_raw {
    my ($label, $value, $flags) = @_;
    my $r = WoportalFaults::mc_set($ENV{TEST_NGINX_MEMCACHED_PORT},
                                   $main::Prefix . $main::Id{$label},
                                   $value, $flags);
    push @main::InitProblems, "set: $r" unless $r =~ /^STORED/;
}

# problems unless $label's item is flags 5 with a header saying its _id,
# version $version and namespaces @ns, and a JSON that is the entry served
sub stored_ok {
    my ($label, $version, @ns) = @_;
    my ($value, $flags) = raw($label);
    return "$label: nothing stored" unless defined $value;
    return "$label: item flags $flags, expected 5" if $flags != 5;
    my $v = Woportal::entry_value($value);
    return "$label: not an entry's value: $v" unless ref $v;
    my @p;
    push @p, "$label: the header's id is $v->{id}"
        if $v->{id} ne $main::Id{$label};
    push @p, "$label: the header's version is $v->{version}, expected $version"
        if $v->{version} != $version;
    push @p, "$label: the header's namespaces are [@{ $v->{namespaces} }]"
        if "@{ $v->{namespaces} }" ne "@ns";
    my $doc = WoportalFaults::jdecode($v->{json});
    push @p, "$label: the JSON part is not the entry: $v->{json}"
        unless $doc && $doc->{_id} eq $main::Id{$label}
               && $doc->{version} == $version;
    push @p, "$label: the JSON part is not what was served"
        if $main::Served{$label} && $doc
           && $J->encode($doc) ne $J->encode($main::Served{$label});
    return @p;
}

# a request whose answer must be $want (and its error code $code); the
# entry's workorder, "wo-<label>", must never be in an error's body
sub expect {
    my ($method, $path, $body, $want, $code, %o) = @_;
    $path =~ s/\{\{(\w+)\}\}/$main::Id{$1} \/\/ 'none'/ge;
    my ($st, $b) = WoportalFaults::http_req($ENV{TEST_NGINX_SERVER_PORT},
                       $method, $path, defined $body ? $J->encode($body) : undef,
                       %o);
    push @main::InitProblems, "$method $path: $st $b, expected $want"
        . ($code ? " $code" : '')
        if $st != $want || ($code && WoportalFaults::api_error($b) ne $code);
    push @main::InitProblems, "$method $path served a corrupt value: $b"
        if $st >= 500 && $b =~ /"wo-/;
    return $b;
}

# every change of a corrupt entry refused, the item left as it was
sub changes_refused {
    my $label = shift;
    my @before = raw($label);
    expect(PATCH => "$Base/{{$label}}", {disabled => JSON::PP::true()}, 503,
           'store_unavailable');
    expect(PUT => "$Base/{{$label}}", {access_level => 'comment'}, 503,
           'store_unavailable');
    expect(PATCH => "$Base/{{$label}}/status", {status => 'completed'}, 503,
           'store_unavailable');
    expect(DELETE => "$Base/{{$label}}", undef, 503, 'store_unavailable',
           headers => {'If-Match' => '"1"'});
    my @after = raw($label);
    push @main::InitProblems, "$label: the corrupt item was changed"
        if "@before" ne "@after";
}

# $label's value made corrupt by $how (a sub of the value): 503 for a get,
# a HEAD and every change, nothing served, nothing written over
sub corrupt {
    my ($label, $how) = @_;
    my ($value) = raw($label);
    set_raw($label, $how->($value), 5);
    expect(GET => "$Base/{{$label}}", undef, 503, 'store_unavailable');
    expect(HEAD => "$Base/{{$label}}", undef, 503);
    changes_refused($label);
}

# a value with the 4 bytes at $at (little-endian) set to $n
sub put32 { my ($v, $at, $n) = @_; substr($v, $at, 4) = pack('V', $n); $v }
sub put16 { my ($v, $at, $n) = @_; substr($v, $at, 2) = pack('v', $n); $v }

# problems unless the error log (all of it) has a line matching each
sub logged {
    my @re = @_;
    my @lines = WoportalFaults::read_lines(
        "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log");
    return map { my $re = $_; (grep { /$re/ } @lines) ? () : "not logged: $re" } @re;
}

# the body is {"success":true,"data":<the JSON part of $label's value>},
# byte for byte
sub body_is_stored_json {
    my $label = shift;
    return sub {
        my ($data, $body) = @_;
        my @p = main::problems_first();
        my ($value, $flags) = raw($label);
        my $json = defined $value && $flags == 5
                   ? (Woportal::entry_value($value) // {})->{json}
                   : $value;
        push @p, "$label: the body is not the stored JSON: $body"
            if $body ne '{"success":true,"data":' . ($json // '') . '}';
        return @p;
    };
}

run_tests();

__DATA__

=== TEST 1: a create and a change store item flags 5: the header holds the _id, the version and the namespaces, then the JSON served; a get serves that JSON byte for byte with its version as the ETag
--- no_persist: 1
--- init
main::mk('a', company_namespace => ['acme', 'beta']);
push @main::InitProblems, main::stored_ok('a', 1, 'acme', 'beta');
main::write_api('a', PATCH => "$main::Base/{{a}}/status",
                {status => 'in_progress', notes => 'on site'}, 200);
push @main::InitProblems, main::stored_ok('a', 2, 'acme', 'beta');
main::write_api('a', PUT => "$main::Base/{{a}}",
                {company_namespace => ['gamma']}, 200);
push @main::InitProblems, main::stored_ok('a', 3, 'gamma');
--- request eval
"GET /api/v1/workorder-portal/{{a}}"
--- error_code: 200
--- response_headers
ETag: "3"
--- data_ok eval
sub { (main::same_as('a')->(@_), main::body_is_stored_json('a')->(@_)) }



=== TEST 2: the header is as long as it says: 27 bytes, then each namespace's length and bytes; the JSON's length is the rest of the value
--- no_persist: 1
--- init
main::mk('a', company_namespace => ['acme', "b\x{e9}ta"]);
my ($value, $flags) = main::raw('a');
my $v = Woportal::entry_value($value // '');
if (ref $v) {
    push @main::InitProblems, "the header is $v->{head} bytes, expected 40"
        if $v->{head} != 27 + 2 + 4 + 2 + 5;
    push @main::InitProblems, "the magic and format are not 0xe5 1"
        if substr($value, 0, 2) ne "\xe5\x01";
    push @main::InitProblems, "the JSON does not start at the header's end"
        if substr($value, $v->{head}, 1) ne '{';
} else {
    push @main::InitProblems, "not an entry's value: $v";
}
--- request eval
"GET /api/v1/workorder-portal/{{a}}"
--- error_code: 200
--- data_ok eval
main::body_is_stored_json('a')



=== TEST 3: a value of item flags 1 (the JSON alone, as stored before the header) is served as it is, with its ETag and its 304; a change stores it with flags 5
--- no_persist: 1
--- init
main::mk('a');
my ($value) = main::raw('a');
my $v = Woportal::entry_value($value // '');
my $json = ref $v ? $v->{json} : '';
$json =~ s/"version":1\}$/"version":3}/
    or push @main::InitProblems, "no version in $json";
main::set_raw('a', $json, 1);
--- more_headers eval
["X-API-Key: test-key", "X-API-Key: test-key\nIf-None-Match: \"3\"",
 "X-API-Key: test-key\nContent-Type: application/json",
 "X-API-Key: test-key"]
--- request eval
["GET /api/v1/workorder-portal/{{a}}",
 "GET /api/v1/workorder-portal/{{a}}",
 "PATCH /api/v1/workorder-portal/{{a}}/status\n{\"status\":\"in_progress\"}",
 "GET /api/v1/workorder-portal/{{a}}"]
--- error_code eval
[200, 304, 200, 200]
--- response_headers eval
["ETag: \"3\"", "ETag: \"3\"", "ETag: \"4\"", "ETag: \"4\""]
--- data_ok eval
[main::body_is_stored_json('a'), undef,
 sub { $main::Served{a} = $_[0]; () },
 sub { (main::same_as('a')->(@_), main::stored_ok('a', 4),
        main::body_is_stored_json('a')->(@_)) }]



=== TEST 4: item flags 1 with the JSON of an older version: a PUT and a checked DELETE read it like any other; the PUT stores flags 5
--- no_persist: 1
--- init
main::mk('a');
main::mk('b');
for my $l ('a', 'b') {
    my ($value) = main::raw($l);
    my $v = Woportal::entry_value($value // '');
    main::set_raw($l, ref $v ? $v->{json} : '', 1);
}
main::write_api('a', PUT => "$main::Base/{{a}}", {access_level => 'comment'},
                200);
push @main::InitProblems, main::stored_ok('a', 2);
main::expect(DELETE => "$main::Base/{{b}}", undef, 200, undef,
             headers => {'If-Match' => '"1"'});
--- request eval
["GET /api/v1/workorder-portal/{{a}}", "GET /api/v1/workorder-portal/{{b}}"]
--- error_code eval
[200, 404]
--- data_ok eval
[main::same_as('a'), undef]



=== TEST 5: a header that is wrong is 503 store_unavailable for a get, a HEAD and every change, never served nor written over: cut short, cut in the header, a byte more, a JSON length that does not add up
--- no_persist: 1
--- init
main::mk($_) for qw(a b c d e f);
main::corrupt('a', sub { substr($_[0], 0, -1) });
main::corrupt('b', sub { substr($_[0], 0, 20) });
main::corrupt('c', sub { $_[0] . '}' });
main::corrupt('d', sub { main::put32($_[0], 2, unpack('V', substr($_[0], 2, 4)) - 1) });
main::corrupt('e', sub { '' });
push @main::InitProblems, main::logged(
    qr/stored entry "[^"]+" is corrupt: its length is not its header's and its JSON's/,
    qr/stored entry "[^"]+" is corrupt: it is shorter than an entry's header/);
--- request eval
"GET /api/v1/workorder-portal/{{f}}"
--- error_code: 200
--- data_ok eval
main::same_as('f')



=== TEST 6: a wrong header, continued: another entry's id (its whole value under this key, and only the header's id changed), a wrong magic, a JSON that is not an object, a version of 0
--- no_persist: 1
--- init
main::mk($_) for qw(a b c d e f);
my ($other) = main::raw('f');
main::corrupt('a', sub { $other });
main::corrupt('b', sub { my $v = $_[0]; substr($v, 17, 1) ^= "\x01"; $v });
main::corrupt('c', sub { my $v = $_[0]; substr($v, 0, 1) = '{'; $v });
main::corrupt('d', sub { my $v = $_[0]; substr($v, -1) = ']'; $v });
main::corrupt('e', sub { my $v = $_[0]; substr($v, 18, 8) = "\0" x 8; $v });
push @main::InitProblems, main::logged(
    qr/is corrupt: its header holds another entry's id/,
    qr/is corrupt: it does not start with an entry's header/,
    qr/is corrupt: its JSON is not an object/,
    qr/is corrupt: its header's version is not one/);
--- request eval
"GET /api/v1/workorder-portal/{{f}}"
--- error_code: 200
--- data_ok eval
main::same_as('f')



=== TEST 7: a wrong header, continued: namespaces whose lengths are wrong (0, too long for a namespace), that run past the value's end, more of them than the header holds, too many, none where there is one
--- no_persist: 1
--- init
main::mk($_, company_namespace => ['acme']) for qw(a b c d e f g h);
# one namespace, "acme": its length at 27, its bytes at 29
main::corrupt('a', sub { main::put16($_[0], 27, 0) });
main::corrupt('b', sub { main::put16($_[0], 27, 513) });
main::corrupt('c', sub { substr($_[0], 0, 31) });
main::corrupt('d', sub { substr($_[0], 0, 28) });
main::corrupt('e', sub { my $v = $_[0]; substr($v, 26, 1) = "\x02"; $v });
main::corrupt('f', sub { my $v = $_[0]; substr($v, 26, 1) = "\x21"; $v });
main::corrupt('g', sub { my $v = $_[0]; substr($v, 26, 1) = "\x00"; $v });
push @main::InitProblems, main::logged(
    qr/is corrupt: its header has a namespace of a wrong length/,
    qr/is corrupt: its header's namespaces run past its end/,
    qr/is corrupt: its header has too many namespaces/);
--- request eval
"GET /api/v1/workorder-portal/{{h}}"
--- error_code: 200
--- data_ok eval
main::same_as('h')



=== TEST 8: a header that does not agree with its JSON (another version, other namespaces): a get trusts the header (no checksum: it would cost what the header saves), but no change is made from such a value (503), and a list refuses it
--- no_persist: 1
--- init
main::mk($_, company_namespace => ['acme']) for qw(a b);
my ($value) = main::raw('a');
main::set_raw('a', main::put16($value, 18, 9), 5);
main::expect(GET => "$main::Base/{{a}}", undef, 200);
main::changes_refused('a');
($value) = main::raw('b');
substr($value, 29, 4) = 'beta';
main::set_raw('b', $value, 5);
main::changes_refused('b');
main::expect(GET => $main::Base, undef, 503, 'store_unavailable');
push @main::InitProblems, main::logged(
    qr/stored entry "[^"]+" is corrupt: its header does not agree with its JSON/);
--- request eval
"GET /api/v1/workorder-portal/{{a}}"
--- error_code: 200
--- response_headers
ETag: "9"
--- data_ok eval
sub { main::problems_first() }



=== TEST 9: a delete clears a corrupt value: 200, then 404
--- no_persist: 1
--- init
main::mk('a');
main::corrupt('a', sub { substr($_[0], 0, -3) });
main::expect(DELETE => "$main::Base/{{a}}", undef, 200);
--- request eval
"GET /api/v1/workorder-portal/{{a}}"
--- error_code: 404
--- api_error: not_found
--- error_log
is corrupt



=== TEST 10: tenancy through the header: a key without the entry's namespaces gets the 404 of an unknown id, for a get and a HEAD; with one of them, the entry; the same for a value of flags 1
--- no_persist: 1
--- init
main::mk('a', company_namespace => ['acme']);
main::mk('b', company_namespace => ['acme', 'beta']);
main::mk('c', company_namespace => ['acme']);
my ($value) = main::raw('c');
my $v = Woportal::entry_value($value // '');
main::set_raw('c', ref $v ? $v->{json} : '', 1);
main::subst();
--- more_headers eval
["X-API-Key: $main::BetaKey", "X-API-Key: $main::BetaKey",
 "X-API-Key: $main::BetaKey", "X-API-Key: $main::BetaKey",
 "X-API-Key: $main::BetaKey", "X-API-Key: test-key"]
--- request eval
["GET /api/v1/workorder-portal/{{a}}",
 "GET /api/v1/workorder-portal/6b0000000000000000000001",
 "HEAD /api/v1/workorder-portal/{{a}}",
 "GET /api/v1/workorder-portal/{{b}}",
 "GET /api/v1/workorder-portal/{{c}}",
 "GET /api/v1/workorder-portal/{{a}}"]
--- error_code eval
[404, 404, 404, 200, 404, 200]
--- api_error eval
["not_found", "not_found", undef, undef, "not_found", undef]
--- data_ok eval
[undef, undef, undef, main::same_as('b'), undef, main::same_as('a')]
--- response_body_unlike eval
["wo-a", "wo-a", "wo-a", "wo-a", "wo-c", "wo-b"]



=== TEST 11: ETag and If-None-Match from the header: 304 for the version (weak too, and in a list), 200 for another; after a change, the new version
--- no_persist: 1
--- init
main::mk('a');
--- more_headers eval
["X-API-Key: test-key\nIf-None-Match: \"1\"",
 "X-API-Key: test-key\nIf-None-Match: W/\"1\"",
 "X-API-Key: test-key\nIf-None-Match: \"7\", \"1\"",
 "X-API-Key: test-key\nIf-None-Match: \"2\"",
 "X-API-Key: test-key\nIf-None-Match: \"1\"",
 "X-API-Key: test-key\nContent-Type: application/json",
 "X-API-Key: test-key\nIf-None-Match: \"1\"",
 "X-API-Key: test-key\nIf-None-Match: \"2\""]
--- request eval
["GET /api/v1/workorder-portal/{{a}}",
 "GET /api/v1/workorder-portal/{{a}}",
 "GET /api/v1/workorder-portal/{{a}}",
 "GET /api/v1/workorder-portal/{{a}}",
 "HEAD /api/v1/workorder-portal/{{a}}",
 "PATCH /api/v1/workorder-portal/{{a}}\n{\"disabled\":true}",
 "GET /api/v1/workorder-portal/{{a}}",
 "GET /api/v1/workorder-portal/{{a}}"]
--- error_code eval
[304, 304, 304, 200, 304, 200, 200, 304]
--- response_headers eval
["ETag: \"1\"", "ETag: \"1\"", "ETag: \"1\"", "ETag: \"1\"", "ETag: \"1\"",
 "ETag: \"2\"", "ETag: \"2\"", "ETag: \"2\""]



=== TEST 12: a list serves the JSON of each entry, flags 5 and flags 1 alike, never a header's bytes
--- no_persist: 1
--- init
main::mk('a');
main::mk('b');
main::mk('c');
my ($value) = main::raw('b');
my $v = Woportal::entry_value($value // '');
main::set_raw('b', ref $v ? $v->{json} : '', 1);
--- request
GET /api/v1/workorder-portal?sort=workorder
--- error_code: 200
--- data_ok eval
sub {
    my ($data, $body) = @_;
    my @p = main::list_is('a b c', 3)->(@_);
    push @p, "a header's bytes in the list" if $body =~ /\xe5\x01/;
    @p }



=== TEST 13: with SQLite: the database's doc is the JSON alone, the same bytes as memcached's JSON part; a get that finds no item reads the database and fills memcached with flags 5 and a header made from the row
--- init
main::mk('a', company_namespace => ['acme', 'beta']);
main::write_api('a', PATCH => "$main::Base/{{a}}/status",
                {status => 'in_progress'}, 200);
my ($row) = @{ main::db_rows() };
my ($value) = main::raw('a');
my $v = Woportal::entry_value($value // '');
push @main::InitProblems, "the row's doc is not the JSON alone: "
                          . ($row ? $row->[3] : 'no row')
    unless $row && ref $v && $row->[3] eq $v->{json};
Woportal::memcached_delete($main::Prefix . $main::Id{a});
--- request eval
["GET /api/v1/workorder-portal/{{a}}", "GET /api/v1/workorder-portal/{{a}}"]
--- error_code eval
[200, 200]
--- response_headers eval
["ETag: \"2\"", "ETag: \"2\""]
--- data_ok eval
[main::same_as('a'),
 sub {
     my @p = main::same_as('a')->(@_);
     push @p, main::stored_ok('a', 2, 'acme', 'beta');
     my ($row) = @{ main::db_rows() };
     push @p, "the row's doc is not the JSON part"
         unless $row && $_[1] eq '{"success":true,"data":' . $row->[3] . '}';
     @p }]



=== TEST 14: with SQLite: a value of flags 1 in memcached is served and changed; the change stores flags 5 and the doc stays the JSON alone
--- init
main::mk('a');
my ($value) = main::raw('a');
my $v = Woportal::entry_value($value // '');
main::set_raw('a', ref $v ? $v->{json} : '', 1);
main::expect(GET => "$main::Base/{{a}}", undef, 200);
main::write_api('a', PUT => "$main::Base/{{a}}", {access_level => 'comment'},
                200);
--- request eval
"GET /api/v1/workorder-portal/{{a}}"
--- error_code: 200
--- data_ok eval
sub {
    my @p = (main::same_as('a')->(@_), main::stored_ok('a', 2));
    my ($row) = @{ main::db_rows() };
    push @p, "the row is not at version 2 as plain JSON"
        unless $row && $row->[1] == 2 && $row->[3] =~ /^\{/
               && $row->[3] =~ /"access_level":"comment"/;
    @p }



=== TEST 15: with SQLite: a corrupt header is 503 (not served, not written over), the database keeps the entry, and once the item is gone the entry reads back and is stored with flags 5 again
--- init
main::mk('a');
main::corrupt('a', sub { substr($_[0], 0, -1) });
my ($row) = @{ main::db_rows() };
push @main::InitProblems, "the row is not at version 1"
    unless $row && $row->[1] == 1;
Woportal::memcached_delete($main::Prefix . $main::Id{a});
--- request eval
"GET /api/v1/workorder-portal/{{a}}"
--- error_code: 200
--- data_ok eval
sub { (main::same_as('a')->(@_), main::stored_ok('a', 1)) }



=== TEST 16: with SQLite: a list whose entries were evicted reads them through the database and serves their JSON; memcached gets them back with flags 5
--- init
main::mk('a');
main::mk('b');
main::expect(GET => $main::Base, undef, 200);
Woportal::memcached_delete($main::Prefix . $main::Id{$_}) for qw(a b);
--- request
GET /api/v1/workorder-portal?sort=workorder
--- error_code: 200
--- data_ok eval
sub { (main::list_is('a b', 2)->(@_), main::stored_ok('a', 1),
       main::stored_ok('b', 1)) }



=== TEST 17: with SQLite: a row whose doc is not the entry is 503 when read through, and memcached is not filled with it
--- init
main::mk('a');
main::mk('b');
my $dbh = DBI->connect("dbi:SQLite:dbname=$main::Db", '', '',
                       {RaiseError => 1, PrintError => 0});
$dbh->do("UPDATE woportal_entries SET doc = ? WHERE prefix = ? AND id = ?",
         undef, '{"_id":"garbage","workorder":"wo-a"}', $main::Prefix,
         $main::Id{a});
$dbh->disconnect;
Woportal::memcached_delete($main::Prefix . $main::Id{a});
main::expect(GET => "$main::Base/{{a}}", undef, 503, 'store_unavailable');
my ($value, $flags) = main::raw('a');
push @main::InitProblems, "memcached was filled with flags $flags"
    if defined $value && $flags != 4;
--- request eval
"GET /api/v1/workorder-portal/{{b}}"
--- error_code: 200
--- data_ok eval
main::same_as('b')
--- error_log
is corrupt



=== TEST 18: a value made outside the module by the layout DEVELOPING.md gives (t/inc/Woportal.pm make_value) is served as the module's own: the JSON byte for byte, the header's version as the ETag, its namespaces for the keys
--- no_persist: 1
--- init
$main::Id{x} = '6b0a00000000000000000a0a';
main::set_raw('x', Woportal::make_value(Woportal::entry_json($main::Id{x},
    company_namespace => ['acme', 'beta'], version => 7)), 5);
main::subst();
--- more_headers eval
["X-API-Key: test-key", "X-API-Key: $main::BetaKey"]
--- request eval
["GET /api/v1/workorder-portal/{{x}}", "GET /api/v1/workorder-portal/{{x}}"]
--- error_code eval
[200, 200]
--- response_headers eval
["ETag: \"7\"", "ETag: \"7\""]
--- data_ok eval
[main::body_is_stored_json('x'), main::body_is_stored_json('x')]
