package main;

# The persistence tests' setup, shared by t/090-persist-sqlite.t and
# t/091-persist-postgresql.t (which runs the blocks of 090 against
# PostgreSQL):
#
#   use WoportalPersist 'sqlite';       # or 'postgresql'
#
# Each block gets its own key prefix and database (an SQLite file, or a
# schema-less PostgreSQL database of a private cluster started here with
# initdb and pg_ctl, and stopped when the file ends).  The helpers below
# are main:: subs for the blocks' --- init and data_ok code.

use strict;
use warnings;

use DBI ();
use File::Temp ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use Test::Nginx::Socket ();
use WoportalFaults ();

our $Backend;
our $PgBin;
our $PgPort;

sub WoportalPersist::import {
    my (undef, $backend) = @_;
    $Backend = $backend // 'sqlite';
    start_postgresql() if $Backend eq 'postgresql';
}

our $DbDir = File::Temp::tempdir('t09x-XXXXXX', TMPDIR => 1, CLEANUP => 1);
$ENV{TEST_NGINX_DB_DIR} = $DbDir;
$ENV{TEST_NGINX_RUN_ID} //= $$ . '-' . time();

our $Base = '/api/v1/workorder-portal';
our $J = JSON::PP->new->utf8->canonical;
our (%Id, %Served, $Prefix, $Db, @InitProblems, $CurBlock);

# the woportal_persist value of block $n
sub persist_value {
    my $n = shift;
    return "sqlite:\$TEST_NGINX_DB_DIR/b$n.db" if $Backend eq 'sqlite';
    return "\"postgresql:host=127.0.0.1 port=$PgPort user=postgres"
           . " dbname=b$n\"";
}

# a woportal_persist value whose database cannot be reached
sub unreachable_persist {
    return $Backend eq 'sqlite' ? 'sqlite:/proc/wp.db'
                                : '"postgresql:host=127.0.0.1 port=1"';
}

sub location {
    my ($n, $extra, $persist) = @_;
    $extra //= '';
    $persist //= persist_value($n);
    return <<"_EOC_";
    location $Base {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:\$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix t090-b$n-\$TEST_NGINX_RUN_ID:;
        woportal_persist $persist;
$extra
    }
_EOC_
}

Test::Nginx::Socket::add_block_preprocessor(sub {
    my $block = shift;
    my ($n) = $block->name =~ /TEST (\d+)/ or die "no block number\n";
    $Prefix = "t090-b$n-$ENV{TEST_NGINX_RUN_ID}:";
    $Db = $Backend eq 'sqlite' ? "$DbDir/b$n.db" : "b$n";
    make_database($Db) if $Backend eq 'postgresql'
                          && !defined $block->must_die;
    %Id = %Served = ();
    @InitProblems = ();
    $CurBlock = $block;
    $block->set_value(config => location($n, scalar $block->directives))
        unless defined $block->config;
    $block->set_value(more_headers => "X-API-Key: test-key\n")
        unless defined $block->more_headers;
    return $block;
});

# a write through the API; the entry it answers is kept under its label
sub write_api {
    my ($label, $method, $path, $body, $want) = @_;
    $path =~ s/\{\{(\w+)\}\}/$Id{$1} \/\/ 'none'/ge;
    my ($st, undef, $b) = Woportal::http_request($method, $path,
                                                 defined $body ? $J->encode($body) : undef);
    push @InitProblems, "$method $path ($label): $st $b" if $st ne $want;
    my $doc = eval { $J->decode($b) };
    if (ref $doc eq 'HASH' && ref $doc->{data} eq 'HASH') {
        $Id{$label} = $doc->{data}{_id};
        $Served{$label} = $doc->{data};
    }
    subst();
}

