use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalFaults qw(:DEFAULT api holders);
no_shuffle();

# One server of a two-server memcached cluster (--DISTRIBUTION=consistent)
# stalled (SIGSTOP: its connections stay open, nothing is answered), then
# resumed (SIGCONT) (issue 14: "a stalled server: the answer comes within
# the timeout, and the connections of other servers are untouched"):
#
# - entries are created while both servers run; which server holds each
#   is read on the servers themselves (text protocol "get <prefix><id>");
#   the list index is one shard (woportal_index_shards 1), and the server
#   stalled is the one that does not hold it, so that the writes of the
#   other server's entries need nothing of the stalled one;
# - while it is stalled, one worker (one event loop for everything), 4
#   clients on its entries and 4 on the other's, at once, for 5 s, and
#   requests one at a time from the test meanwhile: the stalled server's
#   entries answer 503 store_unavailable within the timeout (2 s) and
#   slack; the other server's entries answer 2xx (GET, PUT, PATCH,
#   status), each within 0.5 s, also while requests for the stalled
#   server wait;
# - resumed: within 10 s its entries are served again; then every request
#   succeeds and serves the entry asked for (no answer of a command that
#   timed out is taken for the answer of a later one).
#
# The memcached servers are this file's own (memcached port + 123, 124).

use File::Temp ();
use Time::HiRes ();

master_on();
workers(1);

our @McPorts = (mc_port(23), mc_port(24));
our %Mc = map { $_ => start_memcached($_) } @McPorts;
$ENV{TEST_NGINX_FAULT_MC_PORT_A} = $McPorts[0];
$ENV{TEST_NGINX_FAULT_MC_PORT_B} = $McPorts[1];
$ENV{TEST_NGINX_PREFIX} = fresh_prefix('t167');

our $Base = '/api/v1/workorder-portal';
our $J = $WoportalFaults::J;
our $Timeout = 2;     # woportal_memcached_timeout
our $Slack = 1.5;     # for a loaded machine
our $Fast = 0.5;      # a request that did not wait for the stalled server
our @Problems;
our (%On, $Stalled, $Live);    # id => port of the server that holds it

sub ids_on {
    my $port = shift;
    my @ids = sort(grep { $On{$_} == $port } keys %On);
    return @ids;
}

# 40 entries over both servers; the one without the index shard is
# $Stalled
sub setup {
    for my $n (1 .. 40) {
        my ($st, $b, $secs, $d) = api(POST => $Base,
                                      {workorder => "w$n", client => 'c'});
        my $id = $st == 201 && $d ? $d->{data}{_id} : undef;
        push @Problems, "create $n before the stall: $st $b" and next
            unless $id;
        my @on = holders("$ENV{TEST_NGINX_PREFIX}$id", @McPorts);
        push @Problems, "entry $id is on @{[scalar @on]} servers: @on"
            and next unless @on == 1;
        $On{$id} = $on[0];
    }
    my @idx = holders("$ENV{TEST_NGINX_PREFIX}idx:0", @McPorts);
    push @Problems, "the index shard is on " . @idx . " servers" and return
        unless @idx == 1;
    ($Live) = @idx;
    ($Stalled) = grep { $_ != $Live } @McPorts;
    Test::More::note(sprintf "%d entries on %d (live, the index),"
                             . " %d on %d (to be stalled)",
                             scalar ids_on($Live), $Live,
                             scalar ids_on($Stalled), $Stalled);
    for ($Live, $Stalled) {
        push @Problems, "no entry on $_: cannot test" unless ids_on($_);
    }
}

# Request $i on an entry of the 'live' or the 'stalled' server: its line
#   <which> <op> <id> <status> <error code> <started> <seconds> <_id>
sub request {
    my ($which, $i) = @_;
    my @ids = ids_on($which eq 'live' ? $Live : $Stalled);
    my $id = $ids[$i % @ids];
    my @ops = $which eq 'live' ? qw(get put get patch get status)
                               : qw(get patch get status);
    my $op = $ops[$i % @ops];
    my $t0 = Time::HiRes::time();
    my ($st, $b, $secs, $d) =
        $op eq 'get'   ? api(GET => "$Base/$id")
      : $op eq 'put'   ? api(PUT => "$Base/$id", {access_level => 'comment'})
      : $op eq 'patch' ? api(PATCH => "$Base/$id",
                             {disabled => JSON::PP::true()})
      :                  api(PATCH => "$Base/$id/status",
                             {status => $i % 2 ? 'in_progress'
                                               : 'pending'});
    my $got = $d && ref $d->{data} eq 'HASH' ? $d->{data}{_id} // '-' : '-';
    return sprintf "%s %s %s %s %s %.3f %.3f %s\n", $which, $op, $id, $st,
                   WoportalFaults::api_error($b) || '-', $t0, $secs, $got;
}

# how many of $n requests went wrong, and how: each kind of problem
# (ids and times left out) with its count and first example
sub report {
    my ($when, $n, @bad) = @_;
    return unless @bad;
    my (%count, @kinds);
    for (@bad) {
        (my $kind = $_) =~ s/\b[0-9a-f]{24}\b/<id>/g;
        $kind =~ s/\b\d+\.\d+s\b/<t>s/g;
        push @kinds, [$kind, $_] unless $count{$kind}++;
    }
    push @Problems, "$when: " . @bad . " of $n requests went wrong",
                    map { "  $count{$_->[0]}x: $_->[1]" } @kinds;
}

