use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalPersist 'sqlite';
use WoportalFaults;
no_shuffle();

# What memcached holds is damaged (README "How it works", "How entries are
# stored"): garbage written under an entry's key over memcached's text
# protocol, with the entry's item flags (5, and 1: the JSON alone, as
# stored before the header of src/ngx_http_woportal_value.c) and with
# others, a valid entry under flags that are not an entry's, garbage in an
# index shard.  Never
# is garbage served: a corrupt entry is 503 store_unavailable for reads
# and changes (and stays as it was: nothing is written over what cannot
# be read), a delete clears it; with persistence the database keeps the
# entry and reads it back once the damaged item is gone; a list over a
# corrupt shard serves the records before the garbage, rewrites the
# shard, and with persistence rebuilds the index from the database.
# (t/020-get.t and t/080-list.t have the reads of corrupt values,
# t/025-stored-format.t the wrong headers.)
#
# The blocks use t/inc/WoportalPersist.pm's per-block prefix and
# database; "--- directives" go inside the location; "--- no_persist":
# the block's location has no persistence.

add_block_preprocessor(sub {
    my $block = shift;
    my ($n) = $block->name =~ /TEST (\d+)/;
    $block->set_value(config => main::location($n, scalar $block->directives,
                                               'off'))
        if defined $block->no_persist && !defined $block->config;
    return $block;
});

our $Base = '/api/v1/workorder-portal';
our $J = $WoportalFaults::J;
our $Garbage = "\x00\xff{\"_id\":garbage\r\nEND\r\n\x80";

# a request whose answer must be $want (and its error code $code)
sub expect {
    my ($method, $path, $body, $want, $code, %headers) = @_;
    $path =~ s/\{\{(\w+)\}\}/$main::Id{$1} \/\/ 'none'/ge;
    my ($st, $b) = WoportalFaults::http_req($ENV{TEST_NGINX_SERVER_PORT},
                       $method, $path, defined $body ? $J->encode($body) : undef,
                       headers => \%headers);
    push @main::InitProblems, "$method $path: $st $b, expected $want"
        . ($code ? " $code" : '')
        if $st != $want || ($code && WoportalFaults::api_error($b) ne $code);
    push @main::InitProblems, "$method $path served the garbage"
        if index($b, 'garbage') >= 0;
}

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

# every change of the corrupt entry refused, the item left as it was
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
           'If-Match' => '"1"');
    my @after = raw($label);
    push @main::InitProblems, "the corrupt item was changed"
        if "@before" ne "@after";
}

# problems unless the error log (all of it) has a line matching each
sub logged {
    my @re = @_;
    my @lines = WoportalFaults::read_lines(
        "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log");
    return map { my $re = $_; (grep { /$re/ } @lines) ? () : "not logged: $re" } @re;
}

sub shard_key { $main::Prefix . 'idx:0' }

sub append_garbage {
    my $r = WoportalFaults::mc_append($ENV{TEST_NGINX_MEMCACHED_PORT},
                                      shard_key(), "\xff\xfe garbage \x00");
    push @main::InitProblems, "append: $r" unless $r =~ /^STORED/;
}

run_tests();

__DATA__

=== TEST 1: garbage under an entry's key with an entry's flags (5, and 1 of the JSON alone): reads and changes are 503 (the item stays as it was), a delete clears it, other entries are served
--- no_persist: 1
--- init
main::mk('a');
main::mk('b');
main::mk('c');
main::set_raw('a', $main::Garbage, 1);
main::expect(GET => "$main::Base/{{a}}", undef, 503, 'store_unavailable');
main::changes_refused('a');
main::expect(DELETE => "$main::Base/{{a}}", undef, 200);
main::expect(GET => "$main::Base/{{a}}", undef, 404, 'not_found');
main::set_raw('c', $main::Garbage, 5);
main::expect(GET => "$main::Base/{{c}}", undef, 503, 'store_unavailable');
main::changes_refused('c');
main::expect(DELETE => "$main::Base/{{c}}", undef, 200);
main::expect(GET => "$main::Base/{{c}}", undef, 404, 'not_found');
--- request eval
"GET /api/v1/workorder-portal/{{b}}"
--- error_code: 200
--- data_ok eval
main::same_as('b')
--- error_log
is corrupt



