use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalFaults;
no_shuffle();

# nginx -s reload (SIGHUP to the master) three times while 4 clients
# hammer GET /{id} and POST / on keepalive connections: new workers take
# over, the old ones finish what they have and leave.  No request fails.
#
# What counts as failed, and what is the client's part: a request that
# got a non-2xx answer, an answer cut short, or no answer on a fresh
# connection, fails.  A reused keepalive connection that the old worker
# closed while idle (EOF or reset before a single byte of the answer) is
# the case HTTP/1.1 leaves to the client (RFC 9112, 9.3.1: a client may
# retry a request when the connection closed before any of the response
# was received; browsers and curl do it): the request was never read, so
# it is sent again on a new connection and counted as a retry.  That this
# is fair is checked: every create answered 201 is listed, and nothing
# else, so no retried POST was carried out twice, nor lost.  An answer
# with "Connection: close" (an old worker finishing its requests) is
# followed by a new connection, as HTTP/1.1 wants.

use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes ();

master_on();
workers(2);

$ENV{TEST_NGINX_PREFIX} = fresh_prefix('t164');

our $Base = '/api/v1/workorder-portal';
our $J = $WoportalFaults::J;
our (@Problems, $Id);

# a keepalive connection, and requests on it
sub connect_ka {
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                 PeerPort => nginx_port(), Proto => 'tcp',
                                 Timeout => 10);
}

# one request on $s: (status, body, close) or (undef, why, $got_any)
sub ka_request {
    my ($s, $method, $path, $body) = @_;
    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\nX-API-Key: test-key\r\n";
    $req .= "Content-Type: application/json\r\nContent-Length: " . length($body)
            . "\r\n" if defined $body;
    $req .= "\r\n" . ($body // '');
    local $SIG{PIPE} = 'IGNORE';
    my $n = syswrite $s, $req;
    return (undef, "write: $!", 0) unless defined $n && $n == length $req;
    my $buf = '';
    my $sel = IO::Select->new($s);
    my $deadline = Time::HiRes::time() + 20;
    my ($head, $len, $status, $close);
    while (1) {
        my $left = $deadline - Time::HiRes::time();
        return (undef, 'timeout', length $buf) if $left <= 0 || !$sel->can_read($left);
        my $r = sysread $s, $buf, 65536, length $buf;
        return (undef, $r ? '' : defined $r ? 'eof' : "read: $!", length $buf)
            unless $r;
        if (!defined $head && $buf =~ /\r\n\r\n/) {
            ($head, $buf) = split /\r\n\r\n/, $buf, 2;
            ($status) = $head =~ m{\AHTTP/1\.1 (\d{3})};
            ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
            $close = $head =~ /^Connection:\s*close/mi;
            return (undef, "no Content-Length: $head", 1) unless defined $len;
        }
        return ($status, substr($buf, 0, $len), $close)
            if defined $head && length $buf >= $len;
    }
}

# client $c until $until: GET of the seeded entry and POST, alternately;
# lines "<op> <status> <id>", "retry <op> <why>", "failed <op> <why>"
sub client {
    my ($c, $out, $until) = @_;
    my $s = connect_ka();
    my $used = 0;
    my $k = 0;
    while (Time::HiRes::time() < $until) {
        my @req = $k++ % 2
            ? (POST => $Base, $J->encode({workorder => "w-$c-$k", client => 'c'}))
            : (GET => "$Base/$Id");
        my ($st, $b, $x);
        for my $attempt (1 .. 3) {
            ($s, $used) = (connect_ka(), 0) unless $s;
            if (!$s) {
                print $out "failed $req[0] connect: $!\n";
                last;
            }
            ($st, $b, $x) = ka_request($s, @req);
            $used++;
            last if defined $st;
            close $s;
            undef $s;
            if ($used > 1 && !$x) {
                # an idle keepalive connection closed under the request
                print $out "retry $req[0] $b\n";
                next;
            }
            print $out "failed $req[0] $b after $x bytes\n";
            last;
        }
        next unless defined $st;
        my $d = WoportalFaults::jdecode($b);
        my $id = $d && ref $d->{data} eq 'HASH' ? $d->{data}{_id} : '-';
        print $out "$req[0] $st $id\n";
        if ($x) {
            close $s;
            undef $s;
        }
    }
}

# the master's pid, from the pid file nginx writes under the server root
sub master_pid {
    my $file = "$ENV{TEST_NGINX_SERVER_ROOT}/logs/nginx.pid";
    open my $in, '<', $file or die "$file: $!\n";
    my $pid = <$in>;
    close $in;
    chomp $pid;
    return $pid;
}

sub scenario {
    my ($st, $b) = WoportalFaults::http_req(nginx_port(), POST => $Base,
                       $J->encode({workorder => 'seed', client => 'c'}));
    my $d = WoportalFaults::jdecode($b);
    push @Problems, "seed: $st $b" unless $st == 201 && $d;
    $Id = $d ? $d->{data}{_id} : 'none';

    my $until = Time::HiRes::time() + 6;
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    my $file = "$ENV{TEST_NGINX_SERVER_ROOT}/html/reload.txt";
    if ($pid == 0) {
        my @lines = run_clients(4, 60, sub { client(@_, $until) });
        open my $out, '>', $file or POSIX::_exit(1);
        print $out @lines;
        close $out;
        POSIX::_exit(0);
    }
    for (1 .. 3) {
        Time::HiRes::sleep(1.2);
        kill 'HUP', master_pid();
    }
    waitpid $pid, 0;

    my (%n, %created);
    for (WoportalFaults::read_lines($file)) {
        my ($what, $st, $id) = split ' ';
        if ($what eq 'retry') {
            $n{retry}++;
            next;
        }
        if ($what eq 'failed' || $what eq 'client' || $st !~ /^2\d\d$/) {
            chomp;
            push @Problems, $_;
            next;
        }
        $n{"$what $st"}++;
        $created{$id} = 1 if $what eq 'POST';
    }
    Test::More::note('answers: ' . join ', ', map { "$_: $n{$_}" } sort keys %n);
    push @Problems, "too few requests" unless ($n{'GET 200'} // 0) > 50
                                              && ($n{'POST 201'} // 0) > 50;

    # exactly the entries answered 201, and the seed, are listed
    my %listed;
    for my $page (1 .. 1000) {
        my ($st, $b) = WoportalFaults::http_req(nginx_port(), GET =>
                           "$Base?per_page=100&sort=_id&page=$page");
        my $d = WoportalFaults::jdecode($b);
        push @Problems, "list: $st $b" and last unless $st == 200 && $d;
        last unless @{ $d->{data} };
        $listed{$_->{_id}}++ for @{ $d->{data} };
    }
    delete $listed{$Id};
    my @extra = grep { !$created{$_} || $listed{$_} > 1 } sort keys %listed;
    my @missing = grep { !$listed{$_} } sort keys %created;
    push @Problems, "listed but not answered 201, or twice: @extra" if @extra;
    push @Problems, "answered 201 but not listed: @missing" if @missing;

    my @log = WoportalFaults::read_lines("$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log");
    my $reloads = grep { /signal 1 \(SIGHUP\) received/ } @log;
    push @Problems, "$reloads reloads in the log, expected 3" if $reloads != 3;
}

run_tests();

__DATA__

=== TEST 1: three reloads while 4 keepalive clients GET and POST: no request fails, no create is lost or made twice
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix $TEST_NGINX_PREFIX;
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
