use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use Time::HiRes ();
no_shuffle();

# woportal_metrics: Prometheus's text format, from counters that every
# worker adds to (two workers here: the requests of a block land on
# either), moving as requests are made.
#
# Every metrics answer is checked for the format: each line a comment
# (# HELP, # TYPE) or "name{labels} value", each sample's metric typed
# before it, histogram buckets cumulative up to +Inf, which equals _count.
# Sections checked on a metrics answer:
#
#   --- metrics         lines that must be in it, exactly
#   --- metrics_like    patterns (one a line) that must match one of its lines
#   --- metrics_unlike  patterns that must match none of them

master_on();
workers(2);

use File::Temp ();

$ENV{TEST_NGINX_METRICS_DIR} = File::Temp::tempdir(CLEANUP => 1);

our $Config = <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }

    location = /metrics {
        woportal_metrics;
    }
_EOC_

block_defaults(config => $Config,
               more_headers => "X-API-Key: test-key\n"
                               . "Content-Type: application/json\n");

sub lines_of {
    my $v = shift;
    return grep { /\S/ } map { s/^\s+|\s+$//gr } split /\n/, $v // '';
}

# the problems of a metrics text, none when it is well-formed
sub format_problems {
    my $body = shift;
    my (@problems, %type, %buckets, %count);
    my $n = 0;

    for my $line (split /\n/, $body) {
        $n++;
        if ($line =~ /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S/) {
            next;
        }
        if ($line =~ /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram)$/) {
            push @problems, "line $n: $1 typed twice" if $type{$1}++;
            $type{$1} = $2;
            next;
        }
        my ($name, $labels, $value) = $line =~
            /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{((?:[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*",?)*)\})? (\S+)$/;
        if (!defined $name) {
            push @problems, "line $n is neither a comment nor a sample: $line";
            next;
        }
        push @problems, "line $n: value $value is not a number"
            unless $value =~ /^-?\d+(\.\d+)?$/;
        push @problems, "line $n: a negative count: $line"
            if $value =~ /^-/;
        (my $base = $name) =~ s/_(bucket|sum|count)$//;
        my $t = $type{$name} // $type{$base};
        push @problems, "line $n: $name has no # TYPE before it" unless $t;
        next unless ($t // '') eq 'histogram';
        (my $series = $labels // '') =~ s/,?le="[^"]*"//;
        if ($name =~ /_bucket$/) {
            my ($le) = ($labels // '') =~ /le="([^"]*)"/;
            push @problems, "line $n: a bucket without le" unless defined $le;
            my $prev = $buckets{"$base|$series"};
            push @problems, "line $n: buckets of $base\{$series} go down"
                if defined $prev && $value < $prev->[1];
            $buckets{"$base|$series"} = [$le, $value];
        } elsif ($name =~ /_count$/) {
            my $last = $buckets{"$base|$series"};
            push @problems, "line $n: $base\{$series} has no buckets before _count"
                unless $last;
            push @problems, "line $n: the last bucket of $base\{$series} is not +Inf"
                if $last && $last->[0] ne '+Inf';
            push @problems, "line $n: _count $value is not the +Inf bucket $last->[1]"
                if $last && $last->[1] != $value;
        }
    }

    push @problems, "empty" unless $n;
    return @problems;
}

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;
    return if $dry_run;
    return unless defined $body && $body =~ /^# HELP /;
    my $name = $block->name;

    Test::More::is(join("\n", format_problems($body)), '',
                   "$name - the metrics are in Prometheus's text format");

    my @lines = split /\n/, $body;
    my %have = map { $_ => 1 } @lines;
    my @want = lines_of(Woportal::for_req(scalar $block->metrics, $req_idx));

    # requests are counted in the log phase, after their answer went out:
    # with two workers the next request can be quicker; read again, a
    # little later, what is missing
    for my $try (1 .. 20) {
        last unless grep { !$have{$_} } @want;
        Time::HiRes::sleep(0.05);
        my ($status, $h, $again) = Woportal::http_request('GET', '/metrics',
                                                          undef, '');
        last unless $status == 200;
        @lines = split /\n/, $again;
        %have = map { $_ => 1 } @lines;
    }

    for my $want (@want) {
        Test::More::ok($have{$want}, "$name - metrics have \"$want\"")
            or Test::More::diag(join "\n", grep { !/_bucket|^#/ } @lines);
    }
    for my $pat (lines_of(Woportal::for_req(scalar $block->metrics_like, $req_idx))) {
        Test::More::ok(scalar(grep { /$pat/ } @lines),
                       "$name - a metrics line matches /$pat/");
    }
    for my $pat (lines_of(Woportal::for_req(scalar $block->metrics_unlike, $req_idx))) {
        Test::More::ok(!grep({ /$pat/ } @lines),
                       "$name - no metrics line matches /$pat/");
    }
});

run_tests();

__DATA__

=== TEST 1: no request made yet: every counter is at 0, the format holds
--- request
GET /metrics
--- error_code: 200
--- response_headers
Content-Type: text/plain; version=0.0.4; charset=utf-8
--- metrics
# TYPE woportal_requests_total counter
# TYPE woportal_store_call_seconds histogram
# TYPE woportal_sql_call_seconds histogram
woportal_store_call_seconds_count{op="add"} 0
woportal_store_errors_total{op="get"} 0
woportal_store_calls_in_flight 0
woportal_sql_errors_total{call="begin"} 0
woportal_index_compactions_total 0
woportal_index_reads_total 0
--- metrics_unlike
^woportal_requests_total\{



=== TEST 2: counters move with the requests, whichever worker answers them
--- request eval
["POST /api/v1/workorder-portal\n{\"workorder\":\"507f1f77bcf86cd799439012\",\"client\":\"507f1f77bcf86cd799439013\"}",
 "POST /api/v1/workorder-portal\n{\"workorder\":\"507f1f77bcf86cd799439012\",\"client\":\"507f1f77bcf86cd799439013\"}",
 "GET /api/v1/workorder-portal/0123456789abcdef0123ffff",
 "GET /metrics",
 "GET /api/v1/workorder-portal?per_page=1",
 "GET /metrics"]
--- more_headers eval
["X-API-Key: test-key\nContent-Type: application/json",
 "X-API-Key: test-key\nContent-Type: application/json",
 "X-API-Key: test-key",
 "",
 "",
 ""]
--- error_code eval
[201, 201, 404, 200, 401, 200]
--- metrics eval
["", "", "",
 'woportal_requests_total{op="create",status="201"} 2
  woportal_requests_total{op="get",status="404"} 1
  woportal_store_call_seconds_count{op="add"} 2
  woportal_store_call_seconds_count{op="get"} 1
  woportal_store_errors_total{op="add"} 0
  woportal_store_calls_in_flight 0',
 "",
 'woportal_requests_total{op="create",status="201"} 2
  woportal_requests_total{op="none",status="401"} 1
  woportal_store_call_seconds_count{op="run"} 0']
--- metrics_like eval
["", "", "",
 '^woportal_store_call_seconds_sum\{op="add"\} 0\.\d{6}$
  ^woportal_store_call_seconds_bucket\{op="add",le="\+Inf"\} 2$', "", ""]
--- metrics_unlike eval
["", "", "", '^woportal_requests_total\{op="none"', "", ""]



=== TEST 3: a list: the index it read, in bytes, and the list counted
--- init
for (1 .. 3) {
    my ($status) = Woportal::http_request('POST', '/api/v1/workorder-portal',
        '{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013"}');
    die "create: $status\n" unless $status == 201;
}
my ($status) = Woportal::http_request('GET', '/api/v1/workorder-portal?per_page=1');
die "list: $status\n" unless $status == 200;
--- request
GET /metrics
--- error_code: 200
--- metrics
woportal_requests_total{op="create",status="201"} 3
woportal_requests_total{op="list",status="200"} 1
woportal_store_call_seconds_count{op="run"} 1
woportal_index_reads_total 1
--- metrics_like
^woportal_index_bytes [1-9]\d{2,}$
^woportal_index_read_bytes_total [1-9]\d{2,}$



=== TEST 4: memcached down: the failed store calls are counted, and the 503s
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:1 --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }

    location = /metrics {
        woportal_metrics;
    }
--- request eval
["POST /api/v1/workorder-portal\n{\"workorder\":\"507f1f77bcf86cd799439012\",\"client\":\"507f1f77bcf86cd799439013\"}",
 "GET /api/v1/workorder-portal/0123456789abcdef01234567",
 "GET /metrics"]
--- more_headers eval
["X-API-Key: test-key\nContent-Type: application/json", "X-API-Key: test-key", ""]
--- error_code eval
[503, 503, 200]
--- metrics eval
["", "",
 'woportal_requests_total{op="create",status="503"} 1
  woportal_requests_total{op="get",status="503"} 1
  woportal_store_errors_total{op="add"} 1
  woportal_store_errors_total{op="get"} 1
  woportal_store_calls_in_flight 0']



=== TEST 5: an index shard rewritten by a list is counted as a compaction
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix "metrics-compact:";
        woportal_index_shards 1;
    }

    location = /metrics {
        woportal_metrics;
    }
--- init
my ($status, $h, $body) = Woportal::http_request('POST', '/api/v1/workorder-portal',
    '{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013"}');
die "create: $status\n" unless $status == 201;
my ($id) = $body =~ /"_id":"([0-9a-f]{24})"/;
# each change appends a record; 80 of them leave the shard mostly dead
for my $i (1 .. 80) {
    ($status) = Woportal::http_request('PATCH', "/api/v1/workorder-portal/$id",
        '{"portal_settings":{"n":' . $i . '}}');
    die "update: $status\n" unless $status == 200;
}
($status) = Woportal::http_request('GET', '/api/v1/workorder-portal');
die "list: $status\n" unless $status == 200;
--- request
GET /metrics
--- error_code: 200
--- metrics
woportal_index_compactions_total 1
woportal_requests_total{op="update",status="200"} 80
woportal_store_call_seconds_count{op="cas"} 80



=== TEST 6: only GET and HEAD
--- request eval
["POST /metrics\nx", "HEAD /metrics"]
--- more_headers eval
["", ""]
--- error_code eval
[405, 200]



=== TEST 7: with persistence, the SQL calls of a create: begin, put, end, each timed
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix "metrics-sql:";
        woportal_persist sqlite:$TEST_NGINX_METRICS_DIR/m.db;
    }

    location = /metrics {
        woportal_metrics;
    }
--- request eval
["POST /api/v1/workorder-portal\n{\"workorder\":\"507f1f77bcf86cd799439012\",\"client\":\"507f1f77bcf86cd799439013\"}",
 "GET /metrics"]
--- more_headers eval
["X-API-Key: test-key\nContent-Type: application/json", ""]
--- error_code eval
[201, 200]
--- metrics eval
["",
 'woportal_sql_call_seconds_count{call="begin"} 1
  woportal_sql_call_seconds_count{call="put"} 1
  woportal_sql_call_seconds_count{call="end"} 1
  woportal_sql_call_seconds_count{call="scan"} 0
  woportal_sql_errors_total{call="begin"} 0']
--- metrics_like eval
["", '^woportal_sql_call_seconds_sum\{call="put"\} 0\.\d{6}$']



=== TEST 8: a database that cannot be used: the failed SQL call and the failed store call are counted
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix "metrics-sql-down:";
        woportal_persist sqlite:/proc/wp.db;
    }

    location = /metrics {
        woportal_metrics;
    }
--- request eval
["POST /api/v1/workorder-portal\n{\"workorder\":\"507f1f77bcf86cd799439012\",\"client\":\"507f1f77bcf86cd799439013\"}",
 "GET /metrics"]
--- more_headers eval
["X-API-Key: test-key\nContent-Type: application/json", ""]
--- error_code eval
[503, 200]
--- metrics eval
["",
 'woportal_sql_errors_total{call="begin"} 1
  woportal_store_errors_total{op="add"} 1
  woportal_requests_total{op="create",status="503"} 1']



=== TEST 9: the counters are the sum over both workers, whichever answered
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        add_header X-Pid $pid always;
    }

    location = /metrics {
        woportal_metrics;
    }
--- init
my %pids;
for (1 .. 60) {
    my ($status, $h) = Woportal::http_request('GET',
        '/api/v1/workorder-portal/0123456789abcdef0123ffff');
    die "get: $status\n" unless $status == 404;
    $pids{$h->{'x-pid'} // '?'}++;
}
# which worker accepts is the kernel's choice: say so when one took all
Test::More::diag("all 60 requests went to one worker: the sum is not "
                 . "tested across workers this time") if keys %pids < 2;
--- request
GET /metrics
--- error_code: 200
--- metrics
woportal_requests_total{op="get",status="404"} 60
woportal_store_call_seconds_count{op="get"} 60
woportal_store_calls_in_flight 0



=== TEST 10: lists over an index that does not change read it from memcached once a worker (each worker caches it): 20 lists, at most 2 reads
--- init
for (1 .. 3) {
    my ($status) = Woportal::http_request('POST', '/api/v1/workorder-portal',
        '{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013"}');
    die "create: $status\n" unless $status == 201;
}
for (1 .. 20) {
    my ($status) = Woportal::http_request('GET',
                                          '/api/v1/workorder-portal?per_page=1');
    die "list: $status\n" unless $status == 200;
}
--- request
GET /metrics
--- error_code: 200
--- metrics
woportal_requests_total{op="list",status="200"} 20
--- metrics_like
^woportal_index_reads_total [12]$
^woportal_index_bytes [1-9]\d{2,}$
