use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalFaults;
no_shuffle();

# The SQL store fails in sync mode (README "Persistence"): a write is 503
# store_unavailable and changes nothing, in the database nor in
# memcached, where the index shard keeps its bytes and the entry's item
# its value and CAS, or is gone (a write deletes it before its
# transaction: SQL is the truth), never changed:
#
# - PostgreSQL stopped at once (pg_ctl -m immediate: the connections
#   nginx holds break) while nginx runs: every kind of write is 503,
#   reads of what memcached holds go on, an entry that only the database
#   has is 503, never 404; once PostgreSQL is back, writes succeed
#   without a reload;
# - SQLite locked for longer than woportal_persist_timeout: the writes
#   t/090-persist-sqlite.t TEST 7 does not make (PUT, status, DELETE)
#   are 503 and change nothing;
# - an SQLite file that cannot be opened: the same.
#
# A private PostgreSQL cluster (memcached port + 4100), stopped when the
# file ends; its blocks are skipped without PostgreSQL, unless
# WOPORTAL_REQUIRE_POSTGRESQL is set.

use File::Temp ();

our $PgPort = pg_port(0);
our $Pg = WoportalFaults::start_postgresql($PgPort);
WoportalFaults::psql($PgPort, 'postgres', '-c', 'CREATE DATABASE t163') if $Pg;
$ENV{TEST_NGINX_PG_PORT} = $PgPort;
$ENV{TEST_NGINX_DB_DIR} = File::Temp::tempdir('t163-XXXXXX', TMPDIR => 1,
                                              CLEANUP => 1);

our $Base = '/api/v1/workorder-portal';
our $J = $WoportalFaults::J;
our $Mc = $ENV{TEST_NGINX_MEMCACHED_PORT};
our (@Problems, %Id, $Prefix);

# block $n's key prefix (the config sections are read before any block
# runs: the scenarios set $Prefix)
sub prefix { "t163-b$_[0]-$$:" }

