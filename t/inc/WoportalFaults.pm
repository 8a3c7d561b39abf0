package WoportalFaults;

# Helpers of the fault tests (t/160-* and up): servers of their own that a
# test can kill, stop and start again, clients that run in parallel, and
# raw access to memcached.
#
#   use lib 't/inc';
#   use WoportalFaults;
#
# Every server started here is a direct child of the test (no -d, no
# daemon): it is stopped by its pid and reaped, at the latest by the END
# block below, also when the test dies.  Ports are derived from the
# suite's: memcached $TEST_NGINX_MEMCACHED_PORT + 100 and up, PostgreSQL
# $TEST_NGINX_MEMCACHED_PORT + 4100 and up, a second nginx
# $TEST_NGINX_SERVER_PORT + 1 and up, so that runs with other ports never
# meet.
#
# Forked clients leave with POSIX::_exit: the END blocks (the harness
# stops nginx in its own) belong to the test process.

use strict;
use warnings;

use Exporter 'import';
use File::Path ();
use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

our @EXPORT = qw(mc_port pg_port nginx_port start_memcached
                 stop_memcached mc_raw mc_gets mc_append http_req
                 run_clients read_lines fresh_prefix);
our @EXPORT_OK = qw(api create_entry holders);

our $J = JSON::PP->new->utf8->canonical;

our %Children;    # pid => what, of the servers running
our $Parent = $$;

$ENV{TEST_NGINX_MEMCACHED_PORT} //= 21211;
$ENV{TEST_NGINX_SERVER_PORT} //= 1984;

