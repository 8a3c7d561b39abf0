use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalFaults;
no_shuffle();

# memcached killed (SIGKILL, as in a crash) while clients write, then
# started again on the same port (README "How it works", "Persistence"):
#
# - every request is answered 2xx or 503 store_unavailable: never a hang
#   (a client waits 20 s at most), never a 500, never a worker that dies
#   (the harness fails a block on any [alert], "exited on signal" is one);
# - once memcached is back, requests succeed again, nginx untouched;
# - with persistence (SQLite, sync) nothing acknowledged is lost: every
#   entry answered 201 reads back (through from SQLite: memcached lost
#   everything) exactly as its last 2xx answer served it, and the list
#   (rebuilt from SQLite) has exactly the entries answered 201;
# - without persistence the entries written after the restart read back
#   as served, and those written before may be gone (404), nothing else.
#
# The memcached is this file's own (memcached port + 100), a child of the
# test, stopped when the file ends.

use File::Temp ();
use Time::HiRes ();

master_on();
workers(2);

our $McPort = mc_port(0);
our $Mc = start_memcached($McPort);
$ENV{TEST_NGINX_FAULT_MC_PORT} = $McPort;
$ENV{TEST_NGINX_DB_DIR} = File::Temp::tempdir('t160-XXXXXX', TMPDIR => 1,
                                              CLEANUP => 1);
$ENV{TEST_NGINX_PREFIX} = fresh_prefix('t160');
$ENV{TEST_NGINX_PLAIN_PREFIX} = fresh_prefix('t160p');

our $Base = '/api/v1/workorder-portal';
our $Plain = '/plain';
our $J = $WoportalFaults::J;
our @Problems;
our ($Killed, $Restarted);

# Client $c: until $until, one entry after the other, each created,
# replaced, patched and given a status.  One line per request:
#   <location> <op> <id> <status> <error code> <started at> <seconds> <data>
sub client {
    my ($c, $out, $base, $until) = @_;
    my $port = nginx_port();
    my $n = 0;
    while (Time::HiRes::time() < $until) {
        $n++;
        my $id = '-';
        my @ops = (
            [create => POST => $base,
             {workorder => "wo-$c-$n", client => "cl-$c", company_namespace => ["c$c"]}],
            [put => PUT => undef, {access_level => 'comment'}],
            [patch => PATCH => undef, {disabled => JSON::PP::true()}],
            [status => PATCH => 'status',
             {status => 'in_progress', notes => "n-$c-$n"}],
        );
        for my $op (@ops) {
            my ($name, $method, $path, $body) = @$op;
            last if $name ne 'create' && $id eq '-';
            $path = !defined $path ? "$base/$id"
                  : $path eq 'status' ? "$base/$id/status" : $path;
            my $t0 = Time::HiRes::time();
            my ($st, $b, $secs) = WoportalFaults::http_req($port, $method,
                                                           $path, $J->encode($body));
            my $d = WoportalFaults::jdecode($b);
            my $data = $d && ref $d->{data} eq 'HASH' ? $d->{data} : undef;
            $id = $data->{_id} if $name eq 'create' && $data;
            printf $out "%s %s %s %s %s %.3f %.3f %s\n", $base, $name, $id, $st,
                   WoportalFaults::api_error($b) || '-', $t0, $secs,
                   $data ? $J->encode($data) : '-';
        }
    }
}

sub scenario {
    my $t0 = Time::HiRes::time();
    my $until = $t0 + 8;
    my $killer = sub {
        # in the test process: kill, wait, start again
        Time::HiRes::sleep(1.5);
        $Killed = Time::HiRes::time();
        WoportalFaults::stop_memcached($Mc, 'KILL');
        Time::HiRes::sleep(2);
        $Mc = start_memcached($McPort);
        $Restarted = Time::HiRes::time();
    };

    # the clients run in children while the test process kills memcached
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        my @lines = run_clients(6, 60, sub {
            my ($c, $out) = @_;
            client($c, $out, $c < 4 ? $Base : $Plain, $until);
        });
        open my $out, '>', "$ENV{TEST_NGINX_DB_DIR}/lines" or POSIX::_exit(1);
        print $out @lines;
        close $out;
        POSIX::_exit(0);
    }
    $killer->();
    waitpid $pid, 0;
    my @lines = WoportalFaults::read_lines("$ENV{TEST_NGINX_DB_DIR}/lines");

    check_answers(@lines);
    check_recovered();
    check_entries(@lines);
}

