use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalFaults;
no_shuffle();

# memcached on a unix-domain socket (woportal_memcached "--SOCKET=..."):
# the event-loop client connects to the path libmemcached reads from the
# string, and a list, whose index is rebuilt from memcached's key dump in
# a pool thread, reaches it too.  The memcached is this file's own.

use IO::Socket::UNIX ();
use Time::HiRes ();

workers(1);

our $Sock = "/tmp/woportal-t047-$ENV{TEST_NGINX_SERVER_PORT}.sock";
unlink $Sock;
$ENV{TEST_NGINX_MC_SOCKET} = $Sock;

# -a 0777: the workers (nobody) may connect
our $Mc = WoportalFaults::spawn("memcached:socket", 'memcached', '-s', $Sock,
                                '-a', '0777', '-u', 'root', '-m', '64');
for (1 .. 500) {
    last if IO::Socket::UNIX->new(Peer => $Sock);
    Time::HiRes::sleep(0.01);
}
die "memcached did not start on $Sock\n"
    unless IO::Socket::UNIX->new(Peer => $Sock);

END { WoportalFaults::reap($Mc) if $Mc; unlink $Sock }

our $Config = <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SOCKET=\"$TEST_NGINX_MC_SOCKET\" --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
_EOC_

run_tests();

__DATA__

=== TEST 1: a create on a unix-domain socket
--- config eval: $main::Config
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request
POST /api/v1/workorder-portal
{"workorder":"w47","client":"c47"}
--- error_code: 201
--- response_body_like: "workorder":"w47"
--- no_error_log
[error]



=== TEST 2: it is listed: the list's index is made from the key dump of the socket's memcached (a pool thread), then read
--- config eval: $main::Config
--- more_headers
X-API-Key: test-key
--- pipelined_requests eval
["GET /api/v1/workorder-portal?workorder=w47",
 "GET /api/v1/workorder-portal?workorder=w47&per_page=1"]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/"workorder":"w47".*"total":1/s, qr/"workorder":"w47"/]
--- no_error_log
[error]
