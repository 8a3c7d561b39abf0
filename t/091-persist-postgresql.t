use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalPersist 'postgresql';
no_shuffle();

# The blocks of t/090-persist-sqlite.t, against PostgreSQL
# (woportal_persist postgresql:<conninfo>): a private cluster is started for
# this file (initdb, pg_ctl; t/inc/WoportalPersist.pm) and each block gets
# a database of its own.  Without PostgreSQL installed the file is skipped,
# unless WOPORTAL_REQUIRE_POSTGRESQL is set (CI sets it).

Test::Base::spec_file('t/090-persist-sqlite.t');

run_tests();
