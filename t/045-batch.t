use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
no_shuffle();

# The gets that one worker posts while its event loop goes round once are
# one thread-pool task and one multi-get (store.c).  Here bursts of
# requests, all written before the first answer is read, on one worker, so
# that many of them land in the same batch: every answer must be the one
# its request alone would get, whatever else was in the batch (the same
# entry asked for several times, missing entries, corrupt values, writes
# beside gets), and a batch that cannot be posted or reach memcached
# answers 503 for each of its calls.

use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use Time::HiRes ();

workers(1);

our $Base = '/api/v1/workorder-portal';
our $J = $Woportal::J;

# the problems a block's burst found (in --- init), for its data_ok
our @Problems;

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

# a listener that never accepts: memcached calls to it wait for their
# timeout (3 s), holding their pool thread meanwhile (under valgrind,
# whose scheduler runs one thread at a time, timings are not checked)
our $BlackHole = IO::Socket::INET->new(Listen => 5, LocalAddr => '127.0.0.1',
                                       LocalPort => 0, Proto => 'tcp')
    or die "cannot open the black hole listener: $!\n";
$ENV{TEST_NGINX_BLACKHOLE_PORT} = $BlackHole->sockport;

block_defaults(config => $Woportal::Location,
               more_headers => "X-API-Key: test-key\n");

sub id_of { sprintf '5f1e%020x', $_[0] }

sub seed {
    my ($id, %over) = @_;
    Woportal::memcached_set("woportal:$id", Woportal::entry_json($id, %over));
}

