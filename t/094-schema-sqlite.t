use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalPersist 'sqlite';
use WoportalSchema;
no_shuffle();

# The schema of sql/ is brought up to date when a worker first opens a
# database without its newest version (sql/README.md): a database made
# with version 1 (seven indexes of woportal_entries that no statement
# read, yet every write kept up to date) gets version 2, which drops
# them, and keeps its rows.
#
# t/095-schema-postgresql.t runs these blocks against PostgreSQL.

run_tests();

__DATA__

=== TEST 1: a database of schema version 1 gets version 2 when a worker first opens it: the seven indexes no statement reads are dropped, the namespaces' index stays, entries are written and read
--- init
main::version_1();
main::mk('a');
main::write_api('a', PATCH => "/api/v1/workorder-portal/{{a}}/status",
                {status => 'in_progress'}, 200);
main::mk('b');
--- request eval
"GET /api/v1/workorder-portal/{{a}}"
--- error_code: 200
--- response_headers
ETag: "2"
--- data_ok eval
sub { (main::problems_first(), main::upgraded()) }



=== TEST 2: a new database is made at the newest version: no index no statement reads
--- init
main::mk('a');
main::mk('b');
--- request
GET /api/v1/workorder-portal?sort=workorder
--- error_code: 200
--- data_ok eval
sub { (main::problems_first(), main::upgraded(), main::list_is('a b', 2)->(@_)) }
