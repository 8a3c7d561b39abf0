use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalFaults qw(:DEFAULT api create_entry holders);
no_shuffle();

# One server of a two-server memcached cluster (--DISTRIBUTION=consistent)
# killed, then started again (README "Running several nodes": "while it is
# down, the requests whose keys it holds are 503"; issue 14: "only its
# keys answer 503; the others are served at full speed"):
#
# - entries are created while both servers run; which server holds each
#   is read on the servers themselves (text protocol "get <prefix><id>");
#   the list index is one shard (woportal_index_shards 1), and the server
#   killed is the one that does not hold it, so that the writes of the
#   live server's entries need nothing of the dead one;
# - while it is down, with clients at once and one after the other: the
#   dead server's entries answer 503 store_unavailable, within the
#   memcached timeout; the live server's entries answer 2xx (GET, PUT,
#   PATCH, status), each within 0.5 s (the timeout is 2 s: a request
#   that waited for the dead server would show); a create answers 201
#   (its entry then on the live server, and served) or 503;
# - started again (its data lost), after the retry time of a failed
#   server (README "woportal_memcached_timeout": 2 s) and 1 s of slack:
#   every request succeeds, none 503: its entries are 404 not_found, the
#   live server's 200, creates 201, and those that land on the restarted
#   server are served from it.
#
# The memcached servers are this file's own (memcached port + 121, 122).

use Time::HiRes ();

master_on();
workers(2);

our @McPorts = (mc_port(21), mc_port(22));
our %Mc = map { $_ => start_memcached($_) } @McPorts;
$ENV{TEST_NGINX_FAULT_MC_PORT_A} = $McPorts[0];
$ENV{TEST_NGINX_FAULT_MC_PORT_B} = $McPorts[1];
$ENV{TEST_NGINX_PREFIX} = fresh_prefix('t166');

our $Base = '/api/v1/workorder-portal';
our $J = $WoportalFaults::J;
our $Timeout = 2;     # woportal_memcached_timeout
our $Fast = 0.5;      # a request that did not wait for the dead server
our $Retry = 2;       # s before a failed server is tried again (README)
our @Problems;
our (%On, $Dead, $Live);    # id => port of the server that holds it

sub ids_on {
    my $port = shift;
    my @ids = sort(grep { $On{$_} == $port } keys %On);
    return @ids;
}

