use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalPersist 'sqlite';
no_shuffle();

# Persistence to SQLite (woportal_persist sqlite:<path>; README
# "Persistence"): every acknowledged change is in the database, so memcached
# losing its data (flush_all here, as a restart would) loses nothing:
# gets and list pages read through to the database, updates and status
# changes go on from the stored version, a list rebuilds its index from the
# database, a delete removes the row.  A database that stays locked is 503
# store_unavailable and memcached is not changed either.  Bad
# woportal_persist values fail nginx -t.
#
# t/091-persist-postgresql.t runs these blocks against PostgreSQL.  The
# helpers (main::mk, main::list_is, ...) are in t/inc/WoportalPersist.pm:
# each block has its own key prefix and database; entries are made in
# --- init through the API.

run_tests();

__DATA__

=== TEST 1: memcached flushed: a get reads the entry through from SQLite, every field as served before, with its ETag
--- init
main::mk('a', access_level => 'comment', allowed_actions => ['view', 'approve'],
         expiry_date => '2027-01-31T18:00:00+01:00',
         notifications => {big => JSON::PP::true, n => [1, {x => 'y'}]},
         portal_settings => {theme => "d\x{e9}j\x{e0} \x{1f600}"},
         company_namespace => ['acme', 'beta'], disabled => JSON::PP::true);
main::write_api('a', PATCH => "/api/v1/workorder-portal/{{a}}/status",
                {status => 'in_progress', notes => 'started'}, 200);
main::flush_memcached();
--- request eval
"GET /api/v1/workorder-portal/{{a}}"
--- error_code: 200
--- response_headers
ETag: "2"
--- data_ok eval
main::same_as('a')



=== TEST 2: memcached flushed: the list index is rebuilt from SQLite; filters, sorting and totals are right
--- init
main::mk('a', company_namespace => ['ns1']);
main::mk('b', company_namespace => ['ns2']);
main::mk('c', company_namespace => ['ns1', 'ns3']);
main::mk('d');
main::flush_memcached();
--- request
GET /api/v1/workorder-portal?company_namespace=ns1&sort=-workorder
--- error_code: 200
--- data_ok eval
main::list_is('c a', 2)
--- error_log
was rebuilt with 4 entries