# "{{label}}" in the block's requests: the id of the entry of that label
sub subst {
    my $b = $CurBlock or return;
    my $v = $b->request;
    return unless defined $v;
    my @items = ref $v eq 'ARRAY' ? @$v : ($v);
    s/\{\{(\w+)\}\}/exists $Id{$1} ? $Id{$1} : "{{$1}}"/ge for @items;
    $b->set_value(request => ref $v eq 'ARRAY' ? \@items : $items[0]);
}

sub mk {
    my ($label, %fields) = @_;
    write_api($label, POST => $Base,
              {workorder => "wo-$label", client => "cl-$label", %fields}, 201);
    Time::HiRes::sleep(0.003);
}

sub flush_memcached {
    my $s = Woportal::mc();
    print $s "flush_all\r\n";
    my $reply = <$s>;
    push @InitProblems, "flush_all: $reply" unless $reply =~ /^OK/;
}

# id, version, status (the doc's: the table has no column for it), doc
# of the block's prefix, by id (not the tombstones of deleted entries)
sub db_rows {
    my $rows;
    if ($Backend eq 'postgresql') {
        my $sql = "SELECT id, version, doc FROM woportal_entries"
                  . " WHERE prefix = '$Prefix' AND doc <> '' ORDER BY id";
        my $out = psql($Db, '-A', '-t', '-F', "\x1f", '-R', "\x1e",
                       '-c', $sql);
        $out =~ s/\n\z//;
        $rows = [map { [split /\x1f/, $_, 3] }
                 grep { length } split /\x1e/, $out];
    } else {
        # none before nginx made the database
        return [] unless -e $Db;
        my $dbh = DBI->connect("dbi:SQLite:dbname=$Db", '', '',
                               {RaiseError => 1, PrintError => 0});
        $rows = eval { $dbh->selectall_arrayref(
            "SELECT id, version, doc FROM woportal_entries"
            . " WHERE prefix = ? AND doc <> '' ORDER BY id", undef, $Prefix) };
        $dbh->disconnect;
        $rows //= [];
    }
    for my $r (@$rows) {
        my $d = eval { $J->decode($r->[2]) };
        splice @$r, 2, 0, ref $d eq 'HASH' ? $d->{status} // '' : '';
    }
    return $rows;
}

# a child holding the database's write lock for $secs seconds (readers
# go on)
sub lock_db {
    my $secs = shift;
    my $flag = "$DbDir/locked-" . ($Db =~ s{.*/}{}r);
    my ($pid, $taken) = $Backend eq 'postgresql'
        ? WoportalFaults::lock_child($flag, sub {
              exec "$PgBin/psql", '-q', '-X', '-h', '127.0.0.1', '-p', $PgPort,
                   '-U', 'postgres', '-d', $Db,
                   '-c', 'BEGIN; LOCK TABLE woportal_entries IN EXCLUSIVE MODE;',
                   '-c', "\\! touch $flag",
                   '-c', "SELECT pg_sleep($secs); ROLLBACK;"
                  or POSIX::_exit(1);
          })
        : WoportalFaults::lock_sqlite($Db, $secs, $flag);
    push @InitProblems, 'the lock was not taken' unless $taken;
    # "local $?": upstream Test::Nginx runs cleanup handlers in its END
    # block, and a waitpid's -1 there would become the test's exit code
    Test::Nginx::Socket::add_cleanup_handler(sub {
        local $?;
        waitpid $pid, 0;
    });
}


# PostgreSQL ----------------------------------------------------------------

sub psql {
    my ($db, @args) = @_;
    local $ENV{PGOPTIONS} = '--client-min-messages=warning';
    open my $in, '-|', "$PgBin/psql", '-q', '-X', '-h', '127.0.0.1',
         '-p', $PgPort, '-U', 'postgres', '-d', $db, @args
        or die "psql: $!\n";
    local $/;
    my $out = <$in>;
    close $in;
    return $out // '';
}

