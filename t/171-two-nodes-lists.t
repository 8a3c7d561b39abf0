# Lists show other nodes' writes at once: a write on one node is in the
# very next list on the other node (and on the other worker of its own),
# whatever the lists before it left in a worker's memory.  Issue 18 lets
# each worker keep the list index and check it against memcached rather
# than read it whole; this is the test such a cache must pass.  Today
# every list reads the whole index, so it passes by construction.
#
# Two nginx nodes of 2 workers each (listen ... reuseport: the kernel
# spreads the connections over both workers; X-Woportal-Worker: $pid says
# which one answered) over one memcached cluster of two servers
# (--DISTRIBUTION=consistent, 8 index shards over both: the key prefix is
# chosen so), in two set-ups:
# memcached alone, then with PostgreSQL (skipped when it is not installed,
# unless WOPORTAL_REQUIRE_POSTGRESQL is set).  Each set-up makes 24
# entries, then runs rounds (WOPORTAL_LIST_ROUNDS, default 160) of:
#
#   1. lists on both nodes until both workers of each answered some, with
#      and without exact filters (status, workorder, client,
#      company_namespace, _id[]): every worker has read (or cached) the
#      index just before the write, and the filters the write will move
#      the entry into and out of;
#   2. one write on one node (alternately each): a create, a full update
#      (PUT: company_namespace, access_level, status; workorder and client
#      cannot change, t/070), a status change (PATCH /status), a delete;
#   3. as soon as it is answered 2xx, ONE list on the other node that
#      shows it (the whole list for a create or delete: the entry there
#      or gone, paging.total counting it; the new company_namespace for
#      an update, the new status for a status change), then the lists
#      the write moved the entry into and out of, on the other node and
#      then on the writer's own;
#   4. GET of the entry from both nodes: the same bytes, as the test's
#      model says (version, status, namespaces).
#
# Every list (those before the write too) is compared with the test's
# model of the entries: the same _ids (per_page=100: one page holds them
# all) and paging.total; and each listed entry is, byte for byte, the
# "data" that GET /{id} serves.  A round fails when any of that does not
# hold; the test wants none to fail, and shows the first failures.
# Each entry has a workorder and client of its own, namespaces of its own
# (a new one at each update) and one of three shared ones, so the
# filtered lists are small; the values are long (padded to 64 and 120
# characters), so that the lists compact the shards (rewrite them by CAS,
# smaller) now and then during the rounds, as a cache must survive too:
# the test wants some compactions logged in each set-up.
#
# A scripted test (Test::More) on the fault tests' ports: nginx on the
# server port and server port + 1, memcached on memcached port + 150 and
# + 151, PostgreSQL on memcached port + 4150; all stopped when it ends.

use strict;
use warnings;

use lib 't/inc';
use List::Util ();
use Test::More;
use Time::HiRes ();
use WoportalFaults;

my $J = $WoportalFaults::J;
my $Base = '/api/v1/workorder-portal';
my @Ports = (nginx_port(0), nginx_port(1));
my @McPorts = (mc_port(50), mc_port(51));
my $PgPort = pg_port(50);
my $Workers = 2;
my $Population = 24;
my $Rounds = $ENV{WOPORTAL_LIST_ROUNDS} || 160;
my $ShowFailures = 10;
my $Shards = 8;

my @Mc = map { start_memcached($_) } @McPorts;

# the set-up being run: its name and tag, its model of the entries
# (id => {id workorder client status ns version}), what GET served of
# each (id => the "data" text), and what went wrong (round => problems)
my ($Setup, $Tag, $Prefix, %E, %Raw, %Failed, @FailedOrder, $Lists);

sub problem {
    my ($round, @p) = @_;
    return unless @p;
    push @FailedOrder, $round unless $Failed{$round};
    push @{ $Failed{$round} }, @p;
}