# every answer 2xx or 503 store_unavailable (404: an entry of the
# location without persistence, written before the restart)
sub check_answers {
    my (%n, %after);
    for (@_) {
        if (/^client (\d+) (hung|failed)/) {
            push @Problems, "client $1 $2";
            next;
        }
        my ($base, $op, $id, $st, $code, $t0, $secs) = split ' ';
        $n{$st}++;
        $after{$base}++ if $st =~ /^2/ && $t0 > $Restarted;
        next if $st =~ /^2\d\d$/;
        next if $st == 503 && $code eq 'store_unavailable';
        next if $st == 404 && $base eq $Plain && $t0 < $Restarted;
        push @Problems, "$op $id answered $st $code after ${secs}s";
    }
    Test::More::note('answers: ' . join ', ', map { "$_: $n{$_}" } sort keys %n);
    push @Problems, "no request met the outage (no 503)" unless $n{503};
    push @Problems, "nothing succeeded after the restart on $_"
        for grep { !$after{$_} } $Base, $Plain;
}

# memcached back, nginx untouched: every request succeeds again
sub check_recovered {
    my $port = nginx_port();
    for my $base ($Base, $Plain) {
        for my $i (1 .. 10) {
            my ($st, $b) = WoportalFaults::http_req($port, POST => $base,
                               $J->encode({workorder => "after-$i", client => 'c'}));
            push @Problems, "after the restart: POST $base answered $st $b"
                unless $st == 201;
            my $d = WoportalFaults::jdecode($b) or next;
            ($st, $b) = WoportalFaults::http_req($port, GET => "$base/$d->{data}{_id}");
            push @Problems, "after the restart: GET $base answered $st $b"
                unless $st == 200;
        }
    }
}

# what was acknowledged reads back as it was served
sub check_entries {
    my (%last, %created, %mustread);
    for (@_) {
        my ($base, $op, $id, $st, $code, $t0, $secs, $data) = split ' ', $_, 8;
        next unless defined $data && $st =~ /^2/;
        chomp $data;
        $last{"$base $id"} = $data;
        $created{$id} = 1 if $base eq $Base && $op eq 'create';
        $mustread{"$base $id"} = 1 if $base eq $Base || $t0 > $Restarted;
    }
    my $port = nginx_port();
    for my $k (sort keys %mustread) {
        my ($base, $id) = split ' ', $k;
        my ($st, $b) = WoportalFaults::http_req($port, GET => "$base/$id");
        my $d = WoportalFaults::jdecode($b);
        my $got = $d && ref $d->{data} eq 'HASH' ? $J->encode($d->{data}) : $b;
        push @Problems, "GET $base/$id: $st $got, last acknowledged: $last{$k}"
            if $st != 200 || $got ne $J->encode($J->decode($last{$k}));
    }
    Test::More::note(scalar(keys %created) . " entries created with persistence,"
                     . " " . scalar(keys %mustread) . " read back");

    # the list, rebuilt from SQLite: exactly the entries answered 201,
    # and the 10 of check_recovered
    my (%listed, $total);
    for my $page (1 .. 1000) {
        my ($st, $b) = WoportalFaults::http_req($port, GET =>
                           "$Base?per_page=100&sort=_id&page=$page");
        my $d = WoportalFaults::jdecode($b);
        if ($st != 200 || !$d) {
            push @Problems, "list page $page: $st $b";
            last;
        }
        $total = $d->{paging}{total};
        last unless @{ $d->{data} };
        $listed{$_->{_id}}++ for grep { $_->{workorder} !~ /^after-/ } @{ $d->{data} };
    }
    my @missing = grep { !$listed{$_} } sort keys %created;
    my @extra = grep { !$created{$_} || $listed{$_} > 1 } sort keys %listed;
    push @Problems, "acknowledged but not listed: @missing" if @missing;
    push @Problems, "listed but not acknowledged, or twice: @extra" if @extra;
    push @Problems, "list total $total, expected " . (keys(%created) + 10)
        if ($total // -1) != keys(%created) + 10;
}

run_tests();

__DATA__

=== TEST 1: memcached killed and started again while 6 clients write: only 2xx and 503, service back without a reload, nothing acknowledged lost with SQLite
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_FAULT_MC_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 2s;
        woportal_api_key test-key;
        woportal_key_prefix $TEST_NGINX_PREFIX;
        woportal_persist sqlite:$TEST_NGINX_DB_DIR/wp.db;
        woportal_persist_timeout 10s;
    }
    location /plain {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_FAULT_MC_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 2s;
        woportal_api_key test-key;
        woportal_key_prefix $TEST_NGINX_PLAIN_PREFIX;
    }
--- log_level: info
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
