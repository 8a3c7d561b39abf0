# The Debian package (make deb) installed into this system's nginx, the
# way an operator would: dpkg installs the module and enables it in
# /etc/nginx/modules-enabled; Debian's /usr/sbin/nginx, with a
# configuration that includes modules-enabled as /etc/nginx/nginx.conf
# does, serves a woportal location (create, then read, against
# $TEST_NGINX_MEMCACHED_PORT); then the package is purged and the system
# is as it was.
#
# It changes the system (a package installed for the length of the test),
# so it runs only when WOPORTAL_REQUIRE_DEB is set (as in CI, where
# make test then builds the package first), as root, and never when the
# package was installed before.  Debian's nginx runs privately: in the
# foreground as the test's child, its pid, logs and temporary files in a
# directory of the test's, on the suite's server port; the system's nginx
# service is not started.

use strict;
use warnings;

use lib 't/inc';
use File::Temp ();
use Test::More;
use Time::HiRes ();
use WoportalFaults;

my $Package = 'libnginx-mod-http-woportal';
my $Nginx = '/usr/sbin/nginx';
my $Enabled = '/etc/nginx/modules-enabled';
my $Snippet = '/usr/share/nginx/modules-available/mod-http-woportal.conf';
my $So = '/usr/lib/nginx/modules/ngx_http_woportal_module.so';
my $Base = '/api/v1/workorder-portal';
my $Port = nginx_port(0);

plan skip_all => 'installs a package into the system: set '
                 . 'WOPORTAL_REQUIRE_DEB=1 to run it (make test then builds '
                 . 'it)'
    unless $ENV{WOPORTAL_REQUIRE_DEB};

open my $in, '<', 'src/ngx_http_woportal_version.h' or die "version.h: $!\n";
my ($Version) = join('', <$in>)
    =~ /^#define\s+NGX_HTTP_WOPORTAL_VERSION\s+"([^"]+)"/m;
close $in;

chomp(my $arch = `dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null`
                 || `dpkg --print-architecture`);
my $Deb = "build/deb/${Package}_$Version-1_$arch.deb";

sub installed {
    my $status = `dpkg-query -W -f='\${Status}' $Package 2>/dev/null`;
    return $status =~ /install ok installed/ ? 1 : 0;
}

sub enabled_list {
    opendir my $d, $Enabled or return '';
    return join ' ', sort grep { !/^\.\.?$/ } readdir $d;
}

# a dpkg command, waiting up to a minute for a lock another apt holds:
# (exit code, output)
sub dpkg_run {
    my @cmd = @_;
    my ($rc, $out);
    for (1 .. 60) {
        $out = `@cmd 2>&1`;
        $rc = $? >> 8;
        last unless $rc && $out =~ /lock/i;
        sleep 1;
    }
    return ($rc, $out);
}

my @problems;
push @problems, 'not root' if $> != 0;
push @problems, "$Deb is missing (make deb)" unless -f $Deb;
push @problems, "$Nginx is missing (Debian package nginx)" unless -x $Nginx;
push @problems, "$Package is installed already: not touching it"
    if installed();
if (@problems) {
    plan tests => 1;
    fail('WOPORTAL_REQUIRE_DEB is set, but ' . join(', ', @problems));
    exit;
}

my $before = enabled_list();
my $tmp = File::Temp::tempdir('woportal-deb-XXXXXX', TMPDIR => 1,
                              CLEANUP => 1);
my $NginxPid;
my $Installed;

# however the test ends: nginx stopped, the package purged
END {
    local $?;
    WoportalFaults::reap($NginxPid, 'QUIT') if $NginxPid;
    dpkg_run('dpkg', '--purge', $Package) if $Installed;
}


# --- the package ------------------------------------------------------------

my ($abi) = `dpkg-query -W -f='\${Provides}' nginx` =~ /(nginx-abi-[^\s,]+)/;
my $depends = `dpkg-deb -f $Deb Depends`;
ok($abi && $depends =~ /(?:^|, )\Q$abi\E(?:,|$)/m,
   "the package depends on the ABI of this nginx (${\ ($abi // '?')})")
    or diag("Depends: $depends");

my ($rc, $out) = dpkg_run('dpkg', '-i', $Deb);
$Installed = 1;
is($rc, 0, "dpkg -i $Deb") or diag($out);

