# make run and make stop (util/run.sh) with the example configuration,
# conf/woportal.conf: memcached does not run as root; loopback is not
# limited by its limit_req (200 r/s, burst 400 an address), while another
# address is; make stop returns when nginx and memcached are gone and
# their ports free, so that make run right after answers its first
# request (a memcached still shutting down answered it 503).
#
# A scripted test (Test::More): util/run.sh on the suite's server port and
# memcached port + 190, from run/<port>/, stopped and removed when it ends.

use strict;
use warnings;

use lib 't/inc';
use File::Path ();
use IO::Socket::INET ();
use Test::More;
use WoportalFaults;

my $Port = nginx_port(0);
my $McPort = mc_port(90);
my $Base = '/api/v1/workorder-portal';
my $Key = 'dev-key-change-me';
my $Dir = "run/$Port";

local $ENV{PORT} = $Port;
local $ENV{MEMCACHED_PORT} = $McPort;
local $ENV{MEMCACHED_MB} = 64;
delete local $ENV{API_KEY};
delete local $ENV{KEYS_FILE};

die "run/$Port exists: another make run on port $Port?\n" if -e $Dir;
die "port $McPort is taken\n" if WoportalFaults::listening($McPort);

sub run_sh {
    my $out = `util/run.sh @_ 2>&1`;
    return ($? >> 8, $out);
}

END {
    local $?;
    run_sh('stop');
    File::Path::rmtree($Dir);
}

sub pid_of {
    open my $in, '<', shift or return 0;
    my $pid = <$in> // '';
    return $pid =~ /^(\d+)/ ? $1 : 0;
}

# $n requests on one keep-alive connection from $addr: the statuses
sub burst {
    my ($addr, $n) = @_;
    my $s = IO::Socket::INET->new(LocalAddr => $addr, PeerAddr => '127.0.0.1',
                                  PeerPort => $Port, Proto => 'tcp',
                                  Timeout => 5)
        or return "cannot connect from $addr: $!";
    binmode $s;
    my @status;
    for (1 .. $n) {
        print $s "GET $Base/0123456789abcdef01234567 HTTP/1.1\r\n"
                 . "Host: localhost\r\nX-API-Key: $Key\r\n\r\n";
        my ($head, $line) = ('', '');
        while (defined($line = <$s>)) {
            last if $line eq "\r\n";
            $head .= $line;
        }
        last unless $head =~ m{^HTTP/1\.1 (\d{3})};
        push @status, $1;
        my ($len) = $head =~ /^Content-Length: (\d+)/mi;
        read $s, my $body, $len if $len;
        last if $head =~ /^Connection: close/mi;
    }
    return @status;
}

my $nginx = $ENV{TEST_NGINX_BINARY};
my ($rc, $out) = run_sh('start', $nginx);
is($rc, 0, 'make run starts') or diag($out);

my $mc = pid_of("$Dir/memcached/memcached.pid");
my $user = `ps -o user= -p $mc`;
$user =~ s/\s+//g;
ok($mc && $user ne '' && $user ne 'root',
   "its memcached does not run as root (pid $mc, user $user)");

my @st = burst('127.0.0.1', 900);
is(scalar(@st), 900, '900 requests from 127.0.0.1 at once');
is(scalar(grep { $_ eq '429' } @st), 0, '... none limited: loopback is exempt');
is(scalar(grep { $_ ne '404' } @st), 0, '... all answered (404: no such entry)');

@st = burst('127.0.0.2', 900);
ok((grep { $_ eq '429' } @st),
   'from 127.0.0.2 the limit holds: ' . scalar(grep { $_ eq '429' } @st)
   . ' of ' . scalar(@st) . ' answered 429');

my $ngx = pid_of("$Dir/logs/nginx.pid");
($rc, $out) = run_sh('stop');
is($rc, 0, 'make stop') or diag($out);
ok(!kill(0, $ngx) || `ps -o stat= -p $ngx` =~ /^Z/,
   '... nginx is gone when it returns');
ok(!kill(0, $mc) || `ps -o stat= -p $mc` =~ /^Z/, '... so is memcached');
ok(!WoportalFaults::listening($Port) && !WoportalFaults::listening($McPort),
   '... and their ports are free');

# three rounds of make run; POST; make stop
for my $round (1 .. 3) {
    ($rc, $out) = run_sh('start', $nginx);
    my ($status, $body) = http_req($Port, 'POST', $Base,
                                   '{"workorder":"507f1f77bcf86cd799439012",'
                                   . '"client":"507f1f77bcf86cd799439013"}',
                                   key => $Key);
    is($status, 201, "round $round: the first request after make run is "
                     . 'answered') or diag($out, $body);
    ($rc, $out) = run_sh('stop');
    is($rc, 0, "round $round: make stop") or diag($out);
}

done_testing();
