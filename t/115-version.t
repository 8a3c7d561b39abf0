# The module's version, NGX_HTTP_WOPORTAL_VERSION
# (src/ngx_http_woportal_version.h), shown to an operator: a notice in the
# error log at start and at each reload (not from nginx -t), the
# woportal_build_info metric, openapi.json's info.version; CHANGES has
# its entry on top.
#
# A scripted test (Test::More): it runs its own nginx (the suite's binary,
# on the server port), stopped when it ends.

use strict;
use warnings;

use lib 't/inc';
use Test::More;
use Time::HiRes ();
use WoportalFaults;

my $Base = '/api/v1/workorder-portal';
my $Port = nginx_port(0);

open my $in, '<', 'src/ngx_http_woportal_version.h' or die "version.h: $!\n";
my ($Version) = join('', <$in>)
    =~ /^#define\s+NGX_HTTP_WOPORTAL_VERSION\s+"([^"]+)"/m;
close $in;

like($Version // '', qr/^\d+\.\d+\.\d+$/,
     'the version is defined, major.minor.patch');

my ($nginx_version) = `$ENV{TEST_NGINX_BINARY} -v 2>&1` =~ m{nginx/(\S+)};

open $in, '<', 'CHANGES' or die "CHANGES: $!\n";
my ($top) = grep { /^Changes with / } <$in>;
close $in;
like($top // '', qr/^Changes with ngx_http_woportal_module \Q$Version\E\s/,
     "CHANGES begins with $Version");

my $http = <<"_EOC_";
    server {
        listen 127.0.0.1:$Port;

        location $Base {
            woportal;
            woportal_memcached "--SERVER=127.0.0.1:$ENV{TEST_NGINX_MEMCACHED_PORT} --BINARY-PROTOCOL";
            woportal_api_key test-key;
        }

        location = /metrics {
            woportal_metrics;
        }
    }
_EOC_

my ($pid, $dir) = WoportalFaults::start_nginx(http => $http, workers => 1,
                                               log_level => 'notice');
my $notice = qr/\[notice\] .*ngx_http_woportal_module\/\Q$Version\E \(nginx\/\Q$nginx_version\E\)/;

sub notices {
    return scalar grep { /$notice/ } read_lines("$dir/logs/error.log");
}

is(notices(), 1, "the error log names the module's version and nginx's, "
                 . 'once at start');

my ($status, $body) = http_req($Port, 'GET', '/metrics');
is($status, 200, 'the metrics answer');
like($body, qr/^# TYPE woportal_build_info gauge$/m,
     '... woportal_build_info is typed a gauge');
like($body,
     qr/^woportal_build_info\{version="\Q$Version\E",nginx="\Q$nginx_version\E"\} 1$/m,
     '... and carries the versions, value 1');

($status, $body) = http_req($Port, 'GET', "$Base/openapi.json");
is($status, 200, 'openapi.json answers');
my $doc = WoportalFaults::jdecode($body) // {};
is($doc->{info}{version}, $Version, "... its info.version is the module's");

# nginx -t and nginx -s log to the same file, but are not a start
system($ENV{TEST_NGINX_BINARY}, '-t', '-q', '-p', "$dir/", '-c',
       "$dir/conf/nginx.conf");
is($? >> 8, 0, 'nginx -t of the same configuration passes');
is(notices(), 1, '... and logs no version notice');

kill 'HUP', $pid;
my $deadline = Time::HiRes::time() + 10;
Time::HiRes::sleep(0.05) while notices() < 2 && Time::HiRes::time() < $deadline;
is(notices(), 2, 'a reload logs it again');

is(WoportalFaults::stop_nginx($pid), 0, 'nginx stops cleanly');

done_testing();
