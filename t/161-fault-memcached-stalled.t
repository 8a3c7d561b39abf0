use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalFaults;
no_shuffle();

# memcached stalled (SIGSTOP: the connections stay open, nothing is
# answered), then resumed (SIGCONT):
#
# - the API requests waiting on it are answered 503 store_unavailable
#   within woportal_memcached_timeout (plus slack for a loaded machine);
# - meanwhile the same worker answers another location at once;
# - the thread pool (where lists run: gets and writes hold no thread) does
#   not fill up: a list first asks memcached what of the index changed, on
#   the event loop (index_cache.c), so while memcached does not answer no
#   list takes a thread.  With threads=1 max_queue=2, 8 lists are all
#   answered 503 store_unavailable within the timeout and nothing
#   overflows; 20 lists on 2 threads are all answered within about the
#   timeout, not one timeout after the other;
# - once memcached runs again, requests succeed again.
#
# The memcached is this file's own (memcached port + 101).

use Time::HiRes ();

workers(1);    # one event loop: the other location shares it

our $McPort = mc_port(1);
our $Mc = start_memcached($McPort);
$ENV{TEST_NGINX_FAULT_MC_PORT} = $McPort;
$ENV{TEST_NGINX_PREFIX} = fresh_prefix('t161');

our $Base = '/api/v1/workorder-portal';
our $J = $WoportalFaults::J;
our (@Problems, $Id);

sub api {
    my ($method, $path, $body, %o) = @_;
    return WoportalFaults::http_req(nginx_port(), $method, $path,
                                    defined $body ? $J->encode($body) : undef,
                                    %o);
}

sub make_entry {
    my ($st, $b) = api(POST => $Base, {workorder => 'w', client => 'c'});
    my $d = WoportalFaults::jdecode($b);
    push @Problems, "POST before the stall: $st $b" unless $st == 201 && $d;
    $Id = $d ? $d->{data}{_id} : 'none';
}

# the requests in children, while this process looks at /ping: the
# requests' lines "<what> <status> <code> <started> <seconds>"
sub stalled {
    my ($requests, $pings) = @_;
    my $file = "$ENV{TEST_NGINX_SERVER_ROOT}/html/stalled.txt";
    kill 'STOP', $Mc;
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        my @lines = run_clients(scalar @$requests, 60, sub {
            my ($i, $out) = @_;
            my ($what, $method, $path, $body) = @{ $requests->[$i] };
            my $t0 = Time::HiRes::time();
            my ($st, $b, $secs) = api($method, $path, $body);
            printf $out "%s %s %s %.3f %.3f\n", $what, $st,
                   WoportalFaults::api_error($b) || '-', $t0, $secs;
        });
        open my $out, '>', $file or POSIX::_exit(1);
        print $out @lines;
        close $out;
        POSIX::_exit(0);
    }
    my @ping;
    if ($pings) {
        Time::HiRes::sleep(0.5);
        for (1 .. $pings) {
            my ($st, $b, $secs) = api(GET => '/ping');
            push @ping, [$st, $secs, Time::HiRes::time()];
        }
    }
    waitpid $pid, 0;
    my @lines = WoportalFaults::read_lines($file);
    Test::More::note("stalled: $_") for @lines;
    Test::More::note(sprintf "ping: %s in %.3fs", @$_[0, 1]) for @ping;
    return (\@lines, \@ping);
}

# SIGCONT, and requests succeed again within 10 s
sub resume {
    kill 'CONT', $Mc;
    my $deadline = Time::HiRes::time() + 10;
    my ($st, $b);
    while (Time::HiRes::time() < $deadline) {
        ($st, $b) = api(GET => "$Base/$Id");
        last if $st == 200;
        Time::HiRes::sleep(0.1);
    }
    push @Problems, "GET after SIGCONT: $st $b" unless $st == 200;
    ($st, $b) = api(POST => $Base, {workorder => 'w2', client => 'c'});
    push @Problems, "POST after SIGCONT: $st $b" unless $st == 201;
}

