package main;

# The probes of issue 13 ("one truth: an acknowledged write is never
# undone"), shared by t/092-truth-sqlite.t and t/093-truth-postgresql.t
# (which runs the blocks of 092 against PostgreSQL):
#
#   use WoportalTruth 'sqlite';       # or 'postgresql'
#
# Persistence is on, in sync mode (the default).  The file gets memcached
# servers of its own (t/inc/WoportalFaults.pm: memcached port + 130 and
# up, + 140 and up for 093) that the probes flush, stop and edit; each
# block a fresh key prefix and a database of its own (an SQLite file, or a
# database of a private PostgreSQL cluster on memcached port + 4130/4140).
#
# A block's --- init runs one probe (main::probe_*); the probe pushes the
# violations it finds to @main::Problems (the first few are described,
# then a count), and the block's data_ok returns them: the block passes
# when there are none.  Every probe asserts zero violations.

use strict;
use warnings;

use File::Temp ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use Test::More ();
use Test::Nginx::Socket ();
use WoportalFaults;

our ($Backend, $Slot, $McPort, $Mc, $McPort2, $Mc2, $PgPort, $PgDir);
our ($Prefix, $Prefix2, $N, $Persist, @Problems, %Count);
our $PgCommitMs;
our $Base = '/api/v1/workorder-portal';
our $Base2 = '/api/v2/other';
our $TJ = JSON::PP->new->utf8->canonical;

our $TruthDir = File::Temp::tempdir('t09x-truth-XXXXXX', TMPDIR => 1,
                                    CLEANUP => 1);

sub WoportalTruth::import {
    my (undef, $backend) = @_;
    $Backend = $backend // 'sqlite';
    $Slot = $Backend eq 'sqlite' ? 30 : 40;
    if ($Backend eq 'postgresql') {
        $PgPort = pg_port($Slot);
        $PgDir = WoportalFaults::start_postgresql($PgPort);
        Test::More::plan(skip_all => 'PostgreSQL is not installed '
                                     . '(Debian: postgresql)')
            unless $PgDir;
    }
    $McPort = mc_port($Slot);
    $Mc = start_memcached($McPort);
    $McPort2 = mc_port($Slot + 1);
    $Mc2 = start_memcached($McPort2);
}

sub persist_value {
    my $n = shift;
    return "sqlite:$TruthDir/b$n.db" if $Backend eq 'sqlite';
    return "\"postgresql:host=127.0.0.1 port=$PgPort user=postgres"
           . " dbname=b$n\"";
}

# the API location (its own memcached), and a second one (another
# memcached, another prefix, the same database)
sub truth_config {
    my ($n, $extra) = @_;
    $extra //= '';
    my $persist = persist_value($n);
    return <<"_EOC_";
    location $Base {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$McPort --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix $Prefix;
        woportal_persist $persist;
$extra
    }
    location $Base2 {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$McPort2 --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix $Prefix2;
        woportal_persist $persist;
$extra
    }
_EOC_
}

Test::Nginx::Socket::add_block_preprocessor(sub {
    my $block = shift;
    my ($n) = $block->name =~ /TEST (\d+)/ or die "no block number\n";
    $N = $n;
    my $tag = $Backend eq 'sqlite' ? 't092' : 't093';
    $Prefix = fresh_prefix("$tag-b$n");
    $Prefix2 = fresh_prefix("$tag-b$n-other");
    @Problems = ();
    %Count = ();
    if ($Backend eq 'postgresql') {
        WoportalFaults::psql($PgPort, 'postgres', '-c',
                             "DROP DATABASE IF EXISTS b$n");
        WoportalFaults::psql($PgPort, 'postgres', '-c',
                             "CREATE DATABASE b$n");
        pg_slow_commits("b$n", $PgCommitMs);
    }
    $block->set_value(config => truth_config($n, scalar $block->directives))
        unless defined $block->config;
    $block->set_value(more_headers => "X-API-Key: test-key\n")
        unless defined $block->more_headers;
    return $block;
});


