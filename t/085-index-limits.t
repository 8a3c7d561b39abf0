use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
no_shuffle();

# The list index against memcached's item size limit (src/ngx_http_woportal
# _index.c, DEVELOPING.md "How entries are stored"): a memcached of this
# file's own, with 4 KiB items (-I 4k), and the whole index in one shard.
#
# - A writer whose append is refused because the shard is full compacts it
#   (CAS) and appends: many updates of one entry all succeed, and the shard
#   stays under the limit.
# - When the live records alone fill the shard, a create is answered 503
#   store_unavailable and taken back (never stored unlisted); every 201 is
#   listed and nothing else is, and the log names the directive to raise.

use File::Temp ();
use IO::Socket::INET ();
use JSON::PP ();
use Time::HiRes ();

our $McPort = ($ENV{TEST_NGINX_MEMCACHED_PORT} // 21211) + 50;
our $McDir = File::Temp::tempdir('t085-XXXXXX', TMPDIR => 1, CLEANUP => 1);
our $McPid = "$McDir/memcached.pid";
our $McPidNum;
$ENV{TEST_NGINX_SMALL_MEMCACHED_PORT} = $McPort;
$ENV{TEST_NGINX_RUN_ID} //= $$ . '-' . time();

sub small_mc {
    return IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $McPort,
                                 Timeout => 2);
}

# a memcached with 4 KiB items, stopped when the file ends
sub start_small_memcached {
    system('memcached', '-d', '-l', '127.0.0.1', '-p', $McPort, '-U', '0',
           '-u', 'root', '-m', '64', '-I', '4k', '-o', 'slab_chunk_max=2048',
           '-P', $McPid) == 0
        or die "cannot start memcached on $McPort\n";
    for (1 .. 100) {
        my $s = small_mc();
        if ($s && open my $in, '<', $McPid) {
            ($McPidNum) = <$in> =~ /(\d+)/;
            return;
        }
        Time::HiRes::sleep(0.05);
    }
    die "memcached did not start on $McPort\n";
}

sub stop_small_memcached {
    kill 'TERM', $McPidNum if $McPidNum;
}

start_small_memcached();
add_cleanup_handler(\&stop_small_memcached);

block_defaults(more_headers => "X-API-Key: test-key\n");

# the length of a raw value in the small memcached, undef when missing
sub small_len {
    my $key = shift;
    my $s = small_mc() or die "memcached on $McPort: $!\n";
    print $s "get $key\r\n";
    my $line = <$s>;
    return undef if $line =~ /^END/;
    my ($len) = $line =~ /^VALUE \S+ \d+ (\d+)/ or die "get $key: $line";
    return $len;
}

# the ids of the entries stored under this block's prefix (memcached's
# lru_crawler lists every key)
sub stored_ids {
    my $prefix = shift;
    my $s = small_mc() or die "memcached on $McPort: $!\n";
    print $s "lru_crawler metadump all\r\n";
    my @ids;
    while (my $line = <$s>) {
        last if $line =~ /^(END|ERROR|BUSY)/;
        my ($key) = $line =~ /^key=(\S+)/ or next;
        $key =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
        push @ids, $1 if $key =~ /^\Q$prefix\E([0-9a-f]{24})$/;
    }
    return @ids;
}

# one request on a fresh connection: (status, decoded body or undef)
sub http {
    my ($method, $path, $body) = @_;
    my ($status, undef, $rbody) =
        Woportal::http_request($method, "/api/v1/workorder-portal$path", $body);
    my $doc = eval { JSON::PP->new->decode($rbody) };
    return ($status, $doc);
}

our %Answers;     # status => count
our @Created;     # ids answered 201
our $Id;

# the key prefix of block n's location
sub prefix { "t085-$ENV{TEST_NGINX_RUN_ID}-$_[0]:" }

sub location {
    my $n = shift;
    my $prefix = prefix($n);
    return <<"_EOC_";
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:\$TEST_NGINX_SMALL_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix $prefix;
        woportal_index_shards 1;
    }