=== TEST 3: memcached flushed: a status change goes on from the stored version and history
--- init
main::mk('a');
main::write_api('a', PUT => "/api/v1/workorder-portal/{{a}}", {disabled => JSON::PP::true}, 200);
main::flush_memcached();
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
"PATCH /api/v1/workorder-portal/{{a}}/status\n{\"status\":\"completed\",\"notes\":\"done\"}"
--- error_code: 200
--- response_headers
ETag: "3"
--- data_ok eval
sub {
    my $d = shift;
    my @p = main::problems_first();
    my @h = map { $_->{status} . ($_->{notes} ? ":$_->{notes}" : '') }
            @{ $d->{status_history} };
    push @p, "history [@h], expected [pending completed:done]"
        if "@h" ne 'pending completed:done';
    push @p, "disabled lost" unless $d->{disabled};
    my ($row) = grep { $_->[0] eq $d->{_id} } @{ main::db_rows() };
    push @p, "the database holds version " . ($row->[1] // 'none') . ", expected 3"
        unless $row && $row->[1] == 3 && $row->[2] eq 'completed';
    return @p;
}



=== TEST 4: a delete removes the row: after a flush the entry is 404 and unlisted
--- init
main::mk('a');
main::mk('b');
main::write_api('a', DELETE => "/api/v1/workorder-portal/{{a}}", undef, 200);
main::flush_memcached();
--- request eval
["GET /api/v1/workorder-portal/{{a}}", "GET /api/v1/workorder-portal"]
--- error_code eval
[404, 200]
--- data_ok eval
[undef, sub {
     my @p = main::list_is('b', 1)->(@_);
     my @rows = @{ main::db_rows() };
     push @p, scalar(@rows) . " rows in the database, expected 1" if @rows != 1;
     return @p;
 }]



=== TEST 5: the row holds exactly the JSON served, and the version
--- init
main::mk('a', custom_branding => {logo => 'l.png', n => 12345678901234567890123});
--- request eval
"GET /api/v1/workorder-portal/{{a}}"
--- error_code: 200
--- data_ok eval
sub {
    my ($d, $body) = @_;
    my @p = main::problems_first();
    my ($row) = @{ main::db_rows() };
    my $stored = Woportal::memcached_entry($main::Prefix . $d->{_id});
    push @p, "no row" unless $row;
    push @p, "the row's doc differs from memcached's value"
        if $row && $row->[3] ne ($stored // '');
    push @p, "the row's version is $row->[1]" if $row && $row->[1] != 1;
    return @p;
}



=== TEST 6: an entry evicted from memcached (its item gone, its index record kept) is read through on a list page and a delete finds it
--- init
main::mk('a');
main::mk('b');
Woportal::memcached_delete($main::Prefix . $main::Id{a});
--- request eval
["GET /api/v1/workorder-portal?sort=workorder", "DELETE /api/v1/workorder-portal/{{b}}",
 "GET /api/v1/workorder-portal/{{b}}"]
--- error_code eval
[200, 200, 404]
--- data_ok eval
[main::list_is('a b', 2), undef, undef]



=== TEST 7: the database stays locked: a change is 503 store_unavailable and memcached keeps the entry as it was; a create stores nothing
--- directives
        woportal_persist_timeout 300ms;
--- init
main::mk('a');
main::lock_db(3);
--- more_headers eval
["X-API-Key: test-key\nContent-Type: application/json",
 "X-API-Key: test-key\nContent-Type: application/json",
 "X-API-Key: test-key", "X-API-Key: test-key"]
--- request eval
["PATCH /api/v1/workorder-portal/{{a}}\n{\"disabled\":true}",
 "POST /api/v1/workorder-portal\n{\"workorder\":\"w\",\"client\":\"c\"}",
 "GET /api/v1/workorder-portal/{{a}}",
 "GET /api/v1/workorder-portal"]
--- error_code eval
[503, 503, 200, 200]
--- response_headers eval
["", "", "ETag: \"1\"", ""]
--- api_error eval
["store_unavailable", "store_unavailable", undef, undef]
--- data_ok eval
[undef, undef, main::same_as('a'), main::list_is('a', 1)]



=== TEST 8: woportal_persist with an unknown scheme is refused, naming the directive
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_persist mysql:db;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*invalid value "mysql:db" in "woportal_persist" directive/



=== TEST 9: woportal_persist sqlite: without a file is refused
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_persist sqlite:;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*no file in "sqlite:" of "woportal_persist" directive/



=== TEST 10: woportal_persist in a directory that does not exist is refused
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_persist sqlite:/nonexistent-dir/wp.db;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*the directory "\/nonexistent-dir" of "sqlite:\/nonexistent-dir\/wp.db" in "woportal_persist" directive cannot be used/



=== TEST 11: memcached flushed while entries are written: the rebuilt index has the entries of the database and those written since, each once
--- init
main::mk('a');
main::mk('b');
main::flush_memcached();
main::mk('c');
--- request
GET /api/v1/workorder-portal?per_page=2
--- error_code: 200
--- data_ok eval
main::list_is('c b', 3)
--- error_log
was rebuilt with 3 entries



=== TEST 12: the database cannot be reached: a create is 503 store_unavailable and nothing is stored (memcached holds no key of the prefix: its key dump)
--- config eval
main::location(12, '', main::unreachable_persist())
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request
POST /api/v1/workorder-portal
{"workorder":"w","client":"c"}
--- error_code: 503
--- api_error: store_unavailable
--- data_ok eval
sub {
    my $s = Woportal::mc();
    print $s "lru_crawler metadump all\r\n";
    my @keys;
    while (my $line = <$s>) {
        last if $line =~ /^(END|ERROR|CLIENT_ERROR|SERVER_ERROR)/;
        push @keys, $1 if $line =~ /^key=(\S+)/;
    }
    my @mine = grep { index($_, $main::Prefix =~ s/:/%3A/gr) == 0 } @keys;
    @mine ? ("memcached holds keys of the prefix: @mine") : ();
}



=== TEST 13: woportal_persist_mode async: answers come from memcached, the queue drains to the database in order; after a flush every entry and change is there
--- directives
        woportal_persist_mode async;
--- init
main::mk($_) for qw(a b c d e f);
main::write_api('b', PATCH => "/api/v1/workorder-portal/{{b}}/status",
                {status => 'in_progress', notes => 'n1'}, 200);
main::write_api('b', PUT => "/api/v1/workorder-portal/{{b}}",
                {access_level => 'full_access'}, 200);
main::write_api('c', DELETE => "/api/v1/workorder-portal/{{c}}", undef, 200);
delete $main::Id{c};
main::wait_rows(5, 3);
main::flush_memcached();
--- request eval
["GET /api/v1/workorder-portal/{{b}}", "GET /api/v1/workorder-portal?sort=workorder"]
--- error_code eval
[200, 200]
--- data_ok eval
[main::same_as('b'), main::list_is('a b d e f', 5)]



=== TEST 14: async, the database locked for 2 s: writes are answered from memcached, wait in the queue, and are written once the lock is gone
--- directives
        woportal_persist_mode async;
        woportal_persist_timeout 200ms;
--- init
main::mk('a');
main::wait_rows(1, 3);
main::lock_db(2);
main::mk($_) for qw(b c);
main::write_api('a', PATCH => "/api/v1/workorder-portal/{{a}}",
                {disabled => JSON::PP::true}, 200);
main::wait_rows(3, 6, 'a' => 2);
main::flush_memcached();
--- request
GET /api/v1/workorder-portal?sort=workorder
--- error_code: 200
--- data_ok eval
main::list_is('a b c', 3)
--- error_log
queued changes could not be written



=== TEST 15: async with no room in the queue (woportal_persist_queue 0): writes are persisted synchronously, so a locked database is 503 again
--- directives
        woportal_persist_mode async;
        woportal_persist_queue 0;
        woportal_persist_timeout 300ms;
--- init
main::mk('a');
main::lock_db(2);
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
"PATCH /api/v1/workorder-portal/{{a}}\n{\"disabled\":true}"
--- error_code: 503
--- api_error: store_unavailable



=== TEST 16: async: an entry deleted at once, before its queued create reached the database, is deleted (200, never 404), and stays deleted once the queue has drained (the tombstone outranks the create)
--- directives
        woportal_persist_mode async;
--- init
for my $i (1 .. 30) {
    main::mk("x$i");
    main::write_api("x$i", DELETE => "/api/v1/workorder-portal/{{x$i}}",
                    undef, 200);
}
main::wait_rows(0, 3);
main::flush_memcached();
--- request
GET /api/v1/workorder-portal
--- error_code: 200
--- data_ok eval
sub { (main::problems_first(), main::list_is('', 0)->(@_)) }