# the location of block $n, persisting to $persist
sub location {
    my ($n, $persist, $path, $extra) = @_;
    $extra //= '';
    my $prefix = prefix($n);
    return <<"_EOC_";
    location ${\ ($path // $Base)} {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:\$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix $prefix;
        woportal_index_shards 1;
        woportal_persist $persist;
        woportal_persist_timeout 300ms;
$extra
    }
_EOC_
}

sub api {
    my ($method, $path, $body) = @_;
    $path =~ s/\{\{(\w+)\}\}/$Id{$1} \/\/ 'none'/ge;
    return WoportalFaults::http_req($ENV{TEST_NGINX_SERVER_PORT}, $method,
                                    $path, defined $body ? $J->encode($body) : undef);
}

sub expect {
    my ($want, $method, $path, $body) = @_;
    my ($st, $b) = api($method, $path, $body);
    push @Problems, "$method $path: $st $b, expected $want"
        . ($want == 503 ? ' store_unavailable' : '')
        if $st != $want
           || ($want == 503 && WoportalFaults::api_error($b) ne 'store_unavailable');
    return WoportalFaults::jdecode($b);
}

sub mk {
    my ($label, $base) = @_;
    my $d = expect(201, POST => $base // $Base, {workorder => "wo-$label", client => 'c'});
    $Id{$label} = $d->{data}{_id} if $d;
}

# what memcached holds of the block's entries and index: item values,
# flags and CAS, and the shard's bytes, a line each (the binary of an
# entry's header and of the shard escaped: it may hold a newline)
sub snapshot {
    my @keys = ((map { $Id{$_} } sort keys %Id), 'idx:0');
    return join "\n", map {
        join ' ', $_, map { s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ger }
                      WoportalFaults::mc_gets($Mc, $Prefix . $_)
    } @keys;
}

# every kind of write refused with 503, memcached left as it was but for
# the item of the entry written: a write deletes it before its
# transaction (SQL is the truth: src/ngx_http_woportal_commit.c), so it
# may be gone, never changed
sub writes_refused {
    my $first = shift // 1;
    my $before = snapshot();
    expect(503, PATCH => "$Base/{{a}}", {disabled => JSON::PP::true()});
    expect(503, PUT => "$Base/{{a}}", {access_level => 'comment'});
    expect(503, PATCH => "$Base/{{a}}/status", {status => 'in_progress', notes => 'x'});
    expect(503, PUT => "$Base/{{a}}/status", {status => 'cancelled'});
    expect(503, DELETE => "$Base/{{a}}");
    expect(503, POST => $Base, {workorder => 'refused', client => 'c'});
    my $after = snapshot();
    push @Problems, "memcached holds no entry a: $before"
        if $first && $before !~ /wo-a/;
    my @b = split /\n/, $before;
    my @a = split /\n/, $after;
    for my $i (0 .. $#b) {
        next if $b[$i] eq ($a[$i] // '');
        next if $b[$i] =~ /^\Q$Id{a}\E / && ($a[$i] // '') eq $Id{a};
        push @Problems, "memcached changed:\n$b[$i]\n--\n" . ($a[$i] // '');
    }
    push @Problems, "memcached still holds a changed a: $after"
        if $after =~ /^\Q$Id{a}\E .*(comment|in_progress|cancelled|"disabled":true)/m;
}

sub pg_version {
    my $id = shift;
    my $v = WoportalFaults::psql($PgPort, 't163', '-A', '-t', '-c',
        "SELECT version FROM woportal_entries WHERE prefix = '$Prefix' AND id = '$id'");
    $v =~ s/\s+//g;
    return $v;
}

sub scenario_pg {
    $Prefix = prefix(1);
    # the pool's two threads hold connections when PostgreSQL stops
    mk($_) for qw(a c d b);
    Woportal::memcached_delete($Prefix . $Id{b});    # in the database only
    WoportalFaults::pg_ctl($Pg, 'stop') or push @Problems, 'pg_ctl stop failed';
    # every thread finds its connection broken, or cannot connect
    writes_refused($_ == 1) for 1 .. 3;
    # a's item went with the writes: SQL must answer, and cannot; c was
    # never written and is served from memcached
    expect(503, GET => "$Base/{{a}}");
    expect(200, GET => "$Base/{{c}}");
    expect(503, GET => "$Base/{{b}}");
    WoportalFaults::pg_ctl($Pg, 'start') or push @Problems, 'pg_ctl start failed';
    my $d = expect(200, PATCH => "$Base/{{a}}", {disabled => JSON::PP::true()});
    push @Problems, "version " . ($d ? $d->{data}{version} : '-') . " after the restart"
        unless $d && $d->{data}{version} == 2;
    push @Problems, "PostgreSQL has version " . pg_version($Id{a}) . " of a"
        unless pg_version($Id{a}) eq '2';
    expect(200, GET => "$Base/{{b}}");
    expect(201, POST => $Base, {workorder => 'after', client => 'c'});
}

sub scenario_sqlite_locked {
    $Prefix = prefix(2);
    mk('a');
    my ($pid, $taken) =
        WoportalFaults::lock_sqlite("$ENV{TEST_NGINX_DB_DIR}/b2.db", 60);
    push @Problems, 'the lock was not taken' unless $taken;
    writes_refused();
    # the lock goes with its process
    kill 'KILL', $pid;
    waitpid $pid, 0;
    expect(200, PATCH => "$Base/{{a}}", {disabled => JSON::PP::true()});
}

sub scenario_sqlite_unreachable {
    $Prefix = prefix(3);
    # no location of the prefix may persist elsewhere, or not at all
    # (nginx -t): the entries are put into memcached as a write would
    for my $label (qw(a c)) {
        $Id{$label} = sprintf '6b0ad801342bc032b4e99b%02x', ord $label;
        Woportal::memcached_set($Prefix . $Id{$label},
                                Woportal::entry_json($Id{$label},
                                                     workorder => "wo-$label"));
    }
    writes_refused();
    expect(503, GET => "$Base/{{a}}");
    expect(200, GET => "$Base/{{c}}");
}

run_tests();

__DATA__

=== TEST 1: PostgreSQL stopped while nginx holds its connections: every write is 503 and memcached is unchanged but for the written entry's item, gone, reads of cached entries go on, an entry only the database has is 503; PostgreSQL back: writes succeed without a reload
--- main_config
    thread_pool t163 threads=2;
--- config eval
main::location(1, $main::Pg ? '"postgresql:host=127.0.0.1 port=$TEST_NGINX_PG_PORT user=postgres dbname=t163"'
                            : 'off', undef, '        woportal_thread_pool t163;')
--- init
if ($main::Pg) { main::scenario_pg() } else { Test::More::note('no PostgreSQL: skipped') }
--- more_headers
X-API-Key: test-key
--- request
GET /api/v1/workorder-portal
--- error_code: 200
--- data_ok eval
sub { my @p = @main::Problems; @main::Problems = (); @p }



=== TEST 2: SQLite locked longer than woportal_persist_timeout: PUT, PATCH, the status, DELETE and POST are 503 and memcached is unchanged; once the lock is gone writes succeed
--- config eval
main::location(2, 'sqlite:$TEST_NGINX_DB_DIR/b2.db')
--- init
main::scenario_sqlite_locked()
--- more_headers
X-API-Key: test-key
--- request
GET /api/v1/workorder-portal
--- error_code: 200
--- data_ok eval
sub { my @p = @main::Problems; @main::Problems = (); @p }



=== TEST 3: an SQLite file that cannot be opened (the entries were put into memcached directly): every write is 503, memcached is unchanged but for the written entry's item, reads of others go on
--- config eval
main::location(3, 'sqlite:/proc/t163.db')
--- init
main::scenario_sqlite_unreachable()
--- more_headers
X-API-Key: test-key
--- request
GET /api/v1/workorder-portal/6b0ad801342bc032b4e99b63
--- error_code: 200
--- data_ok eval
sub { my @p = @main::Problems; @main::Problems = (); @p }