sub scenario_timeout {
    make_entry();
    my ($lines, $ping) = stalled([
        [get => GET => "$Base/$Id"],
        [create => POST => $Base, {workorder => 'w', client => 'c'}],
        [patch => PATCH => "$Base/$Id", {disabled => JSON::PP::true()}],
        [list => GET => "$Base?per_page=5"],
    ], 3);
    my $first_answer = 9e9;
    push @Problems, "not 4 answers: @$lines" unless @$lines == 4;
    for (@$lines) {
        my ($what, $st, $code, $t0, $secs) = split ' ';
        push @Problems, "$_" and next unless defined $secs;
        $first_answer = $t0 + $secs if $t0 + $secs < $first_answer;
        push @Problems, "$what: $st $code, expected 503 store_unavailable"
            unless $st == 503 && $code eq 'store_unavailable';
        # the timeout is 2 s: it waited for memcached, and not much longer
        push @Problems, "$what answered after ${secs}s: not within 2 s + slack"
            if $secs > 4.5;
        push @Problems, "$what answered after ${secs}s: it did not wait"
            if $secs < 1;
    }
    for (@$ping) {
        my ($st, $secs, $done) = @$_;
        push @Problems, "/ping: $st after ${secs}s while the API waited"
            if $st != 200 || $secs > 1;
        push @Problems, "/ping was answered after the API requests"
            if $done > $first_answer;
    }
    resume();
}

# $n lists while memcached is stalled (a list runs in the thread pool:
# gets and writes are sent on the event loop and hold no thread): all 503
# within $max seconds; the number answered within 1.5 s
sub queued {
    my ($n, $max) = @_;
    make_entry();
    my ($lines) = stalled([map {
        ["list$_" => GET => "$Base?per_page=5&page=$_"] } 1 .. $n], 0);
    push @Problems, "not $n answers: @$lines" unless @$lines == $n;
    for (@$lines) {
        my ($what, $st, $code, $t0, $secs) = split ' ';
        push @Problems, "$_" and next unless defined $secs;
        push @Problems, "$what: $st $code, expected 503 store_unavailable"
            unless $st == 503 && $code eq 'store_unavailable';
        push @Problems, "$what answered after ${secs}s, not within ${max}s"
            if $secs > $max;
    }
    resume();
}

sub scenario_queue {
    # none takes a thread: all within the timeout (3 s)
    queued(8, 3 + 2.5);
}

run_tests();

__DATA__

=== TEST 1: memcached stalled: GET, POST, PATCH and a list are 503 store_unavailable within the 2 s timeout, /ping answers at once meanwhile, SIGCONT brings the service back
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_FAULT_MC_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 2s;
        woportal_api_key test-key;
        woportal_key_prefix $TEST_NGINX_PREFIX;
    }
    location = /ping { return 200 "pong"; }
--- init
main::scenario_timeout();
--- more_headers
X-API-Key: test-key
--- request
GET /api/v1/workorder-portal?per_page=1
--- timeout: 10
--- error_code: 200
--- data_ok eval
sub { @main::Problems }



=== TEST 2: memcached stalled, thread_pool threads=1 max_queue=2: 8 lists are 503 store_unavailable within the timeout, none takes a thread (the index is checked on the event loop first), nothing overflows; SIGCONT brings the service back
--- main_config
    thread_pool tp threads=1 max_queue=2;
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_FAULT_MC_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 3s;
        woportal_thread_pool tp;
        woportal_api_key test-key;
        woportal_key_prefix $TEST_NGINX_PREFIX;
    }
--- init
@main::Problems = ();
main::scenario_queue();
--- more_headers
X-API-Key: test-key
--- request
GET /api/v1/workorder-portal?per_page=1
--- timeout: 10
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
--- no_error_log
thread pool "tp" queue overflow



=== TEST 3: memcached stalled, 20 lists on a pool of 2 threads (2 s timeout): all 503 within the timeout (and slack), not one timeout after the other
--- main_config
    thread_pool tp threads=2 max_queue=1000;
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_FAULT_MC_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 2s;
        woportal_thread_pool tp;
        woportal_api_key test-key;
        woportal_key_prefix $TEST_NGINX_PREFIX;
    }
--- init
@main::Problems = ();
main::queued(20, 2 + 2.5);
--- more_headers
X-API-Key: test-key
--- request
GET /api/v1/workorder-portal?per_page=1
--- timeout: 10
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
--- no_error_log
queue overflow