# 40 entries over both servers; the one without the index shard is $Dead
sub setup {
    for my $n (1 .. 40) {
        my ($st, $b, $secs, $id) = create_entry($Base, "before-$n");
        push @Problems, "create $n before the fault: $st $b" and next
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
    ($Dead) = grep { $_ != $Live } @McPorts;
    Test::More::note(sprintf "%d entries on %d (live, the index),"
                             . " %d on %d (to be killed)",
                             scalar ids_on($Live), $Live,
                             scalar ids_on($Dead), $Dead);
    for ($Live, $Dead) {
        push @Problems, "no entry on $_: cannot test" unless ids_on($_);
    }
}

# Request $i on an entry of the 'live' or the 'dead' server, or a
# 'create': its line
#   <which> <op> <id> <status> <error code> <seconds>
sub request {
    my ($which, $i) = @_;
    my ($op, $id, $st, $b, $secs);
    if ($which eq 'create') {
        $op = 'create';
        ($st, $b, $secs, $id) = create_entry($Base, "during-$i");
    } else {
        my @ids = ids_on($which eq 'live' ? $Live : $Dead);
        $id = $ids[$i % @ids];
        my @ops = $which eq 'live' ? qw(get put get patch get status)
                                   : qw(get patch get status);
        $op = $ops[$i % @ops];
        ($st, $b, $secs) =
            $op eq 'get'   ? api(GET => "$Base/$id")
          : $op eq 'put'   ? api(PUT => "$Base/$id",
                                 {access_level => 'comment'})
          : $op eq 'patch' ? api(PATCH => "$Base/$id",
                                 {disabled => JSON::PP::true()})
          :                  api(PATCH => "$Base/$id/status",
                                 {status => $i % 2 ? 'in_progress'
                                                   : 'pending'});
    }
    return sprintf "%s %s %s %s %s %.3f\n", $which, $op, $id // '-', $st,
                   WoportalFaults::api_error($b) || '-', $secs;
}

# what a line during the outage must be
sub check_down {
    my ($line) = @_;
    return "$line" unless $line =~ /^(\w+) (\w+) (\S+) (\d+) (\S+) ([\d.]+)$/;
    my ($which, $op, $id, $st, $code, $secs) = ($1, $2, $3, $4, $5, $6);
    if ($which eq 'live') {
        return "live server's entry: $op $id answered $st $code"
               . " after ${secs}s" unless $st =~ /^2\d\d$/;
        return "live server's entry: $op $id answered after ${secs}s,"
               . " not within ${Fast}s" if $secs > $Fast;
    } elsif ($which eq 'dead') {
        return "dead server's entry: $op $id answered $st $code,"
               . " expected 503 store_unavailable (after ${secs}s)"
            unless $st == 503 && $code eq 'store_unavailable';
        return "dead server's entry: $op $id answered after ${secs}s,"
               . " not within the timeout (${Timeout}s) and slack"
            if $secs > $Timeout + 1.5;
    } elsif ($st == 201) {
        my @on = holders("$ENV{TEST_NGINX_PREFIX}$id", $Live);
        return "create answered 201 but $id is not on the live server"
            unless @on;
        my ($gst, $gb, $gsecs) = api(GET => "$Base/$id");
        return "create answered 201, then GET $id: $gst $gb"
            unless $gst == 200;
    } else {
        return "create answered $st $code, expected 201 or 503"
               . " store_unavailable"
            unless $st == 503 && $code eq 'store_unavailable';
    }
    return;
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

# the slowest answers for the live server's entries
sub note_times {
    my ($when, @lines) = @_;
    my @secs = sort { $a <=> $b } map { (split ' ')[-1] }
               grep { /^live / } @lines;
    return unless @secs;
    Test::More::note(sprintf "%s: the live server's entries answered in"
                             . " %.3fs at most, 99%% within %.3fs", $when,
                             $secs[-1], $secs[int($#secs * 0.99)]);
}

sub down {
    WoportalFaults::stop_memcached($Mc{$Dead}, 'KILL');
    delete $Mc{$Dead};

    # 8 clients at once for 3 s: 3 on the live server's entries, 3 on the
    # dead one's, 2 creating
    my @kinds = qw(live live live dead dead dead create create);
    my $until = Time::HiRes::time() + 3;
    my @lines = run_clients(scalar @kinds, 30, sub {
        my ($c, $out) = @_;
        # each client goes round all the operations and entries
        my $i = $c * 1000;
        while (Time::HiRes::time() < $until) {
            print $out request($kinds[$c], $i++);
            Time::HiRes::sleep(0.01);
        }
    });
    # then one after the other, alternating
    my @one = map { request($_ % 3 ? 'live' : 'dead', $_) } 1 .. 60;

    my (%n, $created);
    for my $phase (['8 clients at once', @lines],
                   ['one request at a time', @one])
    {
        my ($what, @l) = @$phase;
        my @bad;
        for (@l) {
            chomp;
            my ($which, $op, $id, $st) = split ' ';
            $n{"$which $st"}++;
            $created++ if $which eq 'create' && $st == 201;
            my $problem = check_down($_);
            push @bad, $problem if defined $problem;
        }
        report("while down, $what", scalar @l, @bad);
    }
    Test::More::note('while down: ' . join ', ',
                     map { "$_: $n{$_}" } sort keys %n);
    note_times('while down', @lines, @one);
    push @Problems, "while down: no create answered 201" unless $created;
    push @Problems, "while down: not 100 answers on the live server's"
                    . " entries" unless ($n{'live 200'} // 0) >= 100;
}

sub back {
    $Mc{$Dead} = start_memcached($Dead);
    Time::HiRes::sleep($Retry + 1);

    my (%n, @created, @bad);
    for my $i (1 .. 100) {
        my $which = $i % 4 == 0 ? 'create' : $i % 2 ? 'live' : 'dead';
        my @ids = $which eq 'create' ? () : ids_on($which eq 'live'
                                                   ? $Live : $Dead);
        my $id = @ids ? $ids[$i % @ids] : undef;
        my ($st, $b, $secs, $new) = $which eq 'create'
                                    ? create_entry($Base, "after-$i")
                                    : api(GET => "$Base/$id");
        my $want = $which eq 'create' ? 201 : $which eq 'live' ? 200 : 404;
        $n{"$which $st"}++;
        push @created, $new if $new;
        push @bad, sprintf "request %d (%s %s) answered %s in %.3fs: %s,"
                           . " expected %s", $i,
                           $which eq 'create' ? 'create' : 'GET',
                           $id // '-', $st, $secs, $b, $want
            unless $st == $want;
    }
    report('after the restart', 100, @bad);
    Test::More::note('after the restart: ' . join ', ',
                     map { "$_: $n{$_}" } sort keys %n);

    my $on_dead = 0;
    for my $id (@created) {
        next unless holders("$ENV{TEST_NGINX_PREFIX}$id", $Dead);
        $on_dead++;
        my ($st, $b) = api(GET => "$Base/$id");
        push @Problems, "after the restart: $id, created on the restarted"
                        . " server: GET $st $b" unless $st == 200;
    }
    push @Problems, "after the restart: no create landed on the restarted"
                    . " server" unless $on_dead;
}

sub scenario {
    setup();
    return if @Problems;
    down();
    back();
}

run_tests();

__DATA__

=== TEST 1: one memcached server of two killed: its entries 503 store_unavailable, the other's 2xx each within 0.5 s; started again: every request answered, its lost entries 404
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
