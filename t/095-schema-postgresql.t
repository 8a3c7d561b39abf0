use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalPersist 'postgresql';
use WoportalSchema;
no_shuffle();

# The blocks of t/094-schema-sqlite.t, against PostgreSQL (a private
# cluster, t/inc/WoportalPersist.pm).  Without PostgreSQL installed the
# file is skipped, unless WOPORTAL_REQUIRE_POSTGRESQL is set.

Test::Base::spec_file('t/094-schema-sqlite.t');

run_tests();
