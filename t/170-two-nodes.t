# Two nginx nodes over one memcached cluster of two servers (libmemcached
# --DISTRIBUTION=consistent) and one PostgreSQL database: the deployment
# of conf/woportal-cluster.conf and README "Running several nodes".
#
# Writers on both nodes at once create entries and change the status of
# shared entries.  Then, from either node: every entry answered 201 reads
# back, byte for byte the same from both; every acknowledged status
# change is in its entry's status_history, and nothing else is (a 409 is
# not a change); the list is the same from both nodes and has exactly the
# entries made; PostgreSQL has them all.  Then each memcached server in
# turn loses its data (flush_all, as a restart would): the same holds,
# the entries read through from PostgreSQL and the list rebuilt.
#
# A scripted test (Test::More): it runs its own two nginx (server port
# and server port + 1), two memcached (memcached port + 110, + 111) and a
# private PostgreSQL cluster (memcached port + 4110), all stopped when it
# ends.  Skipped when PostgreSQL is not installed, unless
# WOPORTAL_REQUIRE_POSTGRESQL is set.

use strict;
use warnings;

use lib 't/inc';
use File::Temp ();
use Test::More;
use Time::HiRes ();
use WoportalFaults;

my $J = $WoportalFaults::J;
my $Base = '/api/v1/workorder-portal';
my @Ports = (nginx_port(0), nginx_port(1));
my @McPorts = (mc_port(10), mc_port(11));
my $PgPort = pg_port(10);