sub mc_port    { $ENV{TEST_NGINX_MEMCACHED_PORT} + 100 + ($_[0] // 0) }
sub pg_port    { $ENV{TEST_NGINX_MEMCACHED_PORT} + 4100 + ($_[0] // 0) }
sub nginx_port { $ENV{TEST_NGINX_SERVER_PORT} + ($_[0] // 0) }

# a key prefix no other run shares
sub fresh_prefix {
    my $tag = shift;
    return "$tag-$$-" . int(Time::HiRes::time() * 1000) % 100000000 . ':';
}

sub listening {
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 1);
    return $s ? 1 : 0;
}

sub spawn {
    my ($what, @cmd) = @_;
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        POSIX::setpgid(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        # memcached's complaints about connections its clients gave up
        open STDERR, '>', '/dev/null' if $what =~ /^memcached/;
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        POSIX::_exit(127);
    }
    $Children{$pid} = $what;
    return $pid;
}

# stops a child of ours (TERM, then KILL) and reaps it: its wait status
sub reap {
    my ($pid, $sig) = @_;
    return undef unless $pid && $Children{$pid};
    kill $sig // 'TERM', $pid;
    kill 'CONT', $pid;    # a stopped process would not act on TERM
    my $deadline = Time::HiRes::time() + 10;
    while (Time::HiRes::time() < $deadline) {
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            delete $Children{$pid};
            return $?;
        }
        Time::HiRes::sleep(0.01);
    }
    kill 'KILL', $pid;
    waitpid $pid, 0;
    delete $Children{$pid};
    return $?;
}


# memcached -----------------------------------------------------------------

# a memcached on $port, in the foreground as our child: its pid; the port
# must be free and it must answer within 5 s
sub start_memcached {
    my ($port, @extra) = @_;
    die "port $port is taken\n" if listening($port);
    my $pid = spawn("memcached:$port", 'memcached', '-l', '127.0.0.1',
                    '-p', $port, '-U', '0', '-u', 'root', '-m', '64',
                    @extra);
    for (1 .. 500) {
        return $pid if listening($port);
        die "memcached on $port exited\n"
            if waitpid($pid, POSIX::WNOHANG()) == $pid
               && delete $Children{$pid};
        Time::HiRes::sleep(0.01);
    }
    reap($pid, 'KILL');
    die "memcached did not start on $port\n";
}

# KILL (a crash) or TERM; then the port is free again
sub stop_memcached {
    my ($pid, $sig) = @_;
    my ($port) = ($Children{$pid} // '') =~ /:(\d+)$/;
    reap($pid, $sig // 'TERM');
    return unless $port;
    for (1 .. 500) {
        last unless listening($port);
        Time::HiRes::sleep(0.01);
    }
}

sub mc_conn {
    my $port = shift;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => 3)
        or die "memcached on $port: $!\n";
    binmode $s;
    return $s;
}

# one text-protocol command; the first line of the reply
sub mc_raw {
    my ($port, $cmd) = @_;
    my $s = mc_conn($port);
    print $s $cmd;
    my $reply = <$s> // '';
    close $s;
    return $reply;
}

# (value, flags, cas) of a key, or () when it is missing
sub mc_gets {
    my ($port, $key) = @_;
    my $s = mc_conn($port);
    print $s "gets $key\r\n";
    my $line = <$s> // '';
    return () unless $line =~ /^VALUE \S+ (\d+) (\d+) (\d+)/;
    my ($flags, $len, $cas) = ($1, $2, $3);
    my $value = '';
    read $s, $value, $len;
    close $s;
    return ($value, $flags, $cas);
}

# the ports among @ports of the servers that hold $key
sub holders {
    my $key = shift;
    return grep { my @v = mc_gets($_, $key); @v } @_;
}

sub mc_set {
    my ($port, $key, $value, $flags) = @_;
    return mc_raw($port, "set $key " . ($flags // 0) . " 0 " . length($value)
                         . "\r\n$value\r\n");
}

sub mc_append {
    my ($port, $key, $value) = @_;
    return mc_raw($port, "append $key 0 0 " . length($value)
                         . "\r\n$value\r\n");
}


# nginx ---------------------------------------------------------------------

# an nginx of our own (master and workers) serving $http_body inside
# http {}: (pid, its directory); "daemon off", so it stays our child
sub start_nginx {
    my (%o) = @_;
    my $dir = File::Temp::tempdir('woportal-faults-XXXXXX', TMPDIR => 1,
                                  CLEANUP => !$ENV{WOPORTAL_KEEP_LOGS});
    my $main = $o{main} // '';
    mkdir "$dir/$_" for qw(logs conf);
    my $user = $> == 0 ? "user root;\n" : '';
    my $workers = $o{workers} // 2;
    open my $out, '>', "$dir/conf/nginx.conf" or die "$dir: $!\n";
    print $out <<"_EOC_";
daemon off;
master_process on;
worker_processes $workers;
error_log $dir/logs/error.log ${\ ($o{log_level} // 'info')};
pid $dir/logs/nginx.pid;
$user
$main
events {
    worker_connections 256;
}

http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/client_body_temp;
    proxy_temp_path $dir/proxy_temp;
    fastcgi_temp_path $dir/fastcgi_temp;
    uwsgi_temp_path $dir/uwsgi_temp;
    scgi_temp_path $dir/scgi_temp;

$o{http}
}
_EOC_
    close $out;
    my $bin = $ENV{TEST_NGINX_BINARY} // 'nginx';
    my $pid = spawn("nginx:$dir", $bin, '-p', "$dir/", '-c',
                    "$dir/conf/nginx.conf");
    for (1 .. 1000) {
        return ($pid, $dir) if -s "$dir/logs/nginx.pid";
        if (waitpid($pid, POSIX::WNOHANG()) == $pid) {
            delete $Children{$pid};
            die "nginx exited at start:\n" . join '',
                read_lines("$dir/logs/error.log");
        }
        Time::HiRes::sleep(0.01);
    }
    reap($pid, 'KILL');
    die "nginx did not start\n";
}

# QUIT (a graceful stop): its wait status
sub stop_nginx {
    my $pid = shift;
    return reap($pid, 'QUIT');
}

sub read_lines {
    my $file = shift;
    open my $in, '<', $file or return ();
    my @lines = <$in>;
    close $in;
    return @lines;
}


# locks -----------------------------------------------------------------------

# a child running $hold, which touches $flag once it holds its lock and
# returns when it lets it go (or execs a program that does): its pid, and
# whether $flag appeared within 3 s.  The caller kills or reaps the child.
sub lock_child {
    my ($flag, $hold) = @_;
    unlink $flag;
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        # no END blocks here: they belong to the test process
        my $ok = eval { $hold->(); 1 };
        print STDERR "lock holder: $@" unless $ok;
        POSIX::_exit($ok ? 0 : 1);
    }
    for (1 .. 300) {
        last if -e $flag;
        Time::HiRes::sleep(0.01);
    }
    return ($pid, -e $flag ? 1 : 0);
}

# a child holding the write lock of the SQLite database $file (readers go
# on) for $secs seconds, as lock_child; $flag is "$file.locked" unless
# given
sub lock_sqlite {
    my ($file, $secs, $flag) = @_;
    $flag //= "$file.locked";
    return lock_child($flag, sub {
        require DBI;
        my $dbh = DBI->connect("dbi:SQLite:dbname=$file", '', '',
                               {RaiseError => 1, PrintError => 0});
        $dbh->do('BEGIN EXCLUSIVE');
        open my $out, '>', $flag;
        close $out;
        Time::HiRes::sleep($secs);
        $dbh->do('ROLLBACK');
    });
}


# PostgreSQL ------------------------------------------------------------------

our (%PgClusters, $PgBin);

# A private cluster on $port (initdb as the postgres user, which initdb
# requires, like t/inc/WoportalPersist.pm): its data directory, or undef
# when PostgreSQL is not installed (a skip, unless
# WOPORTAL_REQUIRE_POSTGRESQL is set: then it dies).  Stopped at the end.
sub start_postgresql {
    my $port = shift;
    ($PgBin) = grep { -x "$_/initdb" } glob '/usr/lib/postgresql/*/bin';
    unless ($PgBin) {
        die "PostgreSQL is missing (Debian: postgresql) and "
            . "WOPORTAL_REQUIRE_POSTGRESQL is set\n"
            if $ENV{WOPORTAL_REQUIRE_POSTGRESQL};
        return undef;
    }
    my $dir = File::Temp::tempdir('woportal-pg-XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
    if ($> == 0) {
        my (undef, undef, $uid, $gid) = getpwnam 'postgres'
            or die "no postgres user\n";
        chown $uid, $gid, $dir;
    }
    as_postgres("$PgBin/initdb", '-D', "$dir/data", '-A', 'trust',
                '-U', 'postgres', '-E', 'UTF8', '--no-sync') == 0
        or die "initdb failed\n";
    $PgClusters{$dir} = $port;
    pg_ctl($dir, 'start') or die "pg_ctl start failed: "
                                 . join('', read_lines("$dir/log")) . "\n";
    return $dir;
}

sub as_postgres {
    my @cmd = @_;
    unshift @cmd, 'runuser', '-u', 'postgres', '--' if $> == 0;
    open my $null, '>', '/dev/null';
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        open STDOUT, '>&', $null;
        exec @cmd or POSIX::_exit(127);
    }
    waitpid $pid, 0;
    return $?;
}

# start, or stop ("immediate": the server is gone at once, as in a crash)
sub pg_ctl {
    my ($dir, $what) = @_;
    my $port = $PgClusters{$dir};
    if ($what eq 'start') {
        return as_postgres("$PgBin/pg_ctl", '-D', "$dir/data", '-l',
                           "$dir/log", '-w', '-t', '60', '-o',
                           "-p $port -k $dir -c listen_addresses=127.0.0.1"
                           . " -c fsync=off", 'start') == 0;
    }
    return as_postgres("$PgBin/pg_ctl", '-D', "$dir/data", '-m',
                       'immediate', '-w', 'stop') == 0;
}

# psql on the cluster: its output
sub psql {
    my ($port, $db, @args) = @_;
    local $ENV{PGOPTIONS} = '--client-min-messages=warning';
    open my $in, '-|', "$PgBin/psql", '-q', '-X', '-h', '127.0.0.1',
         '-p', $port, '-U', 'postgres', '-d', $db, @args
        or die "psql: $!\n";
    local $/;
    my $out = <$in>;
    close $in;
    return $out // '';
}


# HTTP ------------------------------------------------------------------------

# One request on a fresh connection (Connection: close): (status, body,
# seconds); status 0 when no answer came within $o{timeout} (20 s).
# $o{head}, a reference to a scalar, receives the answer's head (status
# line and headers).
sub http_req {
    my ($port, $method, $path, $body, %o) = @_;
    my $t0 = Time::HiRes::time();
    my $timeout = $o{timeout} // 20;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
                                  Proto => 'tcp', Timeout => $timeout)
        or return (0, "cannot connect: $!", Time::HiRes::time() - $t0);
    binmode $s;
    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n"
              . "Connection: close\r\n";
    $req .= "X-API-Key: " . ($o{key} // 'test-key') . "\r\n";
    $req .= "$_: $o{headers}{$_}\r\n" for sort keys %{ $o{headers} // {} };
    if (defined $body) {
        $req .= "Content-Type: application/json\r\n"
                . "Content-Length: " . length($body) . "\r\n";
    }
    $req .= "\r\n" . ($body // '');
    syswrite $s, $req;
    my $resp = '';
    my $sel = IO::Select->new($s);
    my $deadline = $t0 + $timeout;
    while ((my $left = $deadline - Time::HiRes::time()) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread $s, my $buf, 65536;
        last unless $n;
        $resp .= $buf;
    }
    close $s;
    my $secs = Time::HiRes::time() - $t0;
    my ($head, $rbody) = split /\r\n\r\n/, $resp, 2;
    my ($status) = ($head // '') =~ m{\AHTTP/1\.[01] (\d{3})};
    ${ $o{head} } = $head // '' if $o{head};
    return ($status // 0, $rbody // '', $secs);
}

# A request to the suite's nginx (nginx_port()) with $body, Perl data, as
# its JSON body: (status, body, seconds, the body decoded or undef)
sub api {
    my ($method, $path, $body) = @_;
    my ($st, $b, $secs) = http_req(nginx_port(), $method, $path,
                                   defined $body ? $J->encode($body) : undef);
    return ($st, $b, $secs, jdecode($b));
}

# An entry created at $base (POST) with workorder $tag: (status, body,
# seconds, its _id or undef)
sub create_entry {
    my ($base, $tag) = @_;
    my ($st, $b, $secs, $d) = api(POST => $base,
                                  {workorder => $tag, client => 'c'});
    return ($st, $b, $secs,
            $st == 201 && $d && ref $d->{data} eq 'HASH'
            ? $d->{data}{_id} : undef);
}

# The offset just past the JSON value that starts at $pos of $text (after
# white space), or undef when none does; strings are skipped whole, so
# brackets inside them do not count.
sub json_end {
    my ($text, $pos) = @_;
    my $depth = 0;
    pos($text) = $pos;
    while (1) {
        if ($text =~ /\G\s*"(?:[^"\\]++|\\.)*+"/gcs
            || $depth && $text =~ /\G\s*[,:]/gc
            || $text =~ /\G\s*[^\s"\[\]{},:]+/gc)
        {
        } elsif ($text =~ /\G\s*[\[{]/gc) {
            $depth++;
        } elsif ($depth && $text =~ /\G\s*[\]}]/gc) {
            $depth--;
        } else {
            return undef;
        }
        return pos($text) unless $depth;
    }
}

# The text of "data" in an answer {"success":true,"data":...} exactly as
# served (an entry, or a list's array), or undef
sub raw_data {
    my $body = shift // '';
    my $head = '{"success":true,"data":';
    return undef unless substr($body, 0, length $head) eq $head;
    my $end = json_end($body, length $head);
    return defined $end ? substr($body, length $head, $end - length $head)
                        : undef;
}

# The texts of the elements of a JSON array, exactly as written, or ()
# when $text is not an array
sub raw_items {
    my $text = shift // '';
    return () unless $text =~ /\A\s*\[\s*/g;
    my $pos = pos $text;
    my @items;
    return () if $text =~ /\G\]/gc;
    while (defined(my $end = json_end($text, $pos))) {
        (my $item = substr($text, $pos, $end - $pos)) =~ s/\A\s+//;
        push @items, $item;
        pos($text) = $end;
        return @items if $text =~ /\G\s*\]\s*\z/gc;
        return () unless $text =~ /\G\s*,/gc;
        $pos = pos $text;
    }
    return ();
}

sub jdecode {
    my $d = eval { $J->decode($_[0] // '') };
    return ref $d eq 'HASH' ? $d : undef;
}

# the error code of an error envelope, '' otherwise
sub api_error {
    my $d = jdecode(shift) or return '';
    return ref $d->{error} eq 'HASH' ? $d->{error}{code} // '' : '';
}


# clients ---------------------------------------------------------------------

# Runs $n clients in parallel, each $code->($i, $out) in a child of its
# own writing its lines to $out; waits for them all (at most $secs) and
# returns the lines of all of them, client by client.
sub run_clients {
    my ($n, $secs, $code) = @_;
    my $dir = File::Temp::tempdir('woportal-clients-XXXXXX', TMPDIR => 1,
                                  CLEANUP => 1);
    my @pids;
    for my $i (0 .. $n - 1) {
        my $pid = fork;
        die "fork: $!\n" unless defined $pid;
        if ($pid == 0) {
            my $ok = eval {
                open my $out, '>', "$dir/$i" or die "$dir/$i: $!\n";
                my $old = select $out;
                $| = 1;
                select $old;
                $code->($i, $out);
                close $out;
                1;
            };
            print STDERR "client $i: $@" unless $ok;
            POSIX::_exit($ok ? 0 : 1);
        }
        push @pids, $pid;
    }
    my $deadline = Time::HiRes::time() + $secs;
    my @lines;
    for my $i (0 .. $#pids) {
        while (waitpid($pids[$i], POSIX::WNOHANG()) != $pids[$i]) {
            if (Time::HiRes::time() > $deadline) {
                kill 'KILL', $pids[$i];
                waitpid $pids[$i], 0;
                push @lines, "client $i hung\n";
                last;
            }
            Time::HiRes::sleep(0.02);
        }
        push @lines, "client $i failed\n" if $? && $? != 9;
        push @lines, read_lines("$dir/$i");
    }
    # run_clients may run in a child that leaves by POSIX::_exit, which
    # File::Temp's cleanup would not see
    File::Path::remove_tree($dir);
    return @lines;
}


END {
    # the servers of this test, however it ends; not in forked clients
    if ($$ == $Parent) {
        local $?;
        reap($_, $Children{$_} =~ /^nginx/ ? 'QUIT' : 'TERM')
            for keys %Children;
        for my $dir (keys %PgClusters) {
            as_postgres("$PgBin/pg_ctl", '-D', "$dir/data", '-m', 'fast',
                        '-w', 'stop')
                if -e "$dir/data/postmaster.pid";
        }
    }
}

1;
