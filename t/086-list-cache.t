use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
no_shuffle();

# Lists cost what they return (src/ngx_http_woportal_index_cache.c,
# DEVELOPING.md "How entries are stored"): each worker caches the list
# index, and a list asks memcached only what changed.  A memcached of this
# file's own, whose "stats" counters say what each list asked for; one
# worker, so that one cache answers every list.
#
# - A list over a warm cache gets the change count and the mark (two keys)
#   and its page's entries: no shard, no touch.
# - After one write, the next list touches the shards of the count's
#   server (their CAS, without the value) and reads the one shard that
#   changed; it lists the change.
# - Exact filters (_id[], workorder, client, status, company_namespace)
#   list what a filter over every entry lists.
# - memcached flushed: the cache is of another generation and is dropped;
#   the list is rebuilt, none of the cached entries is listed again.
# - garbage under a change count: writes go on (the count is made again)
#   and are listed.

use File::Temp ();
use IO::Socket::INET ();
use JSON::PP ();
use Time::HiRes ();

workers(1);

our $McPort = ($ENV{TEST_NGINX_MEMCACHED_PORT} // 21211) + 60;
our $McDir = File::Temp::tempdir('t086-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $McPid;
$ENV{TEST_NGINX_CACHE_MEMCACHED_PORT} = $McPort;
$ENV{TEST_NGINX_RUN_ID} //= $$ . '-' . time();

our $Shards = 16;
our $J = JSON::PP->new->canonical;
our (@Problems, %Entries);

sub own_mc {
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $McPort,
                                 Timeout => 2);
}

sub start_own_memcached {
    system('memcached', '-d', '-l', '127.0.0.1', '-p', $McPort, '-U', '0',
           '-u', 'root', '-m', '64', '-P', "$McDir/pid") == 0
        or die "cannot start memcached on $McPort\n";
    for (1 .. 100) {
        if (own_mc() && open my $in, '<', "$McDir/pid") {
            ($McPid) = <$in> =~ /(\d+)/;
            return;
        }
        Time::HiRes::sleep(0.05);
    }
    die "memcached did not start on $McPort\n";
}

start_own_memcached();
add_cleanup_handler(sub { kill 'TERM', $McPid if $McPid });

# memcached's counters
sub stats {
    my $s = own_mc() or die "memcached on $McPort: $!\n";
    print $s "stats\r\n";
    my %st;
    while (my $line = <$s>) {
        last if $line =~ /^END/;
        $st{$1} = $2 if $line =~ /^STAT (\S+) (\S+)/;
    }
    return \%st;
}

# what memcached was asked between two stats
sub delta {
    my ($a, $b) = @_;
    return { map { $_ => $b->{$_} - $a->{$_} }
             qw(cmd_get get_hits cmd_touch bytes_written) };
}

sub flush_own {
    my $s = own_mc() or die "memcached on $McPort: $!\n";
    print $s "flush_all\r\n";
    my $reply = <$s>;
    die "flush_all: $reply" unless $reply =~ /^OK/;
}

sub api {
    my ($method, $path, $body) = @_;
    my ($status, undef, $rbody) =
        Woportal::http_request($method, "/api/v1/workorder-portal$path",
                               $body);
    my $doc = eval { JSON::PP->new->decode($rbody) };
    return ($status, $doc);
}

# n entries: workorders and clients shared by a few, two namespaces of
# four, statuses round
sub create_entries {
    my $n = shift;
    %Entries = ();
    for my $i (1 .. $n) {
        my $body = sprintf '{"workorder":"%024x","client":"%024x",'
                           . '"company_namespace":["ns-%d","ns-%d"]}',
                           0x5000 + $i % 7, 0x6000 + $i % 5, $i % 4,
                           ($i + 1) % 4;
        my ($st, $doc) = api(POST => '', $body);
        die "create: $st\n" unless $st == 201;
        $Entries{$doc->{data}{_id}} = $doc->{data};
    }
    my @st = qw(in_progress completed cancelled);
    my $i = 0;
    for my $id (sort keys %Entries) {
        next if $i++ % 2;
        my ($st, $doc) = api(PATCH => "/$id/status",
                             qq({"status":"$st[$i % 3]"}));
        die "status: $st\n" unless $st == 200;
        $Entries{$id} = $doc->{data};
    }
}

# the list's ids and total (per_page 100 unless the query says)
sub listed {
    my $query = shift;
    $query = "per_page=100$query" unless $query =~ /per_page/;
    my ($st, $doc) = api(GET => "?$query");
    return (undef, "$st") unless $st == 200;
    return ([sort map { $_->{_id} } @{ $doc->{data} }],
            $doc->{paging}{total});
}

# TEST 1
sub warm_problems {
    create_entries(30);
    my @p;
    listed('') for 1 .. 2;      # the first reads and caches every shard
    my $s0 = stats();
    listed('per_page=5') for 1 .. 5;
    my $d = delta($s0, stats());
    # 5 lists of 5: each the count, the mark and its 5 entries
    push @p, "5 warm lists touched $d->{cmd_touch} keys, expected 0"
        if $d->{cmd_touch} != 0;
    push @p, "5 warm lists got $d->{cmd_get} keys, expected 35"
        if $d->{cmd_get} != 35;
    my ($id) = sort keys %Entries;
    my ($st, $doc) = api(PATCH => "/$id", '{"disabled":true}');
    push @p, "the update answered $st" unless $st == 200;
    $s0 = stats();
    my ($ids, $total) = listed("_id[]=$id&per_page=1");
    $d = delta($s0, stats());
    push @p, "the list after a write touched $d->{cmd_touch} shards, "
             . "expected $Shards"
        if $d->{cmd_touch} != $Shards;
    # the count, the mark, the one shard, the one entry
    push @p, "the list after a write got $d->{cmd_get} keys, expected 4"
        if $d->{cmd_get} != 4;
    ($st, $doc) = api(GET => "?per_page=100");
    my ($listed) = grep { $_->{_id} eq $id } @{ $doc->{data} || [] };
    push @p, "the update is not listed"
        unless $listed && $listed->{disabled};
    return @p;
}

# TEST 2: exact filters against a filter over every entry
sub filter_problems {
    create_entries(40);
    my @p;
    my @ids = sort keys %Entries;
    my @queries = (
        ["&_id[]=$ids[3]&_id[]=$ids[7]&_id[]=$ids[3]&_id[]=" . ('0' x 24),
         sub { $_[0]{_id} eq $ids[3] || $_[0]{_id} eq $ids[7] }],
        ["&_id[]=$ids[5]&status=pending",
         sub { $_[0]{_id} eq $ids[5] && $_[0]{status} eq 'pending' }],
    );
    for my $w (0 .. 6) {
        my $wo = sprintf '%024x', 0x5000 + $w;
        push @queries, ["&workorder=$wo", sub { $_[0]{workorder} eq $wo }];
    }
    for my $c (0 .. 4) {
        my $cl = sprintf '%024x', 0x6000 + $c;
        push @queries, ["&client=$cl&status=completed",
                        sub { $_[0]{client} eq $cl
                              && $_[0]{status} eq 'completed' }];
    }
    for my $st (qw(pending in_progress completed cancelled)) {
        push @queries, ["&status=$st", sub { $_[0]{status} eq $st }];
    }
    for my $ns (0 .. 3) {
        push @queries, ["&company_namespace=ns-$ns",
                        sub { grep { $_ eq "ns-$ns" }
                              @{ $_[0]{company_namespace} } }];
    }
    push @queries, ["&company_namespace[]=ns-0&company_namespace[]=ns-1",
                    sub { grep { $_ eq 'ns-0' || $_ eq 'ns-1' }
                          @{ $_[0]{company_namespace} } }];
    for my $q (@queries) {
        my ($query, $want) = @$q;
        my @want = sort grep { $want->($Entries{$_}) } @ids;
        for my $round (1 .. 2) {
            my ($got, $total) = listed($query);
            push @p, "$query: answered $total" and next unless $got;
            push @p, "$query (list $round): listed @$got total $total, "
                     . "expected @want"
                unless "@$got" eq "@want" && $total == @want;
        }
    }
    return @p;
}

# TEST 3: memcached flushed under a warm cache
sub flush_problems {
    create_entries(10);
    my @p;
    listed('') for 1 .. 2;
    flush_own();
    my ($got, $total) = listed('');
    push @p, "after the flush: listed " . scalar(@{ $got || [] })
             . " entries, total $total, expected none"
        unless $got && @$got == 0 && $total == 0;
    my ($st, $doc) = api(POST => '', '{"workorder":"507f1f77bcf86cd799439012",'
                                     . '"client":"507f1f77bcf86cd799439013"}');
    push @p, "a create after the flush answered $st" unless $st == 201;
    ($got, $total) = listed('');
    push @p, "after a create: listed @{ $got || [] } total $total, expected "
             . "the one entry"
        unless $got && @$got == 1 && $got->[0] eq $doc->{data}{_id}
               && $total == 1;
    # flushed again, no write after: the lists make the change count, so
    # that they stop touching the shards
    flush_own();
    listed('') for 1 .. 2;
    my $s0 = stats();
    listed('');
    my $d = delta($s0, stats());
    push @p, "a list after a flush and no write touched $d->{cmd_touch} "
             . "shards, expected none"
        if $d->{cmd_touch} != 0;
    return @p;
}

# TEST 4: garbage under the change count
sub count_problems {
    my $n = shift;
    create_entries(3);
    my @p;
    listed('') for 1 .. 2;
    my $key = "t086-$ENV{TEST_NGINX_RUN_ID}-$n:idx:count:0";
    my $s = own_mc() or die "memcached on $McPort: $!\n";
    print $s "set $key 0 0 5\r\nnot-a\r\n";
    my $reply = <$s>;
    die "set $key: $reply" unless $reply =~ /^STORED/;
    my ($st, $doc) = api(POST => '', '{"workorder":"507f1f77bcf86cd799439012",'
                                     . '"client":"507f1f77bcf86cd799439013"}');
    push @p, "a create over a garbage count answered $st" unless $st == 201;
    my ($got, $total) = listed('');
    push @p, "the create is not listed (total $total)"
        unless $got && $st == 201 && grep { $_ eq $doc->{data}{_id} } @$got;
    print $s "get $key\r\n";
    my $line = <$s>;
    my $value = '';
    if ($line =~ /^VALUE \S+ \d+ (\d+)/) {
        read $s, $value, $1;
    }
    push @p, "the count is \"$value\", not a number again"
        unless $value =~ /^\d+$/;
    return @p;
}

sub location {
    my $n = shift;
    return <<"_EOC_";
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:\$TEST_NGINX_CACHE_MEMCACHED_PORT";
        woportal_api_key test-key;
        woportal_key_prefix t086-$ENV{TEST_NGINX_RUN_ID}-$n:;
        woportal_index_shards $Shards;
    }
_EOC_
}

