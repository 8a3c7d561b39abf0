# The dynamic module (make dynamic: build/dynamic/ngx_http_woportal_module.so,
# built against Debian's nginx-dev) loads into Debian's packaged
# /usr/sbin/nginx, its own configuration checks run there, and the API
# works through it (create, then read, against $TEST_NGINX_MEMCACHED_PORT).
#
# Without the .so or /usr/sbin/nginx the file is skipped, unless
# WOPORTAL_REQUIRE_DYNAMIC is set (as in CI): then that is a failure.

use strict;
use warnings;

use Test::More;
use Cwd ();
use File::Temp qw(tempdir);
use FindBin ();
use HTTP::Tiny ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);

my $top   = Cwd::abs_path("$FindBin::Bin/..");
my $so    = "$top/build/dynamic/ngx_http_woportal_module.so";
my $nginx = '/usr/sbin/nginx';
my $require = $ENV{WOPORTAL_REQUIRE_DYNAMIC};

my $port    = $ENV{TEST_NGINX_SERVER_PORT} || 1984;
my $mc_port = $ENV{TEST_NGINX_MEMCACHED_PORT} || 21211;

my @missing;
push @missing, "$so (run make dynamic)" unless -f $so;
push @missing, "$nginx (Debian package nginx)" unless -x $nginx;

if (@missing) {
    my $what = 'missing: ' . join(', ', @missing);
    if ($require) {
        plan tests => 1;
        fail("WOPORTAL_REQUIRE_DYNAMIC is set, but $what");
        exit;
    }
    plan skip_all => $what;
}

my $tmp = tempdir('woportal-dynamic-XXXXXX', TMPDIR => 1, CLEANUP => 1);

my $temp_paths = join '', map { "    ${_}_temp_path $tmp/${_}_temp;\n" }
                          qw(client_body proxy fastcgi uwsgi scgi);

# Runs /usr/sbin/nginx with @args; returns (exit code, stdout + stderr).
sub run_nginx {
    my @args = @_;
    my $pid = open(my $fh, '-|');
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        open STDERR, '>&', \*STDOUT;
        { no warnings 'exec'; exec $nginx, @args; }
        print "exec $nginx failed: $!\n";
        POSIX::_exit(127);
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    return ($? >> 8, $out);
}

sub write_conf {
    my ($name, $text) = @_;
    my $path = "$tmp/$name";
    open my $out, '>', $path or die "$path: $!\n";
    print $out $text;
    close $out;
    return $path;
}

# `nginx -t` of a configuration with the module loaded and one location
sub test_conf {
    my (%o) = @_;
    my $load = $o{load} // 1;
    my $memcached = $o{memcached}
        // "--SERVER=127.0.0.1:$mc_port --BINARY-PROTOCOL";
    my $conf = write_conf("test-$o{name}.conf", <<"_EOC_");
@{[ $load ? "load_module $so;" : '' ]}
events {}
http {
$temp_paths
    server {
        listen 127.0.0.1:$port;
        location /api {
            woportal;
            woportal_memcached "$memcached";
            woportal_api_key k;
        }
    }
}
_EOC_
    return run_nginx('-t', '-q', '-p', "$tmp/", '-c', $conf, '-e', 'stderr',
                     '-g', 'error_log stderr; pid /dev/null;');
}


# --- the module loads, and its own checks run --------------------------

{
    my ($rc, $out) = test_conf(name => 'good');
    is($rc, 0, "Debian's nginx -t accepts a woportal location with "
               . "load_module $so") or diag($out);
    unlike($out, qr/\[(?:emerg|alert|crit)\]/, '... without complaints')
        or diag($out);
}

{
    my ($rc, $out) = test_conf(name => 'unloaded', load => 0);
    isnt($rc, 0, 'without load_module the woportal directives are unknown');
    like($out, qr/unknown directive "woportal"/,
         '... (so they do come from the .so)') or diag($out);
}

{
    my ($rc, $out) = test_conf(name => 'bad-memcached',
                               memcached => '--SERVERX=127.0.0.1:1');
    isnt($rc, 0, 'a bad woportal_memcached is refused');
    like($out, qr/\[emerg\].*libmemcached/,
         "... by the module's own check (it asks libmemcached)")
        or diag($out);
}


# --- the API served by Debian's nginx with the module -------------------

my $mc = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $mc_port,
                               Proto => 'tcp', Timeout => 2);
if (!$mc) {
    my $why = "no memcached on 127.0.0.1:$mc_port (run through util/test.sh)";
    if ($require) {
        fail("WOPORTAL_REQUIRE_DYNAMIC is set, but $why");
    } else {
        diag("skipping the live check: $why");
    }
    done_testing();
    exit;
}
close $mc;

my $NginxPid;

END {
    local $?;
    stop_nginx() if $NginxPid;
}

sub stop_nginx {
    my $pid = $NginxPid or return;
    undef $NginxPid;

    kill 'TERM', $pid;
    my $deadline = time + 10;
    while (time < $deadline) {
        return $? if waitpid($pid, WNOHANG) == $pid;
        sleep 0.02;
    }

    kill 'KILL', -$pid;    # its process group: the master and its worker
    waitpid $pid, 0;
    return $?;
}

sub error_log {
    open my $in, '<', "$tmp/error.log" or return '';
    local $/;
    return <$in> // '';
}

