use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalTruth 'sqlite';
no_shuffle();
workers(2);

# Issue 13, "one truth": with persistence on (sync mode, the default), an
# acknowledged write is never undone, by a reader, a flush, an eviction or
# a stalled memcached; lists are never silently short; ordinary load is
# not refused.  One block a probe (t/inc/WoportalTruth.pm runs it in the
# block's --- init and collects the violations, which must be none).
# t/093-truth-postgresql.t runs these blocks against PostgreSQL.

run_tests();

__DATA__

=== TEST 1: an acknowledged DELETE stays deleted: 60 entries, each GET in a loop by two clients while another DELETEs it; after the DELETE's 200, GET is 404 (5 times over 0.25 s), PATCH is 404 (not 409), no list shows it
--- init
main::probe_delete_comes_back(60, 10, 2);
--- request
GET /api/v1/workorder-portal?per_page=1
--- timeout: 30
--- error_code: 200
--- data_ok eval
sub { @main::Problems }



=== TEST 2: an acknowledged update is never served older after a flush: 30 rounds of two writers PATCHing one entry and three readers GETting it, one flush_all meanwhile; a GET started after version v was acknowledged serves v or above; a last PATCH succeeds (not 409) and is served
--- init
main::probe_older_after_flush(30, 0.5);
--- request
GET /api/v1/workorder-portal?per_page=1
--- timeout: 30
--- error_code: 200
--- data_ok eval
sub { @main::Problems }



=== TEST 3: no false 404 on writes: 100 entries, 8 clients PATCH and PUT the status of them for 5 s while memcached is flushed every 0.1 s: a write to an existing entry is never 404
--- init
main::probe_false_404(100, 8, 5, 0.1);
--- request
GET /api/v1/workorder-portal?per_page=1
--- timeout: 30
--- error_code: 200
--- data_ok eval
sub { @main::Problems }



=== TEST 4: an evicted index shard (woportal_index_shards 4; <prefix>idx:0 deleted from memcached) never makes a list short: 300 entries, 5 lists after it, each the whole total or 503
--- directives
        woportal_index_shards 4;
--- init
main::probe_evicted_shard(300, 5);
--- request
GET /api/v1/workorder-portal?per_page=1
--- timeout: 30
--- error_code: 200
--- data_ok eval
sub { @main::Problems }



=== TEST 5: an interrupted rebuild (memcached flushed, the rebuild lock <prefix>idx:lock left with exptime 60 as by a worker that died) never makes a list 200 with a wrong total; lists answer within 5 s, and the whole total within 8 s
--- directives
        woportal_memcached_timeout 2s;
        woportal_persist_timeout 2s;
--- init
main::probe_interrupted_rebuild(50, 5, 8);
--- request
GET /api/v1/workorder-portal?per_page=1
--- timeout: 30
--- error_code: 200
--- data_ok eval
sub { @main::Problems }



=== TEST 6: ordinary load is not refused: 50 clients POST, PUT and PATCH the status for 8 s (default persistence, sync): no 503, no other failure
--- init
main::probe_refused_writes(50, 8);
--- request
GET /api/v1/workorder-portal?per_page=1
--- timeout: 60
--- error_code: 200
--- data_ok eval
sub { @main::Problems }



=== TEST 7: a stalled memcached bounds writes: woportal_memcached_timeout 1s, woportal_persist_timeout 1s; 10 clients PATCH while memcached is stopped 2 s and resumed 0.5 s, 3 times: every PATCH ends within 1 + 1 + 1 s; PATCHes of a location on another memcached and the same database all succeed within 0.5 s meanwhile (the database is not held while memcached times out)
--- directives
        woportal_memcached_timeout 1s;
        woportal_persist_timeout 1s;
--- init
main::probe_stalled_bound(20, 10, 3, 2, 0.5, 3, 0.5);
--- request
GET /api/v1/workorder-portal?per_page=1
--- timeout: 60
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