block_defaults(more_headers => "X-API-Key: test-key\n");

run_tests();

__DATA__

=== TEST 1: a list over a warm cache gets the change count, the mark and its page's entries, no shard; after a write the next list touches every shard of the server and reads the one that changed, and lists the change
--- config eval
main::location(1)
--- init
@main::Problems = main::warm_problems();
--- request
GET /api/v1/workorder-portal?per_page=1
--- error_code: 200
--- data_ok eval
sub { @main::Problems }



=== TEST 2: exact filters (_id[], workorder, client, status, company_namespace, and together) list what a filter over every entry lists, twice (the second from the cache)
--- config eval
main::location(2)
--- init
@main::Problems = main::filter_problems();
--- request
GET /api/v1/workorder-portal?per_page=1
--- error_code: 200
--- data_ok eval
sub { @main::Problems }



=== TEST 3: memcached flushed under a warm cache: the list lists none of the entries it had cached, then only the one created since; flushed again, with no write, lists stop touching the shards
--- config eval
main::location(3)
--- init
@main::Problems = main::flush_problems();
--- request
GET /api/v1/workorder-portal?per_page=1
--- error_code: 200
--- data_ok eval
sub { @main::Problems }



=== TEST 4: garbage under the change count: a create is answered 201 and listed by the next list, and the count is a number again
--- config eval
main::location(4)
--- init
@main::Problems = main::count_problems(4);
--- request
GET /api/v1/workorder-portal?per_page=1
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
