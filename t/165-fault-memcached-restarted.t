use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalFaults qw(:DEFAULT api create_entry);
no_shuffle();

# memcached restarted under an idle nginx (README "How it works": "the
# service comes back by itself when memcached does"; issue 14: "once
# memcached is back, no request fails"):
#
# - nginx has served enough requests that every worker and every pool
#   thread holds its connections to memcached; memcached is killed
#   (SIGKILL, a crash) and started again on the same port, with no
#   request in between, so nothing told nginx it was gone;
# - once memcached listens again (a TCP connect succeeds), 200 sequential
#   requests over about 10 s all answer 2xx, the first one included: a
#   mix of creates and of reads, replacements, patches and status changes
#   of entries created after the restart (memcached lost the others);
# - an entry created before the restart is then 404 not_found (lost with
#   memcached's data), not 503;
# - a second round with SIGTERM (an operator's restart) instead.
#
# Two workers and a pool of 16 threads: a connection kept per worker, per
# thread or per server and found broken only when next used would fail a
# request here (a libmemcached handle per pool thread does: each thread's
# first call after the restart is 503 "CONNECTION FAILURE").
#
# The memcached is this file's own (memcached port + 120).

use Time::HiRes ();

master_on();
workers(2);

our $McPort = mc_port(20);
our $Mc = start_memcached($McPort);
$ENV{TEST_NGINX_FAULT_MC_PORT} = $McPort;
$ENV{TEST_NGINX_PREFIX} = fresh_prefix('t165');

our $Base = '/api/v1/workorder-portal';
our $J = $WoportalFaults::J;
our @Problems;

# Every worker and pool thread uses memcached: 32 clients at once, each
# creating entries (a create is a pool task of its own).  The ids made.
sub warm_up {
    my $round = shift;
    my @lines = run_clients(32, 30, sub {
        my ($c, $out) = @_;
        for my $n (1 .. 4) {
            my ($st, $b, $secs, $id) =
                create_entry($Base, "warm-$round-$c-$n");
            print $out "$st " . ($id // '-') . "\n";
        }
    });
    my @ids;
    for (@lines) {
        my ($st, $id) = split ' ';
        if (($st // '') eq '201') {
            push @ids, $id;
        } else {
            chomp;
            push @Problems, "round $round, before the restart: $_";
        }
    }
    return @ids;
}

# The requests after the restart: the first a create, then a mix over
# the entries created since.  Each must be 2xx.
sub after_restart {
    my ($round, $n, $secs) = @_;
    my (@ids, %failed);
    my $t0 = Time::HiRes::time();
    my @ops = qw(create get put patch status get create get);
    for my $i (0 .. $n - 1) {
        # paced: $n requests over $secs seconds
        my $wait = $t0 + $i * $secs / $n - Time::HiRes::time();
        Time::HiRes::sleep($wait) if $wait > 0;
        my $op = @ids ? $ops[$i % @ops] : 'create';
        my $id = @ids ? $ids[$i % @ids] : undef;
        my ($st, $b, $took);
        if ($op eq 'create') {
            ($st, $b, $took, my $new) = create_entry($Base, "after-$round-$i");
            push @ids, $new if $new;
        } elsif ($op eq 'get') {
            ($st, $b, $took) = api(GET => "$Base/$id");
        } elsif ($op eq 'put') {
            ($st, $b, $took) = api(PUT => "$Base/$id",
                                   {access_level => 'comment'});
        } elsif ($op eq 'patch') {
            ($st, $b, $took) = api(PATCH => "$Base/$id",
                                   {disabled => JSON::PP::true()});
        } else {
            ($st, $b, $took) = api(PATCH => "$Base/$id/status",
                                   {status => $i % 2 ? 'in_progress'
                                                     : 'pending'});
        }
        next if $st =~ /^2\d\d$/;
        $failed{$i} = sprintf "request %d (%s %s, %.3fs after the restart)"
                              . " answered %s in %.3fs: %s", $i + 1, $op,
                              $id // '-', Time::HiRes::time() - $t0,
                              $st, $took, $b;
    }
    if (%failed) {
        push @Problems, "round $round: " . keys(%failed) . " of $n requests"
                        . " after the restart failed";
        my @first = (sort { $a <=> $b } keys %failed)[0 .. 4];
        push @Problems, map { "  $failed{$_}" } grep { defined } @first;
    }
    Test::More::note(sprintf "round %d: %d requests in %.1fs, %d failed",
                             $round, $n, Time::HiRes::time() - $t0,
                             scalar keys %failed);
    return @ids;
}

sub round {
    my ($round, $sig) = @_;
    my @before = warm_up($round);
    WoportalFaults::stop_memcached($Mc, $sig);
    # start_memcached returns once a TCP connect to it succeeds
    $Mc = start_memcached($McPort);
    after_restart($round, 200, 10);

    # what memcached held before is gone: 404, not 503
    for my $id (grep { defined } @before[0 .. 4]) {
        my ($st, $b, $secs, $d) = api(GET => "$Base/$id");
        my $code = $d && ref $d->{error} eq 'HASH' ? $d->{error}{code} : '';
        push @Problems, "round $round: GET of $id, created before the"
                        . " restart: $st $b, expected 404 not_found"
            unless $st == 404 && ($code // '') eq 'not_found';
    }
}

sub scenario {
    round(1, 'KILL');
    round(2, 'TERM');
}

run_tests();

__DATA__

=== TEST 1: memcached killed and started again, then terminated and started again, under an idle nginx (2 workers, 16 pool threads): the 200 requests after each restart, the first included, all answer 2xx
--- main_config
    thread_pool wp threads=16;
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_FAULT_MC_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 2s;
        woportal_thread_pool wp;
        woportal_api_key test-key;
        woportal_key_prefix $TEST_NGINX_PREFIX;
    }
--- init
main::scenario();
--- more_headers
X-API-Key: test-key
--- request
GET /api/v1/workorder-portal?per_page=1
--- timeout: 10
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
--- no_error_log
exited on signal
[alert]
[crit]