# helpers -------------------------------------------------------------------

# The private cluster runs with fsync=off: its commits take no time, where
# those of a real disk take a few milliseconds (an fsync of the WAL).  So
# that the races behave as they would in production, each transaction
# writing to woportal_entries sleeps $ms ms once at its commit (a deferred
# constraint trigger, once a transaction).  Version 1 of the module's own
# schema (sql/postgresql/001_init.sql) is applied here first, so that the
# trigger has its table; the module brings it up to date (the trigger
# stays).
$PgCommitMs = 4;

sub pg_slow_commits {
    my ($db, $ms) = @_;
    my $schema = join '', WoportalFaults::read_lines('sql/postgresql/001_init.sql');
    my $secs = $ms / 1000;
    WoportalFaults::psql($PgPort, $db, '-v', 'ON_ERROR_STOP=1', '-c', $schema);
    my $out = WoportalFaults::psql($PgPort, $db, '-v', 'ON_ERROR_STOP=1', '-c', <<"_SQL_");
CREATE FUNCTION woportal_test_fsync() RETURNS trigger AS \$\$
BEGIN
    IF current_setting('woportal_test.synced', true) IS DISTINCT FROM
       txid_current()::text
    THEN
        PERFORM pg_sleep($secs);
        PERFORM set_config('woportal_test.synced', txid_current()::text, true);
    END IF;
    RETURN NULL;
END \$\$ LANGUAGE plpgsql;
CREATE CONSTRAINT TRIGGER woportal_test_fsync
    AFTER INSERT OR UPDATE OR DELETE ON woportal_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION woportal_test_fsync();
SELECT 'slow-commits-ok';
_SQL_
    push @Problems, "the commit delay of $db was not set up: $out"
        unless $out =~ /slow-commits-ok/;
}

sub api {
    my ($method, $path, $body, %o) = @_;
    return WoportalFaults::http_req(nginx_port(), $method, $path,
                                    defined $body ? $TJ->encode($body)
                                                  : undef, %o);
}

sub jdata {
    my $d = WoportalFaults::jdecode(shift) or return undef;
    return $d->{data};
}

# a violation: the first 10 are described, all are counted
sub violation {
    my ($kind, $what) = @_;
    $Count{$kind}++;
    push @Problems, "$kind: $what" if $Count{$kind} <= 10;
}

# "<kind>: <n> violations (<of>)" for every kind found, after the first few
sub summarize {
    my %of = @_;
    for my $kind (sort keys %Count) {
        my $line = "$kind: $Count{$kind} violations in all"
                   . (defined $of{$kind} ? " (of $of{$kind})" : '');
        push @Problems, $line;
        Test::More::diag("TEST $N: $line");
    }
}

sub flush_all {
    my $port = shift // $McPort;
    my $r = mc_raw($port, "flush_all\r\n");
    push @Problems, "flush_all: $r" unless $r =~ /^OK/;
}

# $n entries, made by 10 clients: their ids
sub create_entries {
    my ($n, $base) = @_;
    $base //= $Base;
    my $k = $n < 10 ? $n : 10;
    my @lines = run_clients($k, 60, sub {
        my ($i, $out) = @_;
        for (my $j = $i; $j < $n; $j += $k) {
            my ($st, $b) = api(POST => $base,
                               {workorder => "wo-$j", client => "cl-$j"});
            my $d = jdata($b);
            if ($st == 201 && ref $d eq 'HASH') {
                print $out "id $d->{_id}\n";
            } else {
                print $out "err POST: $st $b\n";
            }
        }
    });
    my @ids;
    for (@lines) {
        push @ids, $1 if /^id (\S+)/;
        push @Problems, "setup: $_" if /^(err|client)/;
    }
    chomp @Problems;
    return @ids;
}