_EOC_
}

sub update_many {
    my $n = shift;
    %Answers = ();
    my ($st, $doc) = http('POST', '', '{"workorder":"507f1f77bcf86cd799439012",'
                                      . '"client":"507f1f77bcf86cd799439013"}');
    die "create: $st\n" unless $st eq '201';
    $Id = $doc->{data}{_id};
    for my $i (1 .. $n) {
        my $v = $i % 2 ? 'true' : 'false';
        ($st) = http('PATCH', "/$Id", qq({"disabled":$v}));
        $Answers{$st}++;
    }
}

sub create_many {
    my $n = shift;
    %Answers = ();
    @Created = ();
    for my $i (1 .. $n) {
        my ($st, $doc) = http('POST', '', qq({"workorder":"507f1f77bcf86cd7994390$i",)
                                          . '"client":"507f1f77bcf86cd799439013"}');
        $Answers{$st}++;
        push @Created, $doc->{data}{_id} if $st eq '201';
    }
}

sub paging_of {
    my $body = shift;
    my $doc = eval { JSON::PP->new->decode($body) } // {};
    return $doc->{paging} // {};
}

run_tests();

__DATA__

=== TEST 1: 150 updates of one entry: every one succeeds (a full shard is compacted by the writer) and the shard stays under 4 KiB
--- config eval
main::location(1)
--- init
main::update_many(150);
--- request
GET /api/v1/workorder-portal?per_page=5
--- error_code: 200
--- data_ok eval
sub {
    my ($data, $body) = @_;
    my @p;
    my $answers = CORE::join ' ', map { "$_:$main::Answers{$_}" } sort keys %main::Answers;
    push @p, "updates answered $answers, expected 200:150" if $answers ne '200:150';
    push @p, "listed " . scalar(@$data) . " entries, expected 1" if @$data != 1;
    push @p, "listed version $data->[0]{version}, expected 151"
        if @$data && $data->[0]{version} != 151;
    push @p, "listed $data->[0]{_id}, expected $main::Id"
        if @$data && $data->[0]{_id} ne $main::Id;
    my $paging = main::paging_of($body);
    push @p, "total $paging->{total}, expected 1" if ($paging->{total} // -1) != 1;
    my $len = main::small_len(main::prefix(1) . 'idx:0');
    push @p, "the shard is missing" unless defined $len;
    push @p, "the shard holds $len bytes, over the 4 KiB limit"
        if defined $len && $len > 4096;
    return @p;
}



=== TEST 2: creates beyond what one 4 KiB shard holds: 201 while the records fit, then 503 store_unavailable; every 201 is listed, no 503 is stored
--- config eval
main::location(2)
--- init
main::create_many(90);
--- request
GET /api/v1/workorder-portal?per_page=100&sort=_id
--- error_code: 200
--- data_ok eval
sub {
    my ($data, $body) = @_;
    my @p;
    my $ok = $main::Answers{201} // 0;
    my $full = $main::Answers{503} // 0;
    push @p, "answers: " . CORE::join(' ', map { "$_:$main::Answers{$_}" } sort keys %main::Answers)
        . " (only 201 and 503 may be)" if $ok + $full != 90;
    push @p, "no create succeeded" unless $ok;
    push @p, "no create was refused: the shard never filled" unless $full;
    my $listed = CORE::join ' ', map { $_->{_id} } @$data;
    my $want = CORE::join ' ', sort @main::Created;
    push @p, "listed [$listed], expected the created [$want]" if $listed ne $want;
    my $paging = main::paging_of($body);
    push @p, "total $paging->{total}, expected $ok" if ($paging->{total} // -1) != $ok;
    my @stored = main::stored_ids(main::prefix(2));
    push @p, scalar(@stored) . " entries are stored, expected the $ok created"
        if @stored != $ok;
    return @p;
}
--- error_log
is full with
raise "woportal_index_shards"
the entry was taken back