# a cluster of this file's own, as the postgres user (initdb refuses root)
sub start_postgresql {
    ($PgBin) = grep { -x "$_/initdb" } glob '/usr/lib/postgresql/*/bin';
    unless ($PgBin) {
        die "PostgreSQL is missing (Debian: postgresql) and "
            . "WOPORTAL_REQUIRE_POSTGRESQL is set\n"
            if $ENV{WOPORTAL_REQUIRE_POSTGRESQL};
        Test::More::plan(skip_all => 'PostgreSQL is not installed '
                                     . '(Debian: postgresql)');
    }
    $PgPort = ($ENV{TEST_NGINX_MEMCACHED_PORT} // 21211) + 4000;
    my $dir = File::Temp::tempdir('t09x-pg-XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
    my @as = $> == 0 ? ('runuser', '-u', 'postgres', '--') : ();
    if ($> == 0) {
        my (undef, undef, $uid, $gid) = getpwnam 'postgres'
            or die "no postgres user\n";
        chown $uid, $gid, $dir;
    }
    system(@as, "$PgBin/initdb", '-D', "$dir/data", '-A', 'trust',
           '-U', 'postgres', '-E', 'UTF8', '--no-sync') == 0
        or die "initdb failed\n";
    system(@as, "$PgBin/pg_ctl", '-D', "$dir/data", '-l', "$dir/log", '-w',
           '-o', "-p $PgPort -k $dir -c listen_addresses=127.0.0.1"
                 . " -c fsync=off", 'start') == 0
        or die "pg_ctl start failed: " . `cat $dir/log` . "\n";
    Test::Nginx::Socket::add_cleanup_handler(sub {
        local $?;
        system(@as, "$PgBin/pg_ctl", '-D', "$dir/data", '-m', 'fast', '-w',
               'stop');
    });
}

sub make_database {
    my $db = shift;
    psql('postgres', '-c', "DROP DATABASE IF EXISTS $db");
    psql('postgres', '-c', "CREATE DATABASE $db");
}


# waits up to $secs seconds for the database to hold $n live rows (and the
# versions given by label); a problem otherwise
sub wait_rows {
    my ($n, $secs, %version) = @_;
    my $deadline = Time::HiRes::time() + $secs;
    my $rows;
    while (1) {
        $rows = db_rows();
        my %v = map { $_->[0] => $_->[1] } @$rows;
        my $ok = @$rows == $n;
        for my $l (keys %version) {
            $ok = 0 unless ($v{$Id{$l} // ''} // 0) == $version{$l};
        }
        return if $ok;
        last if Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.05);
    }
    push @InitProblems, "the database holds " . scalar(@$rows)
                        . " rows, expected $n";
}

sub problems_first { @InitProblems ? ("init: " . join '; ', @InitProblems) : () }

# data is the same JSON value as the entry served under $label before
sub same_as {
    my $label = shift;
    return sub {
        my $data = shift;
        my @p = problems_first();
        push @p, "served " . $J->encode($data) . ", expected "
                 . $J->encode($Served{$label} // {})
            if $J->encode($data) ne $J->encode($Served{$label} // {});
        return @p;
    };
}

# the list's ids, in order, by label
sub list_is {
    my ($want, $total) = @_;
    return sub {
        my ($data, $body) = @_;
        my @p = problems_first();
        my %label = reverse %Id;
        my $got = join ' ', map { $label{$_->{_id}} // $_->{_id} } @$data;
        push @p, "listed [$got], expected [$want]" if $got ne $want;
        my $doc = eval { $J->decode($body) } // {};
        push @p, "total $doc->{paging}{total}, expected $total"
            if ($doc->{paging}{total} // -1) != $total;
        for my $e (@$data) {
            my $l = $label{$e->{_id}} // next;
            push @p, "$l listed as " . $J->encode($e) . ", served as "
                     . $J->encode($Served{$l})
                if $Served{$l} && $J->encode($e) ne $J->encode($Served{$l});
        }
        return @p;
    };
}


1;
