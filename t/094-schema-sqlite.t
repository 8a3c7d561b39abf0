use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalPersist 'sqlite';
use WoportalSchema;
no_shuffle();

# The schema of sql/ is brought up to date when a worker first opens a
# database without its newest version (sql/README.md): the files after
# the database's version are applied, once.  Version 2 dropped seven
# indexes of woportal_entries no statement read; version 3 drops the
# columns they were on and the table of namespaces (every write filled
# them, no statement read them: lists use the index in memcached).  A
# database an earlier module made, with its rows, gets version 3 and
# keeps serving and listing them; a new one is made at version 3.
#
# t/095-schema-postgresql.t runs these blocks against PostgreSQL.

run_tests();

__DATA__

=== TEST 1: a database of schema version 1 with rows gets versions 2 and 3 when a worker first opens it: the columns and the namespaces' table go, the rows are served, listed and written
--- init
main::old_database(1, ['a', 1, 'pending', ['acme']],
                      ['b', 2, 'in_progress', ['acme', 'beta']],
                      ['c', 'deleted']);
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
["GET /api/v1/workorder-portal/{{a}}",
 "GET /api/v1/workorder-portal/{{b}}",
 "GET /api/v1/workorder-portal/{{c}}",
 "GET /api/v1/workorder-portal?company_namespace=acme&sort=workorder",
 "PATCH /api/v1/workorder-portal/{{b}}/status\n{\"status\":\"completed\"}",
 "GET /api/v1/workorder-portal?company_namespace=beta&status=completed"]
--- error_code eval
[200, 200, 404, 200, 200, 200]
--- response_headers eval
["ETag: \"1\"", "ETag: \"2\"", "", "", "ETag: \"3\"", ""]
--- data_ok eval
[sub { (main::same_as('a')->(@_), main::upgraded(2)) },
 main::same_as('b'),
 undef,
 main::list_is('a b', 2),
 sub {
     my $d = shift;
     my @p = main::upgraded(2);
     my ($row) = grep { $_->[0] eq $main::Id{b} } @{ main::db_rows() };
     push @p, "the row of b: @{ $row // [] }"
         unless $row && $row->[1] == 3 && $row->[2] eq 'completed'
                && $d->{status} eq 'completed';
     # as the next list must have it
     $main::Served{b} = $d;
     @p },
 main::list_is('b', 1)]



=== TEST 2: a database of schema version 2 with rows gets version 3 when a worker first opens it: the rows are served, listed and written; a create goes in
--- init
main::old_database(2, ['a', 1, 'pending', []],
                      ['b', 2, 'in_progress', ['acme']],
                      ['c', 'deleted']);
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
["GET /api/v1/workorder-portal?sort=workorder",
 "GET /api/v1/workorder-portal/{{b}}",
 "GET /api/v1/workorder-portal/{{c}}",
 "DELETE /api/v1/workorder-portal/{{a}}",
 "POST /api/v1/workorder-portal\n{\"workorder\":\"wo-d\",\"client\":\"cl-d\"}",
 "GET /api/v1/workorder-portal?sort=workorder"]
--- error_code eval
[200, 200, 404, 200, 201, 200]
--- data_ok eval
[sub { (main::list_is('a b', 2)->(@_), main::upgraded(2)) },
 main::same_as('b'),
 undef,
 undef,
 undef,
 sub {
     my ($data) = @_;
     my @p = main::upgraded(2);
     my @got = map { $_->{workorder} } @$data;
     push @p, "listed [@got], expected [wo-b wo-d]" if "@got" ne 'wo-b wo-d';
     @p }]



=== TEST 3: a new database is made at version 3: only the key, the version and the doc; entries are written, read and listed
--- init
main::mk('a', company_namespace => ['acme']);
main::mk('b');
main::write_api('a', PATCH => "/api/v1/workorder-portal/{{a}}/status",
                {status => 'in_progress'}, 200);
--- request eval
["GET /api/v1/workorder-portal/{{a}}",
 "GET /api/v1/workorder-portal?sort=workorder"]
--- error_code eval
[200, 200]
--- response_headers eval
["ETag: \"2\"", ""]
--- data_ok eval
[main::same_as('a'),
 sub { (main::problems_first(), main::upgraded(2),
        main::list_is('a b', 2)->(@_)) }]