# the list's (status, total, ids of every page) — pages of 100
sub list_all {
    my ($base, %o) = @_;
    $base //= $Base;
    my @ids;
    my ($st, $b, $secs) = api(GET => "$base?per_page=100&page=1", undef, %o);
    return ($st, undef, [], $secs, $b) unless $st == 200;
    my $d = WoportalFaults::jdecode($b) // {};
    my $total = $d->{paging}{total};
    my $pages = $d->{paging}{total_pages} // 1;
    push @ids, map { $_->{_id} } @{ $d->{data} // [] };
    for my $p (2 .. $pages) {
        my ($st2, $b2) = api(GET => "$base?per_page=100&page=$p", undef, %o);
        return ($st2, $total, \@ids, $secs, $b2) unless $st2 == 200;
        my $d2 = WoportalFaults::jdecode($b2) // {};
        push @ids, map { $_->{_id} } @{ $d2->{data} // [] };
    }
    return (200, $total, \@ids, $secs, $b);
}

sub list_total {
    my ($st, $b, $secs) = api(GET => "$Base?per_page=1", undef, @_);
    my $d = WoportalFaults::jdecode($b) // {};
    return ($st, $d->{paging}{total}, $secs, $b);
}

sub short { my $s = shift // ''; $s =~ s/\s+/ /g; substr($s, 0, 160) }


# 1: an acknowledged DELETE comes back -------------------------------------
#
# $n entries, $k at a time: for each, $readers clients (1) GET it in a
# loop while another DELETEs it; once the DELETE answered 200: GET answers 404 (five
# times over 0.25 s), PATCH answers 404 (not 409); at the end no list
# shows a deleted entry.

sub probe_delete_comes_back {
    my ($n, $k, $readers) = @_;
    $readers //= 1;
    my $per = $readers + 1;
    my @ids = create_entries($n);
    my $flags = File::Temp::tempdir('t09x-flags-XXXXXX', TMPDIR => 1,
                                    CLEANUP => 1);
    my %back;
    my $deleted = 0;
    for (my $from = 0; $from < @ids; $from += $k) {
        my @batch = grep { defined } @ids[$from .. $from + $k - 1];
        my @lines = run_clients($per * @batch, 30, sub {
            my ($i, $out) = @_;
            my $id = $batch[int($i / $per)];
            if ($i % $per != $readers) {
                # the reader: until the deleter is done (at most 5 s)
                my $end = Time::HiRes::time() + 5;
                while (!-e "$flags/$id" && Time::HiRes::time() < $end) {
                    api(GET => "$Base/$id");
                }
                return;
            }
            Time::HiRes::sleep(0.03 + rand 0.05);
            my ($st, $b) = api(DELETE => "$Base/$id");
            if ($st != 200) {
                print $out "err $id DELETE answered $st " . short($b) . "\n";
                open my $f, '>', "$flags/$id";
                return;
            }
            print $out "deleted $id\n";
            for my $try (1 .. 5) {
                Time::HiRes::sleep(0.05);
                my ($gst, $gb) = api(GET => "$Base/$id");
                my $v = (jdata($gb) // {})->{version} // '-';
                print $out "back $id GET $try after the DELETE's 200:"
                           . " $gst (version $v)\n"
                    if $gst != 404;
            }
            my ($pst, $pb) = api(PATCH => "$Base/$id", {disabled => JSON::PP::true()});
            print $out "back $id PATCH after the DELETE's 200: $pst "
                       . short($pb) . ", expected 404\n"
                if $pst != 404;
            open my $f, '>', "$flags/$id";
        });
        for (@lines) {
            chomp;
            if (/^deleted/) { $deleted++ }
            elsif (/^back (\S+) (.*)/) {
                $back{$1}++;
                violation('came back', "$1 $2");
            }
            else { push @Problems, $_ }
        }
    }
    my ($st, $total, $listed) = list_all();
    my %gone = map { $_ => 1 } @ids;
    if ($st != 200) {
        push @Problems, "the final list answered $st";
    } else {
        my @in = grep { $gone{$_} } @$listed;
        violation('listed after its DELETE', "$_") for @in;
        push @Problems, "the final list's total is $total, expected 0"
            if $total;
    }
    push @Problems, "only $deleted of " . scalar(@ids) . " DELETEs answered 200"
        if $deleted != @ids;
    $Count{'entries that came back'} = scalar keys %back if %back;
    summarize('came back' => "checks of $deleted deleted entries",
              'entries that came back' => "$deleted deleted");
}


# 2: an acknowledged update served older after a flush ---------------------
#
# $rounds rounds, each on a new entry: two writers PATCH it, three readers
# GET it, and memcached gets flush_all meanwhile.  A GET started after a
# write of version v was acknowledged must show version v or above; after
# the round a PATCH (no If-Match, nobody else writing) succeeds, not 409,
# and a GET then shows its version.

sub probe_older_after_flush {
    my ($rounds, $secs) = @_;
    my $bad_rounds = 0;
    my $mc = $McPort;
    for my $round (1 .. $rounds) {
        my ($id) = create_entries(1);
        last unless $id;
        my @lines = run_clients(6, 30, sub {
            my ($i, $out) = @_;
            my $end = Time::HiRes::time() + $secs;
            if ($i == 5) {
                Time::HiRes::sleep($secs * (0.2 + rand 0.4));
                mc_raw($mc, "flush_all\r\n");
                printf $out "flush %.6f\n", Time::HiRes::time();
                return;
            }
            my $k = 0;
            while (Time::HiRes::time() < $end) {
                my $t0 = Time::HiRes::time();
                if ($i < 2) {
                    my ($st, $b) = api(PATCH => "$Base/$id",
                                       {portal_settings => {w => "$i-" . $k++}});
                    my $v = (jdata($b) // {})->{version} // -1;
                    printf $out "ack %.6f %.6f %d %s %s\n", $t0,
                           Time::HiRes::time(), $v, $st,
                           $st == 200 ? '-' : WoportalFaults::api_error($b);
                } else {
                    my ($st, $b) = api(GET => "$Base/$id");
                    my $v = (jdata($b) // {})->{version} // -1;
                    printf $out "get %.6f %.6f %d %s\n", $t0,
                           Time::HiRes::time(), $v, $st;
                }
            }
        });
        my (@acks, @gets, $first);
        my $conflicts = 0;
        for (@lines) {
            chomp;
            my @f = split ' ';
            if ($f[0] eq 'ack') {
                if ($f[4] == 200) { push @acks, [@f[2, 3]] }
                elsif ($f[4] == 409) { $conflicts++ }
            }
            elsif ($f[0] eq 'get') { push @gets, [@f[1 .. 4]] }
            elsif ($f[0] ne 'flush') { push @Problems, $_ }
        }
        @acks = sort { $a->[0] <=> $b->[0] } @acks;
        my $older = 0;
        for my $g (@gets) {
            my ($t0, undef, $v, $st) = @$g;
            my $max = 0;
            for my $a (@acks) {
                last if $a->[0] >= $t0;
                $max = $a->[1] if $a->[1] > $max;
            }
            next unless $max;
            if ($st != 200 || $v < $max) {
                $older++;
                $first //= "$st version $v after version $max was"
                           . " acknowledged";
            }
        }
        violation('older', "round $round: $id: $older GETs served older"
                  . " (the first: $first)") if $older;
        # two writers on one entry may conflict now and then (409
        # conflict: "kept changing"): noted, not counted; the entry stuck
        # at 409 is caught by the last PATCH below
        Test::More::note("TEST $N: round $round: $conflicts PATCHes"
                         . " answered 409") if $conflicts;
        # the entry takes a write afterwards, and serves it
        my ($st, $b) = api(PATCH => "$Base/$id", {portal_settings => {w => 'last'}});
        my $v = (jdata($b) // {})->{version} // -1;
        if ($st != 200) {
            $older++;
            violation('final write refused', "round $round: $id PATCH"
                      . " answered $st " . short($b));
        } else {
            my ($gst, $gb) = api(GET => "$Base/$id");
            my $gv = (jdata($gb) // {})->{version} // -1;
            if ($gv != $v) {
                $older++;
                violation('final write not served', "round $round: $id"
                          . " PATCH answered version $v, GET then $gst"
                          . " version $gv");
            }
        }
        $bad_rounds++ if $older;
    }
    $Count{'rounds with an older version or a refused write'} = $bad_rounds
        if $bad_rounds;
    summarize('rounds with an older version or a refused write'
              => "$rounds rounds");
}


# 3: false 404 on writes ------------------------------------------------------
#
# $n entries; $w clients PATCH them (random entries) for $secs seconds
# while memcached gets flush_all every $every seconds: no write to an
# entry that exists answers 404.

sub probe_false_404 {
    my ($n, $w, $secs, $every, $port) = @_;
    my @ids = create_entries($n);
    my $mc = $port // $McPort;
    my @lines = run_clients($w + 1, $secs + 30, sub {
        my ($i, $out) = @_;
        my $end = Time::HiRes::time() + $secs;
        if ($i == $w) {
            while (Time::HiRes::time() < $end) {
                Time::HiRes::sleep($every);
                mc_raw($mc, "flush_all\r\n") if $every;
            }
            return;
        }
        my $k = 0;
        while (Time::HiRes::time() < $end) {
            my $id = $ids[rand @ids];
            my ($method, $path, $body) = $k++ % 2
                ? (PATCH => "$Base/$id", {portal_settings => {k => $k}})
                : (PUT => "$Base/$id/status",
                   {status => $k % 4 ? 'in_progress' : 'pending'});
            my ($st, $b) = api($method, $path, $body);
            print $out "w $st $method " . ($st == 404 ? "$id " . short($b) : '') . "\n";
        }
    });
    my ($total, %st) = (0);
    for (@lines) {
        chomp;
        if (/^w (\d+) (\S+) ?(.*)/) {
            $total++;
            $st{$1}++;
            violation('404 on a write to an existing entry', "$2 $3")
                if $1 == 404;
        } else {
            push @Problems, $_;
        }
    }
    Test::More::note("TEST $N: writes by status: "
                     . join ', ', map { "$_: $st{$_}" } sort keys %st);
    push @Problems, "no writes made" unless $total;
    summarize('404 on a write to an existing entry' => "$total writes");
}


# 4a: an evicted index shard --------------------------------------------------
#
# $n entries (woportal_index_shards small), a list, then one shard key
# deleted from memcached: each of $lists lists after it answers the whole
# total or 503, never a short one.

sub probe_evicted_shard {
    my ($n, $lists) = @_;
    my @ids = create_entries($n);
    my ($st, $total) = list_total();
    push @Problems, "before: list answered $st total " . ($total // '-')
                    . ", expected 200 total $n"
        unless $st == 200 && ($total // -1) == $n;
    my $r = mc_raw($McPort, "delete ${Prefix}idx:0\r\n");
    push @Problems, "delete ${Prefix}idx:0: $r" unless $r =~ /^DELETED/;
    my $short = 0;
    for my $i (1 .. $lists) {
        my ($lst, $ltotal, $listed, $secs) = list_all();
        if ($lst == 200) {
            my %seen = map { $_ => 1 } @$listed;
            my $missing = grep { !$seen{$_} } @ids;
            if (($ltotal // -1) != $n || $missing) {
                violation('short list', sprintf "list %d after the shard's"
                          . " eviction: 200 total %s, %d listed, %d of %d"
                          . " entries missing (%.2fs)", $i, $ltotal // '-',
                          scalar @$listed, $missing, $n, $secs);
            }
        } elsif ($lst != 503) {
            violation('short list', "list $i answered $lst");
        }
        Time::HiRes::sleep(0.2);
    }
    summarize('short list' => "$lists lists");
}


# 4b: an interrupted rebuild -----------------------------------------------
#
# $n entries, a list; then memcached loses everything (flush_all) and the
# rebuild lock is taken as a list that died in its rebuild would leave it
# (add <prefix>idx:lock, exptime 60: the module's lock expires in 2 s, but
# holds the time it was last renewed, and a lock not renewed for 2 s is
# taken over whatever its expiry; "1" is long ago, as a dead holder's
# last renewal is, and is the lock of the module before issue 13, which
# a rolling upgrade may leave).  Lists must not answer 200 with a
# wrong total; they answer the whole total (a rebuild within the
# timeouts) or 503, within $max seconds; and within $within seconds of the
# flush a list answers 200 with the whole total.

sub probe_interrupted_rebuild {
    my ($n, $max, $within) = @_;
    my @ids = create_entries($n);
    my ($st, $total) = list_total();
    push @Problems, "before: list answered $st total " . ($total // '-')
                    . ", expected 200 total $n"
        unless $st == 200 && ($total // -1) == $n;
    flush_all();
    my $t0 = Time::HiRes::time();
    my $r = mc_raw($McPort, "add ${Prefix}idx:lock 0 60 1\r\n1\r\n");
    push @Problems, "add ${Prefix}idx:lock: $r" unless $r =~ /^STORED/;
    my $whole;
    for my $i (1 .. 3) {
        my ($lst, $ltotal, $secs, $b) = list_total(timeout => $max + 10);
        if ($lst == 200 && ($ltotal // -1) != $n) {
            violation('wrong list', sprintf "list %d after the flush, the"
                      . " lock held: 200 total %s, expected %d or 503"
                      . " (%.2fs): %s", $i, $ltotal // '-', $n, $secs,
                      short($b));
        } elsif ($lst != 200 && $lst != 503) {
            violation('wrong list', "list $i answered $lst " . short($b));
        }
        violation('slow list', sprintf "list %d answered after %.2fs, more"
                  . " than %ss", $i, $secs, $max)
            if $secs > $max;
        if ($lst == 200 && ($ltotal // -1) == $n) {
            $whole = Time::HiRes::time() - $t0;
            last;
        }
        last if Time::HiRes::time() - $t0 > $within;
    }
    violation('not rebuilt', sprintf "no list answered the whole total"
              . " within %ss of the flush", $within)
        unless defined $whole && $whole <= $within;
    # whatever happened: the lock of this block goes, the index is rebuilt
    mc_raw($McPort, "delete ${Prefix}idx:lock\r\n");
    summarize();
}


# 5: writes refused under ordinary load -----------------------------------
#
# $c clients make entries (POST) and change them (PUT status, PATCH) for
# $secs seconds: none is refused (503) or otherwise fails.

sub probe_refused_writes {
    my ($c, $secs) = @_;
    my @lines = run_clients($c, $secs + 30, sub {
        my ($i, $out) = @_;
        my $end = Time::HiRes::time() + $secs;
        my $id;
        my $k = 0;
        while (Time::HiRes::time() < $end) {
            my ($method, $path, $body) = !$id || $k % 3 == 0
                ? (POST => $Base, {workorder => "wo-$i", client => "cl-$k"})
                : $k % 3 == 1
                ? (PUT => "$Base/$id", {portal_settings => {k => $k},
                                        status => 'pending'})
                : (PATCH => "$Base/$id/status", {status => 'in_progress'});
            $k++;
            my ($st, $b, $s) = api($method, $path, $body);
            my $d = jdata($b);
            $id = $d->{_id} if $st == 201 && ref $d eq 'HASH';
            printf $out "w %d %s %.3f %s\n", $st, $method, $s,
                   $st =~ /^2/ ? '' : short($b);
        }
    });
    my ($total, $max, %st) = (0, 0);
    for (@lines) {
        chomp;
        if (/^w (\d+) (\S+) (\S+) ?(.*)/) {
            $total++;
            $st{$1}++;
            $max = $3 if $3 > $max;
            violation("$1 on a write", "$2 after ${3}s: $4") unless $1 =~ /^2/;
        } else {
            push @Problems, $_;
        }
    }
    Test::More::note("TEST $N: $total writes, the slowest ${max}s; by status: "
                     . join ', ', map { "$_: $st{$_}" } sort keys %st);
    summarize(map { ("$_ on a write" => "$total writes") } keys %st);
}


# 6: a stalled memcached bounds writes -----------------------------------
#
# Clients PATCH $n entries of the API location while its memcached is
# stopped (SIGSTOP) and resumed, $cycles times ($stop s stopped, $run s
# running); two more clients PATCH an entry of the second location (its
# own memcached, the same database) meanwhile.  Every request ends within
# $bound seconds (woportal_memcached_timeout + woportal_persist_timeout +
# slack); the second location's writes all succeed within $other s (the
# database is not held while memcached times out).

sub probe_stalled_bound {
    my ($n, $c, $cycles, $stop, $run, $bound, $other) = @_;
    my @ids = create_entries($n);
    my @oids = create_entries(2, $Base2);
    return push @Problems, 'no entries' unless @ids && @oids == 2;
    my $secs = $cycles * ($stop + $run) + $run;
    my $mc = $Mc;
    my @lines = run_clients($c + 3, $secs + 30, sub {
        my ($i, $out) = @_;
        my $end = Time::HiRes::time() + $secs;
        if ($i == $c + 2) {
            for (1 .. $cycles) {
                Time::HiRes::sleep($run);
                kill 'STOP', $mc;
                Time::HiRes::sleep($stop);
                kill 'CONT', $mc;
            }
            return;
        }
        my $k = 0;
        while (Time::HiRes::time() < $end) {
            my ($where, $path) = $i >= $c ? ('other', "$Base2/$oids[$i - $c]")
                                          : ('stalled', "$Base/" . $ids[rand @ids]);
            my ($st, $b, $s) = api(PATCH => $path,
                                   {portal_settings => {k => $i . '-' . $k++}});
            printf $out "w %s %d %.3f %s\n", $where, $st, $s,
                   $st == 200 ? '' : WoportalFaults::api_error($b) || short($b);
        }
    });
    kill 'CONT', $Mc;
    my (%n, %max, %st);
    for (@lines) {
        chomp;
        if (/^w (\S+) (\d+) (\S+) ?(.*)/) {
            my ($where, $st, $s, $err) = ($1, $2, $3, $4);
            $n{$where}++;
            $st{"$where $st"}++;
            $max{$where} = $s if $s > ($max{$where} // 0);
            violation('over the bound', "$where PATCH answered $st"
                      . " $err after ${s}s, more than ${bound}s")
                if $s > $bound;
            violation('other location held up', "PATCH answered $st $err"
                      . " after ${s}s (expected 200 within ${other}s)")
                if $where eq 'other' && ($st != 200 || $s > $other);
        } else {
            push @Problems, $_;
        }
    }
    Test::More::note("TEST $N: " . join ', ', map { "$_: $st{$_}" } sort keys %st);
    Test::More::note("TEST $N: slowest: " . join ', ',
                     map { "$_ ${\ $max{$_}}s" } sort keys %max);
    push @Problems, "no writes made" unless $n{stalled} && $n{other};
    summarize('over the bound' => ($n{stalled} // 0) + ($n{other} // 0) . " writes",
              'other location held up' => ($n{other} // 0) . " writes");
}

1;