my $user = $> == 0 ? "user root;\n" : '';
my $conf = write_conf('live.conf', <<"_EOC_");
load_module $so;

daemon off;
master_process on;
worker_processes 1;
error_log $tmp/error.log info;
pid $tmp/nginx.pid;
$user
events {
    worker_connections 64;
}

http {
    access_log $tmp/access.log;
$temp_paths
    server {
        listen 127.0.0.1:$port;

        location /api/v1/workorder-portal {
            woportal;
            woportal_memcached "--SERVER=127.0.0.1:$mc_port --BINARY-PROTOCOL";
            woportal_api_key dyn-key;
        }
    }
}
_EOC_

# the port must be free (a previous test's nginx may still be leaving):
# bind it the way nginx will
my $busy_until = time + 5;
while (1) {
    my $probe = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                      LocalPort => $port, Proto => 'tcp',
                                      ReuseAddr => 1, Listen => 1);
    if ($probe) {
        close $probe;
        last;
    }
    if (time > $busy_until) {
        fail("127.0.0.1:$port is taken by another process ($!): "
             . "set TEST_NGINX_SERVER_PORT");
        done_testing();
        exit;
    }
    sleep 0.1;
}

# Starts Debian's nginx with $conf as a direct child; true once it serves.
sub start_nginx {
    my $conf = shift;

    $NginxPid = fork;
    die "fork: $!\n" unless defined $NginxPid;

    if ($NginxPid == 0) {
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', "$tmp/stdout";
        open STDERR, '>', "$tmp/stderr";
        { no warnings 'exec'; exec $nginx, '-p', "$tmp/", '-c', $conf, '-e', "$tmp/error.log"; }
        POSIX::_exit(127);
    }

    unlink "$tmp/nginx.pid";
    my $deadline = time + 10;
    while (time < $deadline) {
        if (waitpid($NginxPid, WNOHANG) == $NginxPid) {
            undef $NginxPid;
            return 0;
        }
        return 1
            if -s "$tmp/nginx.pid"
               && IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                        PeerPort => $port, Proto => 'tcp',
                                        Timeout => 1);
        sleep 0.05;
    }
    return 0;
}

my $up = start_nginx($conf);

ok($up, "Debian's nginx with the .so serves on 127.0.0.1:$port")
    or diag("error.log:\n" . error_log());

if ($up) {
    my $http = HTTP::Tiny->new(timeout => 5);
    my $json = JSON::PP->new;
    my $url = "http://127.0.0.1:$port/api/v1/workorder-portal";

    my $res = $http->request('POST', $url, {
        headers => { 'X-API-Key' => 'dyn-key',
                     'Content-Type' => 'application/json' },
        content => '{"workorder":"507f1f77bcf86cd799439012",'
                   . '"client":"507f1f77bcf86cd799439013"}',
    });

    is($res->{status}, 201, 'POST creates an entry') or diag($res->{content});
    my $doc = eval { $json->decode($res->{content}) } // {};
    my $id = ref $doc->{data} eq 'HASH' ? $doc->{data}{_id} // '' : '';
    like($id, qr/^[0-9a-f]{24}$/, '... the answer carries the new _id');
    is($res->{headers}{location}, "/api/v1/workorder-portal/$id",
       '... and Location names it');

    $res = $http->request('GET', "$url/$id",
                          { headers => { 'X-API-Key' => 'dyn-key' } });
    is($res->{status}, 200, 'GET reads it back') or diag($res->{content});
    $doc = eval { $json->decode($res->{content}) } // {};
    is(ref $doc->{data} eq 'HASH' ? $doc->{data}{_id} : undef, $id,
       '... the same entry');
    is($res->{headers}{etag},
       defined $doc->{data}{version} ? qq{"$doc->{data}{version}"} : undef,
       '... with its version as the ETag');

    $res = $http->request('GET', "$url/$id");
    is($res->{status}, 401, 'without the key: 401');
}

my $status = stop_nginx();
is($status, 0, "Debian's nginx exits cleanly on TERM")
    if defined $status;

my $log = error_log();
unlike($log, qr/\[(?:emerg|alert|crit)\]/,
       'no [emerg], [alert] or [crit] in its error.log')
    or diag($log);

# Workers that used many pool threads exit cleanly: the memcached handles
# are freed by the worker, never by the exiting threads, which used to
# race nginx unloading the .so (a worker crashed on exit, about one in
# five).  Each round puts up to 48 requests in flight, then stops nginx.
my $busy = write_conf('busy.conf', do { open my $in, '<', $conf; local $/; <$in> }
                                =~ s/worker_processes 1;/worker_processes 2;/r);
truncate "$tmp/error.log", 0;

for my $round (1 .. 6) {
    start_nginx($busy) or last;
    my @socks;
    for (1 .. 48) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port, Proto => 'tcp')
            or next;
        print $s "GET /api/v1/workorder-portal/0123456789abcdef01234567 "
                 . "HTTP/1.1\r\nHost: x\r\nX-API-Key: dyn-key\r\n"
                 . "Connection: close\r\n\r\n";
        push @socks, $s;
    }
    for my $s (@socks) {
        local $/;
        my $reply = <$s>;
    }
    stop_nginx();
}

$log = error_log();
unlike($log, qr/exited on signal|\[(?:alert|crit|emerg)\]/,
       'busy workers exit cleanly, six rounds')
    or diag($log);

done_testing();