# Sends every request on a connection of its own: all connections are
# opened, then all requests written, then all answers read.  Returns one
# [status, {lc header => value}, body] per request.
sub burst {
    my @reqs = @_;
    my (@s, @out);
    for my $i (0 .. $#reqs) {
        $s[$i] = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                       PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                                       Proto => 'tcp', Timeout => 5)
            or die "cannot connect: $!\n";
        binmode $s[$i];
    }
    for my $i (0 .. $#reqs) {
        my ($method, $path, $body) = @{ $reqs[$i] };
        my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n"
                  . "Connection: close\r\nX-API-Key: test-key\r\n";
        $req .= "Content-Type: application/json\r\nContent-Length: "
                . length($body) . "\r\n" if defined $body;
        $req .= "\r\n" . ($body // '');
        syswrite $s[$i], $req;
    }
    my @resp = ('') x @reqs;
    my %open = map { $_ => 1 } 0 .. $#reqs;
    my $sel = IO::Select->new(@s);
    my $deadline = Time::HiRes::time() + 20;
    while (%open && (my $left = $deadline - Time::HiRes::time()) > 0) {
        for my $fh ($sel->can_read($left)) {
            my ($i) = grep { $s[$_] == $fh } keys %open;
            next unless defined $i;
            my $n = sysread $fh, my $buf, 65536;
            if ($n) {
                $resp[$i] .= $buf;
                next;
            }
            delete $open{$i};
            $sel->remove($fh);
            close $fh;
        }
    }
    for my $r (@resp) {
        my ($head, $body) = split /\r\n\r\n/, $r, 2;
        my ($status) = ($head // '') =~ m{\AHTTP/1\.[01] (\d{3})};
        my %h;
        for my $line (split /\r\n/, $head // '') {
            $h{lc $1} = $2 if $line =~ /^([^:\s]+):\s*(.*?)\s*$/;
        }
        push @out, [$status // 0, \%h, $body // ''];
    }
    return @out;
}

sub code_of {
    my $d = eval { $J->decode($_[0]) };
    return ref $d eq 'HASH' && ref $d->{error} eq 'HASH'
           ? $d->{error}{code} // '' : '';
}

# TEST 1: 12 entries, each asked for 3 times; 6 missing; 2 being deleted
# (the "gone" marker); 1 holding another entry's id; HEADs
sub gets_problems {
    my (@reqs, @want, @p);
    for my $k (1 .. 12) {
        my $id = id_of($k);
        seed($id, version => $k);
        for (1 .. 3) {
            push @reqs, [GET => "$Base/$id"];
            push @want, [200, $id, $k];
        }
    }
    for my $k (21 .. 26) {
        Woportal::memcached_delete('woportal:' . id_of($k));
        push @reqs, [GET => "$Base/" . id_of($k)];
        push @want, [404, 'not_found'];
    }
    for my $k (31 .. 32) {
        Woportal::memcached_set('woportal:' . id_of($k), '', 2);
        push @reqs, [GET => "$Base/" . id_of($k)];
        push @want, [404, 'not_found'];
    }
    Woportal::memcached_set('woportal:' . id_of(41),
                            Woportal::entry_json(id_of(42)));
    push @reqs, [GET => "$Base/" . id_of(41)];
    push @want, [503, 'store_unavailable'];
    for my $k (1 .. 4) {
        push @reqs, [HEAD => "$Base/" . id_of($k)];
        push @want, [200, undef, $k];
    }

    my @got = burst(@reqs);

    for my $i (0 .. $#reqs) {
        my ($st, $h, $body) = @{ $got[$i] };
        my ($wst, $what, $ver) = @{ $want[$i] };
        my $req = "$reqs[$i][0] $reqs[$i][1]";
        if ($st != $wst) {
            push @p, "$req answered $st, expected $wst";
            next;
        }
        if ($wst != 200) {
            my $code = code_of($body);
            push @p, "$req: error code $code, expected $what" if $code ne $what;
            next;
        }
        push @p, "$req: ETag " . ($h->{etag} // 'none') . ", expected \"$ver\""
            if ($h->{etag} // '') ne "\"$ver\"";
        if (!defined $what) {
            push @p, "$req: HEAD with a body" if length $body;
            next;
        }
        my $stored = Woportal::memcached_get("woportal:$what");
        push @p, "$req: the body is not {\"success\":true,\"data\":<stored>}"
            if $body ne '{"success":true,"data":' . $stored . '}';
    }
    return @p;
}

# TEST 2: updates, status changes, creates and deletes beside gets of the
# same entries: each write is done once, versions follow one another
sub mixed_problems {
    my (@reqs, @p);
    for my $k (51 .. 58) {
        seed(id_of($k));
        Woportal::memcached_set('woportal:' . id_of($k + 100),
                                Woportal::entry_json(id_of($k + 100)));
        push @reqs, [PATCH => "$Base/" . id_of($k), '{"disabled":true}'];
        push @reqs, [GET => "$Base/" . id_of($k)];
        push @reqs, [PATCH => "$Base/" . id_of($k) . '/status',
                     '{"status":"in_progress"}'];
        push @reqs, [POST => $Base, '{"workorder":"w","client":"c"}'];
        push @reqs, [DELETE => "$Base/" . id_of($k + 100)];
    }

    my @got = burst(@reqs);
    my %created;

    for my $i (0 .. $#reqs) {
        my ($st, $h, $body) = @{ $got[$i] };
        my ($m, $path) = @{ $reqs[$i] };
        my $want = $m eq 'POST' ? 201 : 200;
        push @p, "$m $path answered $st, expected $want" if $st != $want;
        if ($m eq 'POST' && $st == 201) {
            my $d = eval { $J->decode($body) };
            my $id = ref $d eq 'HASH' ? $d->{data}{_id} // '' : '';
            push @p, "POST: id $id made twice" if $created{$id}++;
            push @p, "POST: $id is not stored"
                unless defined Woportal::memcached_get("woportal:$id");
        }
    }
    for my $k (51 .. 58) {
        my $d = eval { $J->decode(Woportal::memcached_get('woportal:' . id_of($k))) };
        my $id = id_of($k);
        if (ref $d ne 'HASH') {
            push @p, "$id: nothing stored";
            next;
        }
        push @p, "$id: version $d->{version}, expected 3" if $d->{version} != 3;
        push @p, "$id: status $d->{status}" if $d->{status} ne 'in_progress';
        push @p, "$id: not disabled" unless $d->{disabled};
        push @p, id_of($k + 100) . ": still stored"
            if defined Woportal::memcached_get('woportal:' . id_of($k + 100));
    }
    return @p;
}

# TEST 3 and 4: every request of the burst answered 503 store_unavailable
sub all_503_problems {
    my (@reqs, @p);
    for my $k (1 .. 20) {
        push @reqs, [GET => "$Base/" . id_of($k)];
        push @reqs, [PUT => "$Base/" . id_of($k), '{"disabled":true}'];
    }
    push @reqs, [POST => $Base, '{"workorder":"w","client":"c"}'];
    for my $r (burst(@reqs)) {
        my ($st, undef, $body) = @$r;
        my $code = code_of($body);
        push @p, "answered $st $code, expected 503 store_unavailable"
            if $st != 503 || $code ne 'store_unavailable';
    }
    return @p;
}

# TEST 4: a get from the black hole holds the pool's only thread; the
# burst that follows cannot be queued (max_queue=0)
sub overflow_problems {
    my $hole = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                                     Proto => 'tcp', Timeout => 5)
        or die "cannot connect: $!\n";
    syswrite $hole, "GET /hole/" . id_of(1) . " HTTP/1.1\r\nHost: localhost"
                    . "\r\nConnection: close\r\nX-API-Key: test-key\r\n\r\n";
    Time::HiRes::sleep(0.2);
    my $t0 = Time::HiRes::time();
    my @p = all_503_problems();
    my $t = Time::HiRes::time() - $t0;
    push @p, sprintf "the burst took %.2f s: it waited for the thread", $t
        if $t > 2.5 && !$ENV{TEST_NGINX_USE_VALGRIND};
    # the thread free again before nginx exits: a pool whose queue is full
    # is not stopped, its thread would outlive the worker's handles
    my $sel = IO::Select->new($hole);
    while ($sel->can_read(10)) {
        last unless sysread $hole, my $buf, 65536;
    }
    close $hole;
    return @p;
}

# TEST 5: a get from the black hole holds the only thread of the pool of
# the other calls; a list, in a pool of its own, is answered meanwhile
sub list_pool_problems {
    my $hole = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                                     Proto => 'tcp', Timeout => 5)
        or die "cannot connect: $!\n";
    syswrite $hole, "GET /hole/" . id_of(1) . " HTTP/1.1\r\nHost: localhost"
                    . "\r\nConnection: close\r\nX-API-Key: test-key\r\n\r\n";
    Time::HiRes::sleep(0.1);
    my $t0 = Time::HiRes::time();
    my ($st) = Woportal::http_request(GET => "$Base?per_page=1");
    my $t = Time::HiRes::time() - $t0;
    my @p;
    push @p, "the list answered $st" if $st != 200;
    push @p, sprintf "the list took %.2f s: it waited for the held pool", $t
        if $t > 2.5 && !$ENV{TEST_NGINX_USE_VALGRIND};
    close $hole;
    return @p;
}

run_tests();

__DATA__

=== TEST 1: a burst of gets: the same entry asked for three times, missing entries, entries being deleted and a corrupt value in one multi-get; each answered as alone
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



=== TEST 3: memcached cannot be reached: every call of the batch is 503 store_unavailable
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



=== TEST 4: the thread pool's queue is full: the batch is answered 503 store_unavailable, each call of it
--- main_config
thread_pool  tiny  threads=1  max_queue=0;
--- config eval
$main::Up . <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_thread_pool tiny;
    }

    location /hole {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_BLACKHOLE_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 3s;
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
the thread pool's queue is full



=== TEST 5: woportal_list_thread_pool: lists run in a pool of their own, and are answered while every thread of the other pool is held
--- main_config
thread_pool  tiny  threads=1;
thread_pool  lists  threads=1;
--- config eval
$main::Up . <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_thread_pool tiny;
        woportal_list_thread_pool lists;
    }

    location /hole {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_BLACKHOLE_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 3s;
        woportal_api_key test-key;
        woportal_thread_pool tiny;
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
