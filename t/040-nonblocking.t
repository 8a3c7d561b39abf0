# The store never blocks the event loop: an unreachable or silent memcached
# costs the request that needs it (503 store_unavailable after
# woportal_memcached_timeout), never the other requests of the worker.
#
# The "black hole" is a TCP listener that never accepts: the kernel
# completes the handshakes into its backlog, nobody ever answers.

use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;

use IO::Select ();
use IO::Socket::INET ();
use POSIX ();
use File::Temp ();
use Time::HiRes ();

no_shuffle();
workers(1);    # one worker: a blocked event loop would block /ping too

our $Id = '0123456789abcdef01234567';

our $BlackHole = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1',
                                       LocalPort => 0, Proto => 'tcp')
    or die "cannot open the black hole listener: $!\n";
$ENV{TEST_NGINX_BLACKHOLE_PORT} = $BlackHole->sockport;

# the background API request of TEST 3: its pid, and the file where it
# writes "<status> <seconds until the answer>"
our $Waiter;
our $WaiterFile = (File::Temp::tempfile('woportal-waiter-XXXXXX',
                                         TMPDIR => 1, UNLINK => 1))[1];

# Forks a child that sends one API request on a raw socket and lingers
# (up to ~3 s) for its answer; the parent returns after 0.3 s, while the
# request is still waiting on the store.
sub start_waiter {
    my $uri = shift;

    die "a waiter is already running\n" if $Waiter;
    unlink $WaiterFile;

    my $pid = fork;
    die "fork: $!\n" unless defined $pid;

    if ($pid == 0) {
        my $t0 = Time::HiRes::time();
        my $resp = '';
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                                      Proto => 'tcp', Timeout => 1);
        if ($s) {
            syswrite $s, "GET $uri HTTP/1.1\r\nHost: localhost\r\n"
                         . "X-API-Key: test-key\r\nConnection: close\r\n\r\n";
            my $sel = IO::Select->new($s);
            while ((my $left = $t0 + 3 - Time::HiRes::time()) > 0) {
                last unless $sel->can_read($left);
                my $n = sysread $s, my $buf, 65536;
                last unless $n;
                $resp .= $buf;
            }
        }
        my $elapsed = Time::HiRes::time() - $t0;
        my ($status) = $resp =~ m{^HTTP/1\.[01] (\d{3})};
        if (open my $out, '>', $WaiterFile) {
            printf $out "%s %.3f\n", $status // 'none', $elapsed;
            close $out;
        }
        # no END blocks here: they belong to the test process
        POSIX::_exit(0);
    }

    $Waiter = $pid;
    Time::HiRes::sleep(0.3);
}

# Reaps the waiter (blocking: nginx must still run to answer it) and checks
# it really waited on the store meanwhile.
sub check_waiter {
    return unless $Waiter;

    waitpid $Waiter, 0;
    undef $Waiter;

    open my $in, '<', $WaiterFile or do {
        Test::More::fail("the background request left no result: $!");
        return;
    };
    my ($status, $elapsed) = split ' ', scalar <$in>;
    close $in;
    Test::More::note("background request: status $status after ${elapsed}s");

    Test::More::is($status, 503,
        "the background API request got 503 from the black hole");
    Test::More::cmp_ok($elapsed, '>=', 2,
        "the background API request waited for the 2500ms store timeout"
        . " (so /ping was answered while it was pending)");
}

# "--- check_waiter_after: N": check the waiter once request N is checked,
# while this block's nginx is still up
add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;
    my $after = $block->check_waiter_after;
    return if $dry_run || !defined $after || $req_idx != $after;
    check_waiter();
});

END {
    if ($Waiter) {
        kill 'TERM', $Waiter;
        waitpid $Waiter, 0;
    }
}

run_tests();

__DATA__

=== TEST 1: a memcached that never answers: GET /{id} is 503 store_unavailable after woportal_memcached_timeout
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_BLACKHOLE_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 300ms;
        woportal_api_key test-key;
    }
--- more_headers
X-API-Key: test-key
--- request
GET /api/v1/workorder-portal/0123456789abcdef01234567
--- timeout: 3
--- error_code: 503
--- response_headers
Content-Type: application/json
--- response_body_like chomp
"code"\s*:\s*"store_unavailable"



=== TEST 2: a memcached that never answers: POST is 503 store_unavailable after woportal_memcached_timeout
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_BLACKHOLE_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 300ms;
        woportal_api_key test-key;
    }
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request
POST /api/v1/workorder-portal
{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013"}
--- timeout: 3
--- error_code: 503
--- response_headers
Content-Type: application/json
--- response_body_like chomp
"code"\s*:\s*"store_unavailable"



=== TEST 3: while an API request waits 2.5 s on the black hole, the same worker answers other requests at once
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_BLACKHOLE_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 2500ms;
        woportal_api_key test-key;
    }
    location /other-api {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
    location = /ping { return 200 "pong"; }
--- init
# the id must be absent from the real memcached: other files seed it
Woportal::memcached_delete("woportal:$main::Id");
main::start_waiter("/api/v1/workorder-portal/$main::Id");
--- request eval
["GET /ping", "GET /other-api/$main::Id"]
--- more_headers eval
["", "X-API-Key: test-key"]
--- timeout: 1
--- error_code eval
[200, 404]
--- response_body_like eval
["^pong\$", '"code"\s*:\s*"not_found"']
--- check_waiter_after: 1



=== TEST 4: a closed port: 503 store_unavailable at once, without waiting for the timeout
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:1 --BINARY-PROTOCOL";
        woportal_memcached_timeout 2500ms;
        woportal_api_key test-key;
    }
--- more_headers eval
["X-API-Key: test-key", "X-API-Key: test-key\nContent-Type: application/json"]
--- request eval
["GET /api/v1/workorder-portal/$main::Id",
 "POST /api/v1/workorder-portal\n{\"workorder\":\"507f1f77bcf86cd799439012\",\"client\":\"507f1f77bcf86cd799439013\"}"]
--- timeout: 1
--- error_code eval
[503, 503]
--- response_headers eval
["Content-Type: application/json", "Content-Type: application/json"]
--- response_body_like eval
['"code"\s*:\s*"store_unavailable"', '"code"\s*:\s*"store_unavailable"']