# conf/woportal-cluster.conf, the example of this deployment, passes
# nginx -t (its listen address made local: nginx -t binds it)
{
    my $dir = File::Temp::tempdir('t170-conf-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    mkdir "$dir/$_" for qw(logs temp);
    open my $in, '<', 'conf/woportal-cluster.conf' or die "conf: $!\n";
    my $conf = do { local $/; <$in> };
    close $in;
    my $port = nginx_port(0);
    my $n = $conf =~ s/listen\s+10\.0\.0\.1:8080;/listen 127.0.0.1:$port;/;
    open my $out, '>', "$dir/nginx.conf" or die "$dir: $!\n";
    print $out $conf;
    close $out;
    my $bin = $ENV{TEST_NGINX_BINARY} // 'nginx';
    my $t = `$bin -t -q -p $dir/ -c $dir/nginx.conf 2>&1`;
    is("$n $? $t", '1 0 ', 'conf/woportal-cluster.conf passes nginx -t');
}

my $pg = WoportalFaults::start_postgresql($PgPort);
unless ($pg) {
    note('PostgreSQL is not installed (Debian: postgresql): no two nodes');
    done_testing();
    exit 0;
}
WoportalFaults::psql($PgPort, 'postgres', '-c', 'CREATE DATABASE woportal');

my @Mc = map { start_memcached($_) } @McPorts;
my $Prefix = fresh_prefix('t170');

my @Nodes;
for my $port (@Ports) {
    # each pool thread keeps a PostgreSQL connection: 2 nodes x 2 workers
    # x 8 threads stay under PostgreSQL's max_connections (100)
    my ($pid, $dir) = WoportalFaults::start_nginx(workers => 2,
        main => 'thread_pool wp threads=8;', http => <<"_EOC_");
    server {
        listen 127.0.0.1:$port;

        location $Base {
            woportal;
            woportal_memcached "--SERVER=127.0.0.1:$McPorts[0] --SERVER=127.0.0.1:$McPorts[1] --BINARY-PROTOCOL --DISTRIBUTION=consistent";
            woportal_memcached_timeout 2s;
            woportal_persist "postgresql:host=127.0.0.1 port=$PgPort user=postgres dbname=woportal";
            woportal_persist_timeout 10s;
            woportal_key_prefix $Prefix;
            woportal_index_shards 16;
            woportal_thread_pool wp;
            woportal_api_key test-key;
        }
    }
_EOC_
    push @Nodes, {pid => $pid, dir => $dir, port => $port};
}

sub api {
    my ($node, $method, $path, $body) = @_;
    return WoportalFaults::http_req($Ports[$node], $method, $path,
                                    defined $body ? $J->encode($body) : undef);
}

# the shared entries, made on node 0
my (%Shared, %Acked, %Created);
for my $i (1 .. 8) {
    my ($st, $b) = api(0, POST => $Base, {workorder => "shared-$i", client => 'c'});
    my $d = WoportalFaults::jdecode($b);
    is($st, 201, "shared entry $i created") or diag($b);
    next unless $d;
    $Shared{$d->{data}{_id}} = 1;
    $Created{$d->{data}{_id}} = 1;
    $Acked{$d->{data}{_id}} = [];
}
my @Shared = sort keys %Shared;

# 4 writers, 2 on each node, for 2 s: a create, then a status change of
# a shared entry; lines "<op> <id> <status> <notes>"
my $until = Time::HiRes::time() + 2;
my @lines = run_clients(4, 120, sub {
    my ($c, $out) = @_;
    my $node = $c % 2;
    my $n = 0;
    while (Time::HiRes::time() < $until) {
        $n++;
        my ($st, $b) = api($node, POST => $Base,
                           {workorder => "w-$c-$n", client => "node-$node"});
        my $d = WoportalFaults::jdecode($b);
        print $out "create ", ($d && $d->{data} ? $d->{data}{_id} : '-'), " $st -\n";
        my $id = $Shared[($c * 7 + $n) % @Shared];
        my $notes = "n$node-c$c-$n";
        ($st, $b) = api($node, PATCH => "$Base/$id/status",
                        {status => $n % 2 ? 'in_progress' : 'pending',
                         notes => $notes});
        print $out "status $id $st $notes\n";
    }
});

my (%n, @bad);
for (@lines) {
    my ($op, $id, $st, $notes) = split ' ';
    if (!defined $notes) {
        push @bad, $_;
        next;
    }
    $n{"$op $st"}++;
    if ($op eq 'create' && $st == 201) {
        $Created{$id} = 1;
    } elsif ($op eq 'status' && $st == 200) {
        push @{ $Acked{$id} }, $notes;
    } elsif ($op ne 'status' || $st != 409) {
        push @bad, $_;
    }
}
note('answers: ' . join ', ', map { "$_: $n{$_}" } sort keys %n);
is(join('', @bad), '', 'every write answered 201, 200, or 409 conflict');
cmp_ok($n{'create 201'} // 0, '>', 10, 'creates went through');
cmp_ok($n{'status 200'} // 0, '>', 10, 'status changes went through');

# every entry the same from both nodes, as acknowledged; the list too
sub verify {
    my $stage = shift;
    my @p;
    my %docs;
    for my $id (sort keys %Created) {
        my @bodies;
        for my $node (0, 1) {
            my ($st, $b) = api($node, GET => "$Base/$id");
            push @p, "node $node: GET $id: $st $b" if $st != 200;
            push @bodies, $b;
        }
        push @p, "$id differs between the nodes" if $bodies[0] ne $bodies[1];
        my $d = WoportalFaults::jdecode($bodies[0]) or next;
        $docs{$id} = $d->{data};
        next unless $Shared{$id};
        my @history = map { $_->{notes} // '' } @{ $d->{data}{status_history} };
        shift @history;    # pending, at creation
        my $got = join ' ', sort @history;
        my $want = join ' ', sort @{ $Acked{$id} };
        push @p, "$id: status_history [$got], acknowledged [$want]"
            if $got ne $want;
        push @p, "$id: version $d->{data}{version}, expected "
                 . (1 + @{ $Acked{$id} })
            if $d->{data}{version} != 1 + @{ $Acked{$id} };
    }

    my @lists;
    for my $node (0, 1) {
        my (@ids, $total);
        for my $page (1 .. 100) {
            my ($st, $b) = api($node, GET => "$Base?per_page=100&sort=_id&page=$page");
            my $d = WoportalFaults::jdecode($b);
            if ($st != 200 || !$d) {
                push @p, "node $node: list page $page: $st $b";
                last;
            }
            $total = $d->{paging}{total};
            last unless @{ $d->{data} };
            for my $e (@{ $d->{data} }) {
                push @ids, $e->{_id};
                push @p, "node $node lists $e->{_id} unlike it serves it"
                    if $docs{$e->{_id}}
                       && $J->encode($e) ne $J->encode($docs{$e->{_id}});
            }
        }
        push @lists, join ' ', @ids;
        my $want = join ' ', sort keys %Created;
        push @p, "node $node: the list is not the entries made ("
                 . scalar(@ids) . " listed, total " . ($total // '-')
                 . ", " . scalar(keys %Created) . " made)"
            if "@ids" ne $want || ($total // -1) != keys %Created;
    }
    push @p, "the nodes list differently" if $lists[0] ne $lists[1];

    my $rows = WoportalFaults::psql($PgPort, 'woportal', '-A', '-t', '-c',
        "SELECT count(*) FROM woportal_entries WHERE prefix = '$Prefix' AND doc <> ''");
    $rows =~ s/\s+//g;
    push @p, "PostgreSQL has $rows entries, " . scalar(keys %Created) . " made"
        if $rows != keys %Created;

    is(join("\n", @p), '', "$stage: every entry the same from both nodes, "
                           . "history complete, lists identical and whole");
}

verify('after the writers');

for my $s (0, 1) {
    my $r = WoportalFaults::mc_raw($McPorts[$s], "flush_all\r\n");
    like($r, qr/^OK/, "memcached $s flushed");
    verify("memcached $s flushed");
}

for my $node (@Nodes) {
    my @log = grep { /\[(alert|crit|emerg)\]|exited on signal/ }
              WoportalFaults::read_lines("$node->{dir}/logs/error.log");
    is(join('', @log), '', "node $node->{port}: no alert, no worker died");
    my $status = WoportalFaults::stop_nginx($node->{pid});
    is($status, 0, "node $node->{port} stopped cleanly");
}

done_testing();
