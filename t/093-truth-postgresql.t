use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalTruth 'postgresql';
no_shuffle();
workers(2);

# The blocks of t/092-truth-sqlite.t (issue 13, "one truth"), against
# PostgreSQL (woportal_persist postgresql:<conninfo>): a private cluster is
# started for this file (t/inc/WoportalFaults.pm) and each block gets a
# database of its own.  That cluster runs with fsync=off; each
# transaction's commit is made to take 4 ms, as on a real disk
# (t/inc/WoportalTruth.pm, pg_slow_commits).  Without PostgreSQL installed the file is skipped,
# unless WOPORTAL_REQUIRE_POSTGRESQL is set (CI sets it).

Test::Base::spec_file('t/092-truth-sqlite.t');

run_tests();
