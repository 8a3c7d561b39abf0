use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalBatch;
no_shuffle();

# The memcached requests that one worker makes while its event loop goes
# round once are pipelined on one connection, in one write, and their
# answers matched to them by opaque (mc.c).  Here bursts of requests, all
# written before the first answer is read, on one worker, so that many of
# them share a write: every answer must be the one its request alone would
# get, whatever else was sent with it (the same entry asked for several
# times, missing entries, corrupt values, writes and their quiet index
# appends beside gets), and when memcached cannot be reached each request
# is answered 503.  Lists still run in the thread pool: a full queue
# answers them 503, and the requests that need no thread go on.
#
# The bursts (Woportal::burst) are in t/inc/Woportal.pm, their checks
# (main::gets_problems, ...) in t/inc/WoportalBatch.pm.

workers(1);

# a location that works, for the main request of blocks whose burst goes
# where the store fails
our $Up = <<'_EOC_';
    location /up {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
_EOC_

# memcached is not listening on port 1
our $DownConfig = $Up . <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:1 --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
_EOC_

# what holds a pool's only thread (main::hold_thread): a create here, whose
# database another process holds locked, waits in its thread for
# woportal_persist_timeout (3 s)
our $Held = <<'_EOC_';
    location /held {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_key_prefix "t045-held:";
        woportal_persist sqlite:$TEST_NGINX_HELD_DB;
        woportal_persist_timeout 3s;
        woportal_api_key test-key;
        woportal_thread_pool tiny;
    }
_EOC_

block_defaults(config => $Woportal::Location,
               more_headers => "X-API-Key: test-key\n");

run_tests();

__DATA__

=== TEST 1: a burst of gets: the same entry asked for three times, missing entries, entries being deleted and a corrupt value, pipelined; each answered as alone
--- init
main::seed(main::id_of(99));
@main::Problems = main::gets_problems();
--- request
GET /api/v1/workorder-portal/5f1e00000000000000000063
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
--- error_log
stored entry "woportal:5f1e00000000000000000029" is corrupt: it holds another entry's id



=== TEST 2: a burst of writes beside gets: updates, status changes, creates and deletes, each done once
--- init
main::seed(main::id_of(99));
@main::Problems = main::mixed_problems();
--- request
GET /api/v1/workorder-portal/5f1e00000000000000000063
--- error_code: 200
--- data_ok eval
sub { @main::Problems }



=== TEST 3: memcached cannot be reached: every request of the burst is 503 store_unavailable
--- config eval: $main::DownConfig
--- init
main::seed(main::id_of(99));
@main::Problems = main::all_503_problems();
--- request
GET /up/5f1e00000000000000000063
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
--- error_log eval
qr/woportal: memcached get "woportal:5f1e[0-9a-f]{20}" failed/



=== TEST 4: the thread pool's queue is full: the lists of a burst are answered 503 store_unavailable, its gets and writes are served
--- main_config
thread_pool  tiny  threads=1  max_queue=0;
--- config eval
$main::Up . $main::Held . <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_thread_pool tiny;
    }
_EOC_
--- init
main::seed(main::id_of(99));
@main::Problems = main::overflow_problems();
--- request
GET /up/5f1e00000000000000000063
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
--- error_log
thread pool "tiny" queue overflow



=== TEST 5: woportal_list_thread_pool: lists run in a pool of their own, and are answered while every thread of the other pool is held
--- main_config
thread_pool  tiny  threads=1;
thread_pool  lists  threads=1;
--- config eval
$main::Up . $main::Held . <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_thread_pool tiny;
        woportal_list_thread_pool lists;
    }
_EOC_
--- init
main::seed(main::id_of(99));
@main::Problems = main::list_pool_problems();
--- request
GET /up/5f1e00000000000000000063
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
