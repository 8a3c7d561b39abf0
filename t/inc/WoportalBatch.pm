package main;

# The helpers of t/045-batch.t: bursts of requests, all written before the
# first answer is read, and the checks of their answers.  A block's
# --- init runs one main::*_problems sub, which returns the problems it
# found into @main::Problems; the block's data_ok returns them.  They are
# main:: subs and variables, for the blocks' --- init and data_ok code.
#
#   use WoportalBatch;

use strict;
use warnings;

use DBI ();
use POSIX ();
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use Time::HiRes ();
use Test::Nginx::Socket ();
use Woportal ();

our $Base = '/api/v1/workorder-portal';
our $J = $Woportal::J;

# the problems a block's burst found (in --- init), for its data_ok
our @Problems;

# what holds a pool's only thread: a create in a location with SQLite,
# whose database another process holds locked, waits in its thread for
# woportal_persist_timeout (3 s).  (A list no longer holds a thread while
# memcached does not answer: it asks memcached on the event loop first.)
# Under valgrind, whose scheduler runs one thread at a time, timings are
# not checked.
our $HeldDir = File::Temp::tempdir('t045-XXXXXX', TMPDIR => 1,
                                   CLEANUP => 1);
$ENV{TEST_NGINX_HELD_DB} = "$HeldDir/held.db";

sub id_of { sprintf '5f1e%020x', $_[0] }

sub seed {
    my ($id, %over) = @_;
    Woportal::memcached_set("woportal:$id", Woportal::entry_json($id, %over));
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

    my @got = Woportal::burst(@reqs);

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
        my $stored = Woportal::memcached_entry("woportal:$what");
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

    my @got = Woportal::burst(@reqs);
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
        my $d = eval { $J->decode(Woportal::memcached_entry('woportal:' . id_of($k))) };
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
    for my $r (Woportal::burst(@reqs)) {
        my ($st, undef, $body) = @$r;
        my $code = code_of($body);
        push @p, "answered $st $code, expected 503 store_unavailable"
            if $st != 503 || $code ne 'store_unavailable';
    }
    return @p;
}

# a create in /held, its database locked by a child for 4 s: it holds
# the pool's only thread; the socket to read its answer from
sub hold_thread {
    my $dbh = DBI->connect("dbi:SQLite:dbname=$ENV{TEST_NGINX_HELD_DB}",
                           '', '', {RaiseError => 1, PrintError => 0});
    # nginx made the schema at start; the lock is taken once it is there
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        $dbh->{InactiveDestroy} = 1;
        my $d = DBI->connect("dbi:SQLite:dbname=$ENV{TEST_NGINX_HELD_DB}",
                             '', '', {RaiseError => 1, PrintError => 0});
        $d->do('BEGIN EXCLUSIVE');
        open my $out, '>', "$HeldDir/locked";
        close $out;
        Time::HiRes::sleep(4);
        $d->do('ROLLBACK');
        POSIX::_exit(0);
    }
    $dbh->disconnect;
    for (1 .. 300) {
        last if -e "$HeldDir/locked";
        Time::HiRes::sleep(0.01);
    }
    Test::Nginx::Socket::add_cleanup_handler(sub {
        local $?;
        waitpid $pid, 0;
        unlink "$HeldDir/locked";
    });
    my $held = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                     PeerPort => $ENV{TEST_NGINX_SERVER_PORT},
                                     Proto => 'tcp', Timeout => 5)
        or die "cannot connect: $!\n";
    my $body = '{"workorder":"507f1f77bcf86cd799439012",'
               . '"client":"507f1f77bcf86cd799439013"}';
    syswrite $held, "POST /held HTTP/1.1\r\nHost: localhost\r\n"
                    . "Connection: close\r\nX-API-Key: test-key\r\n"
                    . "Content-Type: application/json\r\n"
                    . "Content-Length: " . length($body) . "\r\n\r\n$body";
    Time::HiRes::sleep(0.2);
    return $held;
}

# its answer, before nginx exits: a pool whose queue is full is not
# stopped, its thread would outlive the worker's handles
sub release_thread {
    my $held = shift;
    my $sel = IO::Select->new($held);
    while ($sel->can_read(10)) {
        last unless sysread $held, my $buf, 65536;
    }
    close $held;
}

# TEST 4: the pool's only thread is held; the burst's lists find its
# queue full, its gets and writes need no thread
sub overflow_problems {
    my $held = hold_thread();
    my (@reqs, @p);
    for my $k (1 .. 10) {
        push @reqs, [GET => "$Base?per_page=1&page=$k"];
        push @reqs, [GET => "$Base/" . id_of($k)];
        push @reqs, [PUT => "$Base/" . id_of($k), '{"disabled":true}'];
    }
    my $t0 = Time::HiRes::time();
    my @answers = Woportal::burst(@reqs);
    my $t = Time::HiRes::time() - $t0;
    for my $i (0 .. $#reqs) {
        my ($st, undef, $body) = @{$answers[$i]};
        my $code = code_of($body);
        my $list = $reqs[$i][1] =~ /\?/;
        if ($list) {
            push @p, "a list answered $st $code, expected 503 "
                     . "store_unavailable"
                if $st != 503 || $code ne 'store_unavailable';
        } elsif ($st == 503 || $st >= 500) {
            push @p, "$reqs[$i][0] $reqs[$i][1] answered $st $code: it "
                     . "needs no thread";
        }
    }
    push @p, sprintf "the burst took %.2f s: it waited for the thread", $t
        if $t > 2.5 && !$ENV{TEST_NGINX_USE_VALGRIND};
    release_thread($held);
    return @p;
}

# TEST 5: the only thread of the pool of the other calls is held; a list,
# in a pool of its own, is answered meanwhile
sub list_pool_problems {
    my $held = hold_thread();
    my $t0 = Time::HiRes::time();
    my ($st) = Woportal::http_request(GET => "$Base?per_page=1");
    my $t = Time::HiRes::time() - $t0;
    my @p;
    push @p, "the list answered $st" if $st != 200;
    push @p, sprintf "the list took %.2f s: it waited for the held pool", $t
        if $t > 2.5 && !$ENV{TEST_NGINX_USE_VALGRIND};
    release_thread($held);
    return @p;
}

1;