# what a line during the stall must be
sub check_stalled {
    my ($line) = @_;
    my ($which, $op, $id, $st, $code, $t0, $secs) = split ' ', $line;
    return "$line" unless defined $secs;
    if ($which eq 'live') {
        return "live server's entry: $op $id answered $st $code"
               . " after ${secs}s" unless $st =~ /^2\d\d$/;
        return "live server's entry: $op $id answered after ${secs}s,"
               . " not within ${Fast}s" if $secs > $Fast;
    } else {
        return "stalled server's entry: $op $id answered $st $code,"
               . " expected 503 store_unavailable (after ${secs}s)"
            unless $st == 503 && $code eq 'store_unavailable';
        return "stalled server's entry: $op $id answered after ${secs}s,"
               . " not within the timeout (${Timeout}s) and slack"
            if $secs > $Timeout + $Slack;
    }
    return;
}

sub stall {
    my $file = File::Temp::tempdir('t167-XXXXXX', TMPDIR => 1,
                                   CLEANUP => 1) . '/lines';
    kill 'STOP', $Mc{$Stalled};

    # 8 clients at once for 5 s, in children
    my @kinds = qw(stalled live stalled live stalled live stalled live);
    my $until = Time::HiRes::time() + 5;
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        my @lines = run_clients(scalar @kinds, 30, sub {
            my ($c, $out) = @_;
            # each client goes round all the operations and entries
            my $i = $c * 1000;
            while (Time::HiRes::time() < $until) {
                print $out request($kinds[$c], $i++);
                Time::HiRes::sleep(0.01);
            }
        });
        open my $out, '>', $file or POSIX::_exit(1);
        print $out @lines;
        close $out;
        POSIX::_exit(0);
    }
    # meanwhile, one at a time on the live server's entries
    Time::HiRes::sleep(0.3);
    my @one = map { request('live', $_) } 1 .. 40;
    waitpid $pid, 0;
    my @lines = WoportalFaults::read_lines($file);
    kill 'CONT', $Mc{$Stalled};

    my (%n, @bad, @waiting);
    for (@lines) {
        chomp;
        my ($which, $op, $id, $st, $code, $t0, $secs) = split ' ';
        $n{"$which $st"}++;
        my $problem = check_stalled($_);
        push @bad, $problem if defined $problem;
        push @waiting, [$t0, $t0 + $secs]
            if $which eq 'stalled' && defined $secs && $secs >= 1;
    }
    report('while stalled, 8 clients at once', scalar @lines, @bad);
    @bad = ();
    for (@one) {
        chomp;
        my $problem = check_stalled($_);
        push @bad, "one at a time: $problem" if defined $problem;
    }
    report('while stalled, one request at a time', scalar @one, @bad);
    Test::More::note('while stalled: ' . join ', ',
                     map { "$_: $n{$_}" } sort keys %n);
    my @secs = sort { $a <=> $b } map { (split ' ')[6] }
               grep { /^live / } @lines, @one;
    Test::More::note(sprintf "while stalled: the live server's entries"
                             . " answered in %.3fs at most, 99%% within"
                             . " %.3fs", $secs[-1],
                             $secs[int($#secs * 0.99)]) if @secs;

    # the live server's entries were served while requests for the
    # stalled one waited (a request waits once for the server's failure
    # to show; later ones may be answered at once)
    push @Problems, "no request for the stalled server waited for it"
        unless @waiting;
    my $meanwhile = 0;
    for (@lines, @one) {
        my ($which, $op, $id, $st, $code, $t0, $secs) = split ' ';
        next unless $which eq 'live' && defined $secs && $st =~ /^2/;
        my $done = $t0 + $secs;
        $meanwhile++ if grep { $_->[0] < $t0 && $done < $_->[1] } @waiting;
    }
    Test::More::note("$meanwhile answers for the live server while a"
                     . " request for the stalled one waited");
    push @Problems, "only $meanwhile answers for the live server while a"
                    . " request for the stalled one waited, expected 20"
        if $meanwhile < 20;
}

sub resume {
    my ($stalled_id) = ids_on($Stalled);
    my $deadline = Time::HiRes::time() + 10;
    my ($st, $b);
    while (Time::HiRes::time() < $deadline) {
        ($st, $b) = api(GET => "$Base/$stalled_id");
        last if $st == 200;
        Time::HiRes::sleep(0.1);
    }
    push @Problems, "GET $stalled_id within 10 s of SIGCONT: $st $b"
        unless $st == 200;
    return unless $st == 200;

    my @bad;
    for my $i (1 .. 60) {
        my $line = request($i % 2 ? 'live' : 'stalled', int($i / 2));
        my ($which, $op, $id, $st, $code, $t0, $secs, $got) = split ' ',
                                                                  $line;
        push @bad, "$which server's entry: $op $id answered $st $code"
            unless $st =~ /^2\d\d$/;
        push @bad, "$which server's entry: $op $id served the entry $got"
            if $st =~ /^2\d\d$/ && $got ne $id;
    }
    report('after SIGCONT', 60, @bad);
}

sub scenario {
    setup();
    return if @Problems;
    stall();
    resume();
}

run_tests();

__DATA__

=== TEST 1: one memcached server of two stalled: its entries 503 store_unavailable within the 2 s timeout, the other's 2xx each within 0.5 s meanwhile; SIGCONT: all served again
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_FAULT_MC_PORT_A --SERVER=127.0.0.1:$TEST_NGINX_FAULT_MC_PORT_B --BINARY-PROTOCOL --DISTRIBUTION=consistent";
        woportal_memcached_timeout 2s;
        woportal_index_shards 1;
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
