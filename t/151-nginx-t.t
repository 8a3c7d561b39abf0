# `nginx -t` on configurations with one mistake each: it must fail, and
# name the directive (or the locations), the file and, where there is
# one, the line of the directive at fault (marked "#<" below).  A case
# marked "exact" gives the whole message, up to " in <file>:<line>".
#
# Runs $TEST_NGINX_BINARY (util/test.sh sets it) itself: no server, no
# memcached.

use strict;
use warnings;

use File::Temp ();
use Test::More;

my $nginx = $ENV{TEST_NGINX_BINARY} // 'nginx';

plan skip_all => "no nginx binary: set TEST_NGINX_BINARY"
    unless -x $nginx || grep { -x "$_/$nginx" } split /:/, $ENV{PATH};

my $dir = File::Temp::tempdir(CLEANUP => 1);
mkdir "$dir/logs";

my $woportal = <<'_EOC_';
        location /api {
            woportal;
            woportal_memcached "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL";
            woportal_api_key test-key;
        }
_EOC_

# [name, http level, server level, expected message (a regex), "exact"?]
my @cases = (
    ['woportal_metrics without a woportal location', '', <<'_EOC_',
        location = /metrics {
            woportal_metrics;   #<
        }
_EOC_
     qr/"woportal_metrics" needs a "woportal" location in the same http block/],

    ['woportal_health without a woportal location', '', <<'_EOC_',
        location = /health {
            woportal_health;   #<
        }
_EOC_
     qr/"woportal_health" needs a "woportal" location in the same http block/],

    ['woportal_metrics in a woportal location', '', <<'_EOC_',
        location /api {
            woportal;
            woportal_memcached "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL";
            woportal_api_key test-key;
            woportal_metrics;   #<
        }
_EOC_
     qr/"woportal_metrics" directive cannot be used in a "woportal" location/],

    ['woportal after woportal_health', '', <<'_EOC_',
        location /api {
            woportal_health;   #<
            woportal;
            woportal_memcached "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL";
            woportal_api_key test-key;
        }
_EOC_
     qr/"woportal_health" cannot be used in a "woportal" location/],

    ['an unknown thread pool, in the health location', '', $woportal . <<'_EOC_',
        location = /health {
            woportal_thread_pool nosuch;   #<
            woportal_health;
        }
_EOC_
     qr/unknown thread pool "nosuch"/],

    ['an unknown thread pool, in a woportal location', '', <<'_EOC_',
        location /api {
            woportal;
            woportal_memcached "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL";
            woportal_api_key test-key;
            woportal_thread_pool nosuch;   #<
        }
_EOC_
     qr/unknown thread pool "nosuch"/],

    ['a libmemcached string that does not parse',
     qq{    woportal_memcached "--SERVERX=127.0.0.1:11211";   #<\n},
     $woportal =~ s/^.*woportal_memcached.*\n//mr,
     qr/invalid value "--SERVERX=127\.0\.0\.1:11211" in "woportal_memcached" directive: \S/],

    ['a libmemcached string that does not parse: the reason, without libmemcached\'s source path',
     qq{    woportal_memcached "--SERVER=127.0.0.1:11211 --BOGUS";   #<\n},
     $woportal =~ s/^.*woportal_memcached.*\n//mr,
     qr/invalid value "--SERVER=127\.0\.0\.1:11211 --BOGUS" in "woportal_memcached" directive: libmemcached: Error occured during parsing \(syntax error, unexpected UNKNOWN_OPTION\): last_token=UNKNOWN_OPTION\(\d+\)/,
     'exact'],

    ['a libmemcached string with no server',
     qq{    woportal_memcached "--BINARY-PROTOCOL";   #<\n},
     $woportal =~ s/^.*woportal_memcached.*\n//mr,
     qr/invalid value "--BINARY-PROTOCOL" in "woportal_memcached" directive: no server/],

    ['a PostgreSQL conninfo that does not parse',
     qq{    woportal_persist "postgresql:host=127.0.0.1 nosuchoption=1";   #<\n},
     $woportal,
     qr/invalid conninfo "host=127\.0\.0\.1 nosuchoption=1" in "woportal_persist" directive: \S/],

    ['an unknown persistence scheme',
     qq{    woportal_persist mysql:db;   #<\n}, $woportal,
     qr/invalid value "mysql:db" in "woportal_persist" directive/],

    ['woportal_index_shards 0', '', $woportal =~ s/woportal;/woportal;\n            woportal_index_shards 0;   #</r,
     qr/"woportal_index_shards" directive must be from 1 to 65536/],

    ['one key prefix, two shard counts', '', <<'_EOC_',
        location /a {
            woportal;
            woportal_memcached "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL";
            woportal_api_key test-key;
            woportal_index_shards 8;
        }

        location /b {
            woportal;   #<
            woportal_memcached "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL";
            woportal_api_key test-key;
        }
_EOC_
     qr/woportal locations "\/a" and "\/b" share the key prefix "woportal:" in one memcached, so they must have the same "woportal_index_shards", not 8 and 256,/,
     'exact'],

    ['one key prefix, two databases', '', <<'_EOC_',
        location /a {
            woportal;
            woportal_memcached "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL";
            woportal_api_key test-key;
            woportal_persist sqlite:/tmp/a.db;
        }

        location /b {
            woportal;   #<
            woportal_memcached "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL";
            woportal_api_key test-key;
            woportal_persist "postgresql:host=127.0.0.1 dbname=b";
        }
_EOC_
     qr/woportal locations "\/a" and "\/b" share the key prefix "woportal:" in one memcached, so they must persist into the same database, not sqlite:"\/tmp\/a\.db" and postgresql:"host=127\.0\.0\.1 dbname=b",/,
     'exact'],

    ['one key prefix, one location persisting and one not', '', <<'_EOC_',
        location /a {
            woportal;
            woportal_memcached "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL";
            woportal_api_key test-key;
            woportal_persist sqlite:/tmp/a.db;
        }

        location /b {
            woportal;   #<
            woportal_memcached "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL";
            woportal_api_key test-key;
        }
_EOC_
     qr/woportal locations "\/a" and "\/b" share the key prefix "woportal:" in one memcached, so they must persist into the same database, but only "\/a" persists,/,
     'exact'],

    ['one key prefix, two SQLite files, one with its own timeout', '', <<'_EOC_',
        location /a {
            woportal;
            woportal_memcached "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL";
            woportal_api_key test-key;
            woportal_persist sqlite:/tmp/a.db;
            woportal_persist_timeout 5s;
        }

        location /b {
            woportal;   #<
            woportal_memcached "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL";
            woportal_api_key test-key;
            woportal_persist sqlite:/tmp/b.db;
        }
_EOC_
     qr/woportal locations "\/a" and "\/b" share the key prefix "woportal:" in one memcached, so they must persist into the same database, not sqlite:"\/tmp\/a\.db" and sqlite:"\/tmp\/b\.db",/,
     'exact'],

    ['an enum value: the directive and the values it takes', '',
     $woportal =~ s/woportal;/woportal;\n            woportal_persist_mode fast;   #</r,
     qr/invalid value "fast" in "woportal_persist_mode" directive: "sync" or "async" expected/,
     'exact'],

    ['woportal without woportal_memcached: the line of "woportal", not the end of http', '', <<'_EOC_',
        location /api {
            woportal;   #<
            woportal_api_key test-key;
        }
_EOC_
     qr/"woportal" in location "\/api" needs "woportal_memcached"/,
     'exact'],

    ['woportal without a key: the line of "woportal", not the end of http', '', <<'_EOC_',
        location /api {
            woportal;   #<
            woportal_memcached "--SERVER=127.0.0.1:11211 --BINARY-PROTOCOL";
        }
_EOC_
     qr/"woportal" in location "\/api" needs at least one "woportal_api_key" or "woportal_api_keys"/,
     'exact'],

    ['woportal_memcached_timeout 0', '',
     $woportal =~ s/woportal;/woportal;\n            woportal_memcached_timeout 0;   #</r,
     qr/"woportal_memcached_timeout" directive must be more than 0/,
     'exact'],

    ['woportal_persist_timeout 0', '',
     $woportal =~ s/woportal;/woportal;\n            woportal_persist_timeout 0;   #</r,
     qr/"woportal_persist_timeout" directive must be more than 0/,
     'exact'],

    ['woportal_max_body_size 0', '',
     $woportal =~ s/woportal;/woportal;\n            woportal_max_body_size 0;   #</r,
     qr/"woportal_max_body_size" directive must be more than 0/,
     'exact'],

    ['woportal_cors_origins with a path', '',
     $woportal =~ s/woportal;/woportal;\n            woportal_cors_origins https:\/\/a.example https:\/\/b.example\/app;   #</r,
     qr/invalid origin "https:\/\/b\.example\/app" in "woportal_cors_origins" directive: "http:\/\/" or "https:\/\/", a host name and an optional ":port" expected, without a path/,
     'exact'],

    ['woportal_cors_origins "*"', '',
     $woportal =~ s/woportal;/woportal;\n            woportal_cors_origins *;   #</r,
     qr/invalid origin "\*" in "woportal_cors_origins" directive:/],

    ['woportal_cors_origins with a port out of range', '',
     $woportal =~ s/woportal;/woportal;\n            woportal_cors_origins http:\/\/localhost:65536;   #</r,
     qr/invalid origin "http:\/\/localhost:65536" in "woportal_cors_origins" directive:/],

    ['woportal_cors_origins twice', '',
     $woportal =~ s/woportal;/woportal;\n            woportal_cors_origins http:\/\/a.example;\n            woportal_cors_origins http:\/\/b.example;   #</r,
     qr/"woportal_cors_origins" directive is duplicate/,
     'exact'],

    ['woportal_error in a woportal location', '',
     $woportal =~ s/woportal;/woportal;\n            woportal_error;   #</r,
     qr/"woportal_error" directive cannot be used in a "woportal" location/,
     'exact'],

    ['woportal in a woportal_error location', '', <<'_EOC_',
        location = /woportal-error {
            woportal_error;
            woportal;   #<
        }
_EOC_
     qr/"woportal" directive cannot be used in a "woportal_error" location/,
     'exact'],
);

for my $case (@cases) {
    my ($name, $http, $server, $want, $exact) = @$case;

    my $conf = <<"_EOC_";
events {
}

http {
$http
    server {
        listen 127.0.0.1:1;

$server
    }
}
_EOC_

    my $file = "$dir/nginx.conf";
    open my $out, '>', $file or die "$file: $!\n";
    print $out $conf;
    close $out;

    my ($line) = grep { (split /\n/, $conf)[$_ - 1] =~ /#</ }
                 1 .. scalar(split /\n/, $conf);

    my $output = `'$nginx' -t -p '$dir/' -c '$file' -g 'error_log stderr;' 2>&1`;
    my $status = $? >> 8;

    isnt($status, 0, "$name: nginx -t fails");
    like($output, qr/\[emerg\] .*$want/, "$name: the message")
        or diag($output);

    if (defined $line && $exact) {
        like($output, qr/\[emerg\] $want in \Q$file\E:$line$/m,
             "$name: the whole message, and $file:$line, the directive's "
             . "line")
            or diag($output);
    } elsif (defined $line) {
        like($output, qr/\[emerg\] .*$want.* in \Q$file\E:$line$/m,
             "$name: names $file:$line, the directive's line")
            or diag($output);
    } else {
        like($output, qr/\[emerg\] .*$want.* in \Q$file\E$/m,
             "$name: names $file")
            or diag($output);
    }
}

done_testing();