ok(-f $So, "the module is in $So");

open $in, '<', $Snippet;
my $snippet = $in ? join('', <$in>) : '';
like($snippet, qr/^load_module modules\/ngx_http_woportal_module\.so;$/m,
     "$Snippet loads it");

is(readlink("$Enabled/50-mod-http-woportal.conf"), $Snippet,
   "... enabled by a symlink in $Enabled, as Debian's modules are");


# --- Debian's nginx with it -------------------------------------------------

my $mc = "--SERVER=127.0.0.1:$ENV{TEST_NGINX_MEMCACHED_PORT} --BINARY-PROTOCOL";
my $temp = join '', map { "    ${_}_temp_path $tmp/${_}_temp;\n" }
                    qw(client_body proxy fastcgi uwsgi scgi);

open my $conf, '>', "$tmp/nginx.conf" or die "$tmp: $!\n";
print $conf <<"_EOC_";
# the modules as /etc/nginx/nginx.conf loads them
include $Enabled/*.conf;

daemon off;
master_process on;
worker_processes 1;
error_log $tmp/error.log notice;
pid $tmp/nginx.pid;

events {
    worker_connections 64;
}

http {
    access_log $tmp/access.log;
$temp
    server {
        listen 127.0.0.1:$Port;

        location $Base {
            woportal;
            woportal_memcached "$mc";
            woportal_api_key deb-key;
        }

        location = /metrics {
            woportal_metrics;
        }
    }
}
_EOC_
close $conf;

# its prefix stays Debian's (/usr/share/nginx): the snippet's relative
# "modules/" resolves there
$NginxPid = WoportalFaults::spawn('nginx:deb', $Nginx, '-c', "$tmp/nginx.conf",
                                  '-e', "$tmp/error.log");
my $deadline = Time::HiRes::time() + 10;
until (-s "$tmp/nginx.pid" && WoportalFaults::listening($Port)) {
    last if Time::HiRes::time() > $deadline
            || waitpid($NginxPid, POSIX::WNOHANG()) == $NginxPid;
    Time::HiRes::sleep(0.02);
}

my ($status, $body) = http_req($Port, 'POST', $Base,
                               '{"workorder":"507f1f77bcf86cd799439012",'
                               . '"client":"507f1f77bcf86cd799439013"}',
                               key => 'deb-key');
is($status, 201, "Debian's nginx with the package creates an entry")
    or diag($body, join '', read_lines("$tmp/error.log"));
my $doc = WoportalFaults::jdecode($body) // {};
my $id = ref $doc->{data} eq 'HASH' ? $doc->{data}{_id} // '' : '';
like($id, qr/^[0-9a-f]{24}$/, '... and answers its _id');

($status, $body) = http_req($Port, 'GET', "$Base/$id", undef,
                            key => 'deb-key');
is($status, 200, '... reads it back');
$doc = WoportalFaults::jdecode($body) // {};
is(ref $doc->{data} eq 'HASH' ? $doc->{data}{_id} : undef, $id,
   '... the same entry');

($status, $body) = http_req($Port, 'GET', '/metrics');
like($body, qr/^woportal_build_info\{version="\Q$Version\E",nginx="1\.22\.1"\} 1$/m,
     "... and its metrics name the module's version");

my @log = read_lines("$tmp/error.log");
ok((grep { /\[notice\].*ngx_http_woportal_module\/\Q$Version\E / } @log),
   '... as does its error log');

is(WoportalFaults::reap($NginxPid, 'QUIT'), 0, "Debian's nginx stops cleanly");
undef $NginxPid;

@log = read_lines("$tmp/error.log");
ok(!(grep { /\[(?:emerg|alert|crit)\]/ } @log),
   'no [emerg], [alert] or [crit] in its error log')
    or diag(join '', @log);


# --- purged: as before ------------------------------------------------------

($rc, $out) = dpkg_run('dpkg', '--purge', $Package);
undef $Installed;
is($rc, 0, "dpkg --purge $Package") or diag($out);
ok(!installed() && !-e $So && !-e $Snippet,
   '... removes the module and its snippet');
is(enabled_list(), $before, "... and $Enabled is as before");

done_testing();