sub api {
    my ($node, $method, $path, $body) = @_;
    my $head;
    my ($st, $b) = WoportalFaults::http_req($Ports[$node], $method, $path,
        defined $body ? $J->encode($body) : undef, head => \$head);
    my ($pid) = $head =~ /^X-Woportal-Worker:\s*(\d+)/mi;
    return ($st, $b, $pid // '?');
}


# lists ---------------------------------------------------------------------

# a list's query: {status, workorder, client, ns => [...], ids => [...]}
sub query_string {
    my $q = shift;
    my @p = ('per_page=100');
    push @p, "$_=$q->{$_}" for grep { defined $q->{$_} }
                                    qw(status workorder client);
    push @p, map { "company_namespace=$_" } @{ $q->{ns} // [] };
    push @p, map { "_id[]=$_" } @{ $q->{ids} // [] };
    return "$Base?" . join '&', @p;
}

sub matches {
    my ($e, $q) = @_;
    for my $f (qw(status workorder client)) {
        return 0 if defined $q->{$f} && $e->{$f} ne $q->{$f};
    }
    if ($q->{ns}) {
        my %has = map { $_ => 1 } @{ $e->{ns} };
        return 0 unless grep { $has{$_} } @{ $q->{ns} };
    }
    return 0 if $q->{ids} && !grep { $_ eq $e->{id} } @{ $q->{ids} };
    return 1;
}

# One list on $node, compared with the model: (problems, the worker that
# answered, [id, text] of each listed entry)
sub list {
    my ($node, $q, $what) = @_;
    my $path = query_string($q);
    my ($st, $b, $pid) = api($node, GET => $path);
    $Lists++;
    (my $shown = $path) =~ s/-x{4,}/-x../g;    # the padding
    my $where = "$what: node $node, worker $pid: GET $shown";
    my $d = WoportalFaults::jdecode($b);
    return ("$where: $st $b", $pid, [])
        unless $st == 200 && $d && ref $d->{data} eq 'ARRAY'
               && ref $d->{paging} eq 'HASH';
    my @want = sort grep { matches($E{$_}, $q) } keys %E;
    my @got = sort map { $_->{_id} // '-' } @{ $d->{data} };
    my %got = map { $_ => 1 } @got;
    my %want = map { $_ => 1 } @want;
    my @missing = grep { !$got{$_} } @want;
    my @extra = grep { !$want{$_} } @got;
    my $total = $d->{paging}{total} // '-';
    my @p;
    push @p, "$where: " . join ', ', (@missing ? "missing [@missing]" : ()),
                  (@extra ? "listed [@extra] that should not be" : ()),
                  ("@got" ne join(' ', sort keys %got) ? "[@got]" : ()),
                  "paging.total $total of " . @want . " expected"
        if "@got" ne "@want" || $total ne @want;
    my @raw = WoportalFaults::raw_items(
        WoportalFaults::raw_data($b) // '');
    push @p, "$where: its data cannot be split into entries: $b"
        if @raw != @{ $d->{data} };
    my @items = map { [$d->{data}[$_]{_id} // '-', $raw[$_] // ''] }
                0 .. $#raw;
    return (join("\n", @p), $pid, [map { [$where, @$_] } @items]);
}

# listed entries that are not, byte for byte, what GET serves
sub unlike_get {
    my @p;
    for (@_) {
        my ($where, $id, $text) = @$_;
        if (!defined $Raw{$id}) {
            push @p, "$where: $id listed, GET has no such entry";
            next;
        }
        next if $text eq $Raw{$id};
        my $at = 0;
        $at++ while substr($text, $at, 1) eq substr($Raw{$id}, $at, 1);
        my $from = $at > 30 ? $at - 30 : 0;
        push @p, "$where: $id listed unlike GET serves it, from byte $at: "
                 . "listed ..." . substr($text, $from, 80) . "..., GET ..."
                 . substr($Raw{$id}, $from, 80) . "...";
    }
    return @p;
}

# GET of an entry from both nodes: the same bytes, as the model has it
# (then kept in %Raw), or 404 from both for an entry the model has not
sub get_both {
    my ($id, $what) = @_;
    my (@p, @bodies);
    for my $node (0, 1) {
        my ($st, $b) = api($node, GET => "$Base/$id");
        push @bodies, "$st $b";
    }
    push @p, "$what: GET $id: node 0 answered $bodies[0], node 1 $bodies[1]"
        if $bodies[0] ne $bodies[1];
    delete $Raw{$id};
    my ($st, $b) = split / /, $bodies[0], 2;
    my $e = $E{$id};
    unless ($e) {
        push @p, "$what: GET $id (deleted): $st $b" if $st != 404;
        return @p;
    }
    my $d = WoportalFaults::jdecode($b);
    my $raw = WoportalFaults::raw_data($b);
    unless ($st == 200 && $d && defined $raw) {
        push @p, "$what: GET $id: $st $b";
        return @p;
    }
    $Raw{$id} = $raw;
    my $got = join ' ', map { $_ // '-' } @{ $d->{data} }{qw(workorder
        client status version)}, @{ $d->{data}{company_namespace} // [] };
    my $want = join ' ', @$e{qw(workorder client status version)},
                         @{ $e->{ns} };
    push @p, "$what: GET $id: [$got], the test expected [$want]"
        if $got ne $want;
    return @p;
}


# the set-up ------------------------------------------------------------------

# The nodes, on a key prefix whose index shards are on both memcached
# servers: the cluster places a shard by its key, so a prefix chosen at
# random puts all 8 on one server once in 128 runs.  Each try starts
# the nodes, lists once (which makes the shards) and looks for them.
sub start_nodes {
    my $persist = shift;
    for my $try (1 .. 10) {
        my @nodes = start_nodes_on(fresh_prefix("t171-$Tag-$try"), $persist);
        my ($st) = api(0, GET => "$Base?per_page=1");
        my %on;
        for my $n (0 .. $Shards - 1) {
            for my $port (@McPorts) {
                $on{$port}++ if mc_gets($port, "${Prefix}idx:$n");
            }
        }
        return @nodes if $st == 200 && keys %on == 2;
        WoportalFaults::stop_nginx($_->{pid}) for @nodes;
    }
    BAIL_OUT("$Setup: no key prefix of 10 put the index shards on both "
             . "memcached servers, or no first list answered 200");
}

sub start_nodes_on {
    my ($prefix, $persist) = @_;
    $Prefix = $prefix;
    my $db = $persist ? "woportal_persist \"$persist\";\n"
                        . "            woportal_persist_timeout 10s;"
                      : '';
    my @nodes;
    for my $port (@Ports) {
        # with PostgreSQL each pool thread keeps a connection: 2 nodes x 2
        # workers x 8 threads stay under max_connections (100)
        my ($pid, $dir) = WoportalFaults::start_nginx(workers => $Workers,
            main => 'thread_pool wp threads=8;', http => <<"_EOC_");
    server {
        listen 127.0.0.1:$port reuseport;

        location $Base {
            woportal;
            woportal_memcached "--SERVER=127.0.0.1:$McPorts[0] --SERVER=127.0.0.1:$McPorts[1] --BINARY-PROTOCOL --DISTRIBUTION=consistent";
            woportal_memcached_timeout 2s;
            $db
            woportal_key_prefix $prefix;
            woportal_index_shards $Shards;
            woportal_thread_pool wp;
            woportal_api_key test-key;
            add_header X-Woportal-Worker \$pid always;
        }
    }
_EOC_
        push @nodes, {pid => $pid, dir => $dir, port => $port};
    }
    return @nodes;
}

# the index shards compacted (rewritten by CAS) while the lists ran
sub compactions {
    return scalar grep { /index shard .* compacted from/ }
        map { WoportalFaults::read_lines("$_->{dir}/logs/error.log") } @_;
}

sub stop_nodes {
    for my $node (@_) {
        my @log = grep { /\[(alert|crit|emerg)\]|exited on signal/ }
                  WoportalFaults::read_lines("$node->{dir}/logs/error.log");
        is(join('', @log), '',
           "$Setup: node $node->{port}: no alert, no worker died");
        my $status = WoportalFaults::stop_nginx($node->{pid});
        is($status, 0, "$Setup: node $node->{port} stopped cleanly");
    }
}

# Values padded to $n characters: long records (some 500 bytes), so
# that the shards are compacted now and then while the rounds run
sub pad {
    my ($v, $n) = @_;
    return $v . '-' . ('x' x ($n - length($v) - 1));
}

sub namespaces {
    my ($label, $n) = @_;
    return [pad("ns-$Tag-$label", 120), pad("grp-$Tag-" . ($n % 3), 120)];
}

# a new entry's model: its values named by $label, its shared namespace
# the ($n mod 3)th
sub new_entry {
    my ($label, $n) = @_;
    return {workorder => pad("wo-$Tag-$label", 64),
            client => pad("cl-$Tag-$label", 64),
            ns => namespaces($label, $n), status => 'pending',
            version => 1};
}

sub create {
    my ($node, $e) = @_;
    my ($st, $b) = api($node, POST => $Base,
                       {workorder => $e->{workorder}, client => $e->{client},
                        company_namespace => $e->{ns}});
    my $d = WoportalFaults::jdecode($b);
    return "POST on node $node: $st $b"
        unless $st == 201 && $d && ref $d->{data} eq 'HASH';
    $e->{id} = $d->{data}{_id};
    $E{ $e->{id} } = $e;
    return '';
}

sub run_setup {
    my $persist = shift;
    %E = %Raw = %Failed = ();
    @FailedOrder = ();
    $Lists = 0;
    my @nodes = start_nodes($persist);
    my $t0 = Time::HiRes::time();

    my @p;
    for my $i (1 .. $Population) {
        my $e = new_entry("p$i", $i);
        push @p, create($i % 2, $e);
        push @p, get_both($e->{id}, "made") if $e->{id};
    }
    @p = grep { $_ ne '' } @p;
    is(join("\n", @p), '', "$Setup: $Population entries made");

    # node => worker => lists it answered first after a write
    my (%first, %ops, @writes);
    my ($unwarmed, $first_failed) = (0, 0);
    srand 171;
    my @roles = qw(create update status delete);

    for my $r (0 .. $Rounds - 1) {
        my $op = $roles[$r % 4];
        my $w = ($r + int($r / 4)) % 2;    # each op on both nodes in turn
        my $o = 1 - $w;
        my @live = sort keys %E;
        my @open = grep { $E{$_}{status} =~ /^(pending|in_progress)$/ }
                   @live;
        $op = 'update' if $op eq 'status' && !@open;
        $op = 'create' if !@live;
        my $t = $op eq 'create' ? new_entry("r$r", $r)
              : $E{ $op eq 'status' ? $open[int rand @open]
                                    : $live[int rand @live] };
        my $any = $E{ $live[int rand @live] } // $t;
        my $what = "$Setup: round $r ($op on node $w)";

        # 1: every worker of both nodes lists just before the write
        my @warm = ({}, {workorder => $t->{workorder}},
                    {client => $t->{client}}, {ns => [$t->{ns}[0]]},
                    {status => $t->{status}, workorder => $t->{workorder}},
                    {status => $any->{status}}, {ns => [$t->{ns}[1]]},
                    {ids => [grep { defined } $t->{id}, $any->{id}]});
        for my $node (0, 1) {
            my %seen;
            for my $i (0 .. 3 * @warm - 1) {
                last if $i >= @warm && keys %seen >= $Workers;
                my ($p, $pid, $items) = list($node, $warm[$i % @warm],
                                             "$what, before");
                problem($r, grep { $_ ne '' } $p, unlike_get(@$items));
                $seen{$pid}++;
            }
            $unwarmed++ if keys %seen < $Workers;
        }

        # 2: the write
        my %old = (%$t, ns => [@{ $t->{ns} }]);
        my ($st, $b);
        if ($op eq 'create') {
            my $p = create($w, $t);
            problem($r, "$what: $p") if $p ne '';
            $st = $p eq '' ? 201 : 0;
        } elsif ($op eq 'update') {
            my %body = (company_namespace => namespaces("r$r", $r),
                        access_level => (qw(view_only comment
                                            full_access))[$r % 3],
                        notifications => {round => $r});
            $body{status} = $t->{status} eq 'pending' ? 'in_progress'
                                                      : 'pending'
                if $t->{status} =~ /^(pending|in_progress)$/;
            ($st, $b) = api($w, PUT => "$Base/$t->{id}", \%body);
            if ($st == 200) {
                $t->{ns} = $body{company_namespace};
                $t->{status} = $body{status} // $t->{status};
                $t->{version}++;
            }
        } elsif ($op eq 'status') {
            my $to = $t->{status} eq 'pending' ? 'in_progress'
                   : (qw(pending completed pending cancelled))[int($r / 4) % 4];
            ($st, $b) = api($w, PATCH => "$Base/$t->{id}/status",
                            {status => $to, notes => "r$r"});
            if ($st == 200) {
                $t->{status} = $to;
                $t->{version}++;
            }
        } else {
            ($st, $b) = api($w, DELETE => "$Base/$t->{id}");
            delete $E{ $t->{id} } if $st == 200;
        }
        $ops{"$op $st"}++;
        if ($op ne 'create' && $st != 200) {
            problem($r, "$what: answered $st $b");
            push @writes, "$what: answered $st $b";
        }
        next unless $t->{id};

        # 3: at once, one list on the other node that shows the write;
        # then those it moved the entry into and out of, on both nodes
        my @checks = $op eq 'create' || $op eq 'delete'
            ? ({}, {workorder => $t->{workorder}}, {client => $t->{client}},
               {ns => [$t->{ns}[0]]}, {ids => [$t->{id}, $any->{id}]},
               {status => $old{status}, workorder => $t->{workorder}})
            : $op eq 'update'
            ? ({ns => [$t->{ns}[0]]}, {ns => [$old{ns}[0]]},
               {ns => [$t->{ns}[1]]}, {ns => [$old{ns}[1]]},
               {status => $t->{status}, workorder => $t->{workorder}},
               {status => $old{status}, client => $t->{client}},
               {ids => [$t->{id}]})
            : ({status => $t->{status}, workorder => $t->{workorder}},
               {status => $old{status}, workorder => $t->{workorder}},
               {status => $t->{status}, client => $t->{client}},
               {status => $t->{status}}, {status => $old{status}},
               {ids => [$t->{id}]});
        my (@p, @items);
        for my $node ($o, $w) {
            for my $i (0 .. $#checks) {
                my ($p, $pid, $items) = list($node, $checks[$i],
                    "$what, after" . ($node == $o && $i == 0
                                      ? ', the first list' : ''));
                if ($node == $o && $i == 0) {
                    $first{$node}{$pid}++;
                    $first_failed++ if $p ne '';
                }
                push @p, $p;
                push @items, @$items;
            }
        }

        # 4: the entry from both nodes, then the lists' entries against it
        push @p, get_both($t->{id}, "$what, after");
        push @p, unlike_get(@items);
        problem($r, grep { $_ ne '' } @p);
    }

    my $secs = Time::HiRes::time() - $t0;
    note(sprintf "%s: %d rounds, %d lists in %.1f s; writes: %s; rounds "
                 . "where a worker was not warmed: %d", $Setup, $Rounds,
         $Lists, $secs, join(', ', map { "$_: $ops{$_}" } sort keys %ops),
         $unwarmed);
    is(join("\n", @writes), '', "$Setup: every write answered 2xx");
    my @shown = map { @{ $Failed{$_} } } @FailedOrder[0 .. List::Util::min(
        $ShowFailures, scalar @FailedOrder) - 1];
    is(scalar @FailedOrder, 0, "$Setup: every list right at once after "
                               . "each of the $Rounds writes, and before")
        or diag("rounds failed: " . scalar(@FailedOrder) . " (the first "
                . "list after the write listed wrong: $first_failed); the "
                . "first $ShowFailures:\n"
                . join("\n", @shown[0 .. List::Util::min(40, $#shown)]));
    for my $node (0, 1) {
        my %pids = %{ $first{$node} // {} };
        is(scalar keys %pids, $Workers,
           "$Setup: node $node: each of its workers answered first lists")
            or diag(join ', ', map { "$_: $pids{$_}" } sort keys %pids);
    }

    # what a cache must also survive: shards rewritten under it, and
    # shards on both servers
    my $compacted = compactions(@nodes);
    cmp_ok($compacted, '>', 0, "$Setup: index shards were compacted "
                               . "while the lists ran ($compacted times)");
    my %on;
    for my $n (0 .. $Shards - 1) {
        for my $port (@McPorts) {
            my @v = mc_gets($port, "${Prefix}idx:$n");
            $on{$port}++ if @v;
        }
    }
    is(scalar keys %on, 2, "$Setup: the $Shards index shards are on both "
                           . "memcached servers")
        or diag(join ', ', map { "$_: $on{$_}" } sort keys %on);
    stop_nodes(@nodes);
}

($Setup, $Tag) = ('memcached alone', 'mc');
run_setup(undef);

my $pg = WoportalFaults::start_postgresql($PgPort);
if ($pg) {
    WoportalFaults::psql($PgPort, 'postgres', '-c', 'CREATE DATABASE woportal');
    ($Setup, $Tag) = ('PostgreSQL', 'pg');
    run_setup("postgresql:host=127.0.0.1 port=$PgPort user=postgres "
              . "dbname=woportal");
} else {
    note('PostgreSQL is not installed (Debian: postgresql): memcached alone');
}

done_testing();