=== TEST 2: garbage with other flags (0, and the "gone" marker's 2): 503, and 404 for the marker
--- no_persist: 1
--- init
main::mk('a');
main::mk('b');
main::set_raw('a', $main::Garbage, 0);
main::expect(GET => "$main::Base/{{a}}", undef, 503, 'store_unavailable');
main::changes_refused('a');
main::set_raw('b', $main::Garbage, 2);
main::expect(GET => "$main::Base/{{b}}", undef, 404, 'not_found');
--- request eval
"GET /api/v1/workorder-portal/{{a}}"
--- error_code: 503
--- api_error: store_unavailable
--- error_log
is corrupt



=== TEST 3: a valid entry under item flags that are not an entry's (0, 3: an index shard's), or under the other entry format's (the value with its header under 1, its JSON alone under 5), is not served: 503 for a get, a change and a list page
--- no_persist: 1
--- init
main::mk('a');
my ($value) = main::raw('a');
my $v = Woportal::entry_value($value);
push @main::InitProblems, "not an entry's value: $v" unless ref $v;
main::set_raw('a', $value, 0);
main::expect(GET => "$main::Base/{{a}}", undef, 503, 'store_unavailable');
main::changes_refused('a');
main::set_raw('a', $value, 1);
main::expect(GET => "$main::Base/{{a}}", undef, 503, 'store_unavailable');
main::changes_refused('a');
main::set_raw('a', ref $v ? $v->{json} : '', 5);
main::expect(GET => "$main::Base/{{a}}", undef, 503, 'store_unavailable');
main::changes_refused('a');
main::set_raw('a', $value, 3);
main::expect(GET => "$main::Base/{{a}}", undef, 503, 'store_unavailable');
--- request
GET /api/v1/workorder-portal
--- error_code: 503
--- api_error: store_unavailable
--- error_log
item flags 3 are not an entry's



=== TEST 4: with SQLite: a corrupt item is 503 (not served, not overwritten), the database keeps the entry unchanged, and once the item is gone the entry reads back from the database
--- init
main::mk('a');
main::set_raw('a', $main::Garbage, 1);
main::expect(GET => "$main::Base/{{a}}", undef, 503, 'store_unavailable');
main::changes_refused('a');
my ($row) = @{ main::db_rows() };
push @main::InitProblems, "the row is not at version 1: @{ $row // [] }"
    unless $row && $row->[1] == 1 && $row->[3] !~ /garbage/;
Woportal::memcached_delete($main::Prefix . $main::Id{a});
--- request eval
"GET /api/v1/workorder-portal/{{a}}"
--- error_code: 200
--- data_ok eval
main::same_as('a')



=== TEST 5: without persistence, garbage in an index shard: the index is not whole (its writers made the shard, so no list rebuilt it yet), and the list rebuilds it from memcached's key dump: every entry listed, the shard rewritten without the garbage, and listed the same once an entry is written
--- no_persist: 1
--- directives
        woportal_index_shards 1;
--- init
main::mk('a');
main::mk('b');
main::append_garbage();
main::mk('c');
--- more_headers eval
["X-API-Key: test-key", "X-API-Key: test-key\nContent-Type: application/json",
 "X-API-Key: test-key"]
--- request eval
["GET /api/v1/workorder-portal?sort=workorder",
 "PATCH /api/v1/workorder-portal/{{c}}\n{\"disabled\":true}",
 "GET /api/v1/workorder-portal?sort=workorder"]
--- error_code eval
[200, 200, 200]
--- data_ok eval
[main::list_is('a b c', 3), sub { $main::Served{c} = $_[0]; () },
 sub {
     my @p = main::list_is('a b c', 3)->(@_);
     push @p, "garbage in the shard"
         if (Woportal::memcached_get(main::shard_key()) // '') =~ /garbage/;
     push @p, main::logged(qr/index shard "[^"]+idx:0" is corrupt after \d+ of its \d+ bytes/);
     @p }]



=== TEST 6: with SQLite, garbage in an index shard: the first list serves the records before it and rewrites the shard, the next one rebuilds the index from the database: every entry listed
--- directives
        woportal_index_shards 1;
--- init
main::mk('a');
main::mk('b');
# the first list makes the index (with persistence, writers never make a
# shard: one they do not find was lost, and the index is rebuilt)
main::expect(GET => $main::Base, undef, 200);
main::append_garbage();
main::mk('c');
--- request eval
["GET /api/v1/workorder-portal?sort=workorder",
 "GET /api/v1/workorder-portal?sort=workorder"]
--- error_code eval
[200, 200]
--- data_ok eval
[main::list_is('a b', 2),
 sub { (main::list_is('a b c', 3)->(@_),
        main::logged(qr/index shard "[^"]+idx:0" is corrupt after/,
                     qr/was rebuilt with 3 entries/)) }]



=== TEST 7: an index shard overwritten with an entry's value under an entry's flags: no garbage served, the log says so, and the list rebuilds the index from memcached's key dump (no persistence): every entry listed; the entries themselves are still served
--- no_persist: 1
--- directives
        woportal_index_shards 1;
--- init
main::mk('a');
main::mk('b');
my ($value) = main::raw('a');
my $r = WoportalFaults::mc_set($ENV{TEST_NGINX_MEMCACHED_PORT}, main::shard_key(), $value, 5);
push @main::InitProblems, "set: $r" unless $r =~ /^STORED/;
--- request eval
["GET /api/v1/workorder-portal", "GET /api/v1/workorder-portal/{{b}}"]
--- error_code eval
[200, 200]
--- data_ok eval
[main::list_is('b a', 2),
 sub { (main::same_as('b')->(@_),
        main::logged(qr/index shard "[^"]+idx:0" is corrupt after 0 of its/)) }]
