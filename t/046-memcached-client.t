use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalFaults;
no_shuffle();

# The memcached client of the event loop (src/ngx_http_woportal_mc.c),
# black-box through the HTTP API:
#
# - TEST 1: libmemcached's --NAMESPACE is prefixed the same way by the
#   event-loop client (gets, adds, CAS sets, quiet index appends) and by
#   the pool threads' libmemcached (index shards, marks, lists): every
#   item of the location is under "ns46:" + woportal_key_prefix, none
#   without it, and an item written there by hand is what GET serves;
# - TEST 2: with --NAMESPACE, the list index lost, the list rebuilds it
#   from memcached's key dump and finds the entries, as it does without a
#   namespace (a known bug, outside mc.c: see ns_rebuild_problems);
# - TEST 3: values far larger than the connection's first read buffer
#   (16 KB): entries of about 48 and 69 KB, alone and in bursts with small
#   ones and with writes of large ones, each answered intact;
# - TEST 4 to 7: a fake memcached (Perl, below) that misbehaves: garbage
#   for an answer, an answer with an opaque nobody asked for, a connection
#   closed after reading a request (a get is sent again once on a fresh
#   connection, a write is not), no answer at all (the timeout);
# - TEST 8: pipelining: 50 gets in flight at once in one worker (its
#   memcached stopped while they come) use a few connections to memcached
#   (memcached's own stats), each answered with its own entry.
#
# Each block does its work in --- init (nginx is running then) and
# collects what went wrong in @main::Problems, which the block's request
# reports (data_ok), as t/045-batch.t does.  Servers of this file's own
# (the fakes, a memcached) are on ports mc_port(130) to mc_port(139).

use File::Temp ();
use IO::Select ();
use IO::Socket::INET ();
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

workers(1);

our $Base = '/api/v1/workorder-portal';
our $J = $Woportal::J;
our @Problems;

$ENV{TEST_NGINX_PREFIX} = fresh_prefix('t046');
$ENV{TEST_NGINX_PREFIX2} = fresh_prefix('t046b');
$ENV{TEST_NGINX_NS_PREFIX} = fresh_prefix('t046ns');
$ENV{TEST_NGINX_NS_PREFIX2} = fresh_prefix('t046nsb');
$ENV{TEST_NGINX_GARBAGE_PORT} = mc_port(130);
$ENV{TEST_NGINX_OPAQUE_PORT} = mc_port(131);
$ENV{TEST_NGINX_CLOSE_PORT} = mc_port(132);
$ENV{TEST_NGINX_SILENT_PORT} = mc_port(133);
$ENV{TEST_NGINX_REBUILD_PORT} = mc_port(138);
$ENV{TEST_NGINX_PIPE_PORT} = mc_port(139);

# the location on the suite's memcached, and /fake on a fake's port
our $Real = <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix $TEST_NGINX_PREFIX;
    }
_EOC_

sub fake_config {
    my $port_var = shift;
    return $Real . <<"_EOC_";
    location /fake {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:\$$port_var --BINARY-PROTOCOL";
        woportal_memcached_timeout 1500ms;
        woportal_api_key test-key;
        woportal_key_prefix \$TEST_NGINX_PREFIX;
    }
_EOC_
}

# TEST 1 and 2: the API with --NAMESPACE (its own prefix, 4 shards); the
# same without a namespace; /main for the block's own request.  The
# namespace is quoted for libmemcached, whose configuration parser refuses
# --NAMESPACE=ns46: unquoted; inside nginx's double-quoted string the
# quotes are written \" (nginx unescapes them).
sub ns_config {
    my ($ns_prefix_var, $port_var) = @_;
    return <<'_EOC_' =~ s/NS_PREFIX_VAR/$ns_prefix_var/r =~ s/MC_PORT_VAR/$port_var/gr;
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$MC_PORT_VAR --BINARY-PROTOCOL --NAMESPACE=\"ns46:\"";
        woportal_api_key test-key;
        woportal_key_prefix $NS_PREFIX_VAR;
        woportal_index_shards 4;
    }
    location /plain {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$MC_PORT_VAR --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix $TEST_NGINX_PREFIX2;
        woportal_index_shards 4;
    }
    location /main {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix $TEST_NGINX_PREFIX;
    }
_EOC_
}

block_defaults(config => $Real, more_headers => "X-API-Key: test-key\n");

sub id_of { sprintf '46ae%020x', $_[0] }

# the entry the block's own request reads
sub seed_main {
    Woportal::memcached_set($ENV{TEST_NGINX_PREFIX} . id_of(99),
                            Woportal::entry_json(id_of(99)));
}

# one request on a fresh connection: (status, body, seconds, data)
sub api {
    my ($method, $path, $body) = @_;
    my ($st, $b, $secs) = WoportalFaults::http_req(nginx_port(), $method,
        $path, ref $body ? $J->encode($body) : $body);
    my $d = WoportalFaults::jdecode($b);
    return ($st, $b, $secs, $d && ref $d->{data} ? $d->{data} : undef);
}

sub code_of { WoportalFaults::api_error($_[0]) }

# what the API serves for a stored value, byte for byte
# the JSON a stored value serves: after its header (item flags 5), or the
# value itself (flags 1, or a document of the test's own)
sub json_of {
    my $v = shift;
    return $v unless defined $v && length $v && ord($v) == 0xe5;
    my $e = Woportal::entry_value($v);
    return ref $e ? $e->{json} : $v;
}

sub envelope { '{"success":true,"data":' . json_of($_[0]) . '}' }

sub short {
    my $s = shift // '(undef)';
    return length $s > 200 ? substr($s, 0, 200) . '... (' . length($s)
                             . ' bytes)' : $s;
}

sub mc_stats {
    my $port = shift;
    my $s = WoportalFaults::mc_conn($port);
    print $s "stats\r\n";
    my %st;
    while (my $line = <$s>) {
        last if $line =~ /^END/;
        $st{$1} = $2 if $line =~ /^STAT (\S+) (\S+)/;
    }
    close $s;
    return \%st;
}


# TEST 1: --NAMESPACE ----------------------------------------------------------

sub ns_problems {
    my @p;
    my $port = $ENV{TEST_NGINX_MEMCACHED_PORT};
    my $pfx = $ENV{TEST_NGINX_NS_PREFIX};
    my $ns = 'ns46:';

    my ($st, $b, $secs, $d) = api(POST => $Base,
        {workorder => 'ns-wo', client => 'ns-cl', company_namespace => ['acme']});
    return "create answered $st: " . short($b) unless $st == 201 && $d;
    my $id = $d->{_id};

    # the event loop's add went to the namespaced key, and only there
    my ($v, $f) = WoportalFaults::mc_gets($port, "$ns$pfx$id");
    if (!defined $v) {
        push @p, "create: nothing stored under \"$ns$pfx$id\"";
    } else {
        push @p, "create: item flags $f, expected 5" if $f != 5;
        push @p, "create: the 201 body is not the value under \"$ns$pfx$id\""
            if $b ne envelope($v);
    }
    push @p, "create: an item under \"$pfx$id\", without the namespace"
        if WoportalFaults::mc_gets($port, "$pfx$id");

    # the event loop's get reads it there
    ($st, $b) = api(GET => "$Base/$id");
    push @p, "GET answered $st: " . short($b) if $st != 200;
    push @p, "GET: the body is not the value under \"$ns$pfx$id\""
        if defined $v && $st == 200 && $b ne envelope($v);

    # get, CAS set and quiet append, all namespaced
    ($st, $b, $secs, $d) = api(PUT => "$Base/$id", {access_level => 'comment'});
    push @p, "PUT answered $st: " . short($b) if $st != 200;
    ($v) = WoportalFaults::mc_gets($port, "$ns$pfx$id");
    my $sd = defined $v ? WoportalFaults::jdecode(json_of($v)) : undef;
    push @p, "PUT: the value under \"$ns$pfx$id\" is not version 2 with "
             . "access_level comment: " . short($v)
        unless $sd && $sd->{version} == 2 && $sd->{access_level} eq 'comment';
    push @p, "PUT: the body is not the value under \"$ns$pfx$id\""
        if defined $v && $st == 200 && $b ne envelope($v);

    # the list (pool threads, libmemcached) finds it, as updated
    push @p, list_problems('the first list', {$id => 2});

    # an item written by hand under the namespaced key is what GET serves
    my $id2 = id_of(461);
    my $doc = Woportal::entry_json($id2, version => 7, company_namespace => ['acme']);
    Woportal::memcached_set("$ns$pfx$id2", $doc);
    Woportal::memcached_set("$pfx$id2", Woportal::entry_json($id2, version => 8));
    ($st, $b) = api(GET => "$Base/$id2");
    push @p, "GET of the item set by hand: $st " . short($b)
             . ", expected " . envelope($doc)
        unless $st == 200 && $b eq envelope($doc);
    Woportal::memcached_delete("$pfx$id2");

    # another write after the list set the index's marks: its append, on
    # the event loop, goes to the namespaced shard the next list reads
    ($st, $b) = api(PATCH => "$Base/$id/status", {status => 'in_progress'});
    push @p, "PATCH status answered $st: " . short($b) if $st != 200;
    push @p, list_problems('a list after a status change', {$id => 3});

    # every item of the location is namespaced: the entries, the shards
    # (made by a pool thread, appended to by the event loop: the records
    # of the create and the PUT, which the first list's rebuild may have
    # folded into one, and the status change's are all in the namespaced
    # shard), the marks the list set
    my $bin = pack 'H*', $id;
    my ($records, @shards) = (0);
    for my $n (0 .. 3) {
        my ($sv) = WoportalFaults::mc_gets($port, "$ns${pfx}idx:$n");
        next unless defined $sv;
        push @shards, $n;
        $records += () = $sv =~ /\Q$bin\E/g;
    }
    push @p, "the namespaced shards (@shards) hold $records records of $id, "
             . "expected 2 or 3 (create and PUT, maybe folded; status)"
        if $records < 2 || $records > 3;
    push @p, "no index mark \"$ns${pfx}idx:gen:0\" after a list"
        unless WoportalFaults::mc_gets($port, "$ns${pfx}idx:gen:0");
    my @bare = grep { WoportalFaults::mc_gets($port, $_) }
               "$pfx$id", "$pfx$id2", (map { "${pfx}idx:$_" } 0 .. 3),
               "${pfx}idx:gen:0";
    push @p, "items without the namespace: @bare" if @bare;

    return @p;
}

# TEST 2: the list index lost (its shards and marks deleted by hand), for
# a location with --NAMESPACE and, as a control, one without: the list
# rebuilds it from memcached's key dump and finds both entries, the one
# created and the one set by hand.
#
# On a memcached of its own, run with -o no_lru_maintainer: with the
# segmented LRU (memcached's default) "lru_crawler metadump all" misses
# items that were read shortly before (the maintainer moves them between
# LRUs while the crawler walks them), so the rebuild from the key dump
# may leave out an entry a list just read: a problem of its own (not the
# client's), which would make this test fail by chance.
our $RebuildMc;

sub ns_rebuild_problems {
    my @p;
    my $port = $ENV{TEST_NGINX_REBUILD_PORT};
    $RebuildMc //= start_memcached($port, '-o', 'no_lru_maintainer');
    for my $loc (['', $ENV{TEST_NGINX_PREFIX2}, '/plain'],
                 ['ns46:', $ENV{TEST_NGINX_NS_PREFIX2}, $Base])
    {
        my ($ns, $pfx, $base) = @$loc;
        my $what = $ns ? "with --NAMESPACE=\"$ns\"" : 'without a namespace';
        my ($st, $b, $secs, $d) = api(POST => $base,
                                      {workorder => 'rb-wo', client => 'rb-cl'});
        if ($st != 201 || !$d) {
            push @p, "$what: create answered $st: " . short($b);
            next;
        }
        my $id = $d->{_id};
        push @p, list_problems("$what: the list before", {$id => 1}, $base);
        my $id2 = id_of(462);
        WoportalFaults::mc_set($port, "$ns$pfx$id2",
                               Woportal::entry_json($id2, version => 5), 1);

        WoportalFaults::mc_raw($port, "delete $ns$pfx$_\r\n")
            for (map { "idx:$_" } 0 .. 3), 'idx:gen:0';

        # with --NAMESPACE memcached holds the keys under "<namespace>
        # <prefix>": the dump is filtered on both and the keys handed to
        # libmemcached's multi-get without the namespace, which it adds
        # (before, the rebuild found no entry: "rebuilt with 0 entries")
        push @p, list_problems("$what: the list rebuilt from the key dump",
                               {$id => 1, $id2 => 5}, $base);
    }
    return @p;
}

# a list (of the namespaced location, unless $base): exactly these ids,
# at these versions
sub list_problems {
    my ($what, $want, $base) = @_;
    my ($st, $b, $secs, $d) = api(GET => ($base // $Base) . '?per_page=100');
    return "$what answered $st: " . short($b) if $st != 200 || ref $d ne 'ARRAY';
    my %got = map { $_->{_id} => $_->{version} } @$d;
    my $got = join ' ', map { "$_:$got{$_}" } sort keys %got;
    my $exp = join ' ', map { "$_:$want->{$_}" } sort keys %$want;
    return $got eq $exp ? () : ("$what: listed {$got}, expected {$exp}");
}


# TEST 3: large values ---------------------------------------------------------

# a free-form object whose compact JSON is just under the contract's
# 16 KiB (NGX_HTTP_WOPORTAL_FREE_MAX_SIZE), different for each tag
sub free_object {
    my $tag = shift;
    my %o = (nested => {tag => $tag, n => [1, 2.5, -0, 'x']});
    my $chars = join '', 'a' .. 'z', 0 .. 9, 'A' .. 'Z';
    for my $i (0 .. 98) {
        $o{sprintf 'k%03d', $i} = substr("$tag/$i/" . ($chars x 3), 0, 150);
    }
    my $len = length $J->encode(\%o);
    die "free_object($tag): $len bytes\n" if $len > 16384 || $len < 15000;
    return \%o;
}

sub large_body {
    my $tag = shift;
    return {workorder => "big-$tag", client => "cl-$tag",
            notifications => free_object("n-$tag"),
            portal_settings => free_object("p-$tag"),
            custom_branding => free_object("b-$tag")};
}

# (value, flags) under the location's key
sub stored { WoportalFaults::mc_gets($ENV{TEST_NGINX_MEMCACHED_PORT},
                                     $ENV{TEST_NGINX_PREFIX} . $_[0]) }

sub large_problems {
    my (@p, @large, @small);

    # 4 large entries; the first two grow by 10 status changes with the
    # longest notes (2000 characters) each
    for my $k (1 .. 4) {
        my $body = large_body("L$k");
        my ($st, $b, $secs, $d) = api(POST => $Base, $body);
        return "large create $k answered $st: " . short($b)
            unless $st == 201 && $d;
        push @p, "large create $k: the free-form objects came back changed"
            if grep { Woportal::jcanon($d->{$_}) ne Woportal::jcanon($body->{$_}) }
                    qw(notifications portal_settings custom_branding);
        push @large, $d->{_id};
    }
    for my $id (@large[0, 1]) {
        for my $i (1 .. 10) {
            my ($st, $b) = api(PATCH => "$Base/$id/status",
                               {status => $i % 2 ? 'in_progress' : 'pending',
                                notes => substr("$id-$i-" . ('note ' x 400), 0, 2000)});
            push @p, "status change $i of $id answered $st: " . short($b)
                if $st != 200;
        }
    }
    for my $k (1 .. 10) {
        my $id = id_of(200 + $k);
        Woportal::memcached_set($ENV{TEST_NGINX_PREFIX} . $id,
                                Woportal::entry_json($id, version => $k));
        push @small, $id;
    }

    my %size = map { $_ => length((stored($_))[0] // '') } @large;
    push @p, "$_: stored $size{$_} bytes, expected over 45 KB"
        for grep { $size{$_} < 45000 } @large;
    push @p, "$_: stored $size{$_} bytes, expected over 64 KB"
        for grep { $size{$_} < 65536 } @large[0, 1];
    Test::More::note("large entries: " . join ', ', map { "$size{$_} bytes" } @large);

    # one large entry alone, then a small one (the buffers shrink back)
    for my $id ($large[0], $small[0], $large[1], $small[1]) {
        my ($st, $b) = api(GET => "$Base/$id");
        my ($v) = stored($id);
        push @p, "GET $id alone: $st, " . length($b) . " bytes, expected 200 "
                 . "and " . length(envelope($v // '')) . " bytes"
            unless $st == 200 && defined $v && $b eq envelope($v);
    }

    # a burst of gets: each large entry twice, between small ones
    my @reqs;
    for my $round (1 .. 2) {
        for my $k (0 .. 3) {
            push @reqs, [GET => "$Base/$large[$k]"];
            push @reqs, [GET => "$Base/$small[$k * 2 + $round - 1]"];
        }
    }
    push @reqs, [GET => "$Base/$_"] for @small[8, 9];
    push @p, burst_problems('the burst of gets', \@reqs);

    # a burst of writes of large values beside gets: 3 large creates, a
    # large replacement and a large status change, gets of the others
    my %new_ps = (portal_settings => free_object("p-L3-replaced"));
    @reqs = ([POST => $Base, large_body('N1')],
             [GET => "$Base/$large[0]"],
             [PUT => "$Base/$large[2]", \%new_ps],
             [GET => "$Base/$small[2]"],
             [POST => $Base, large_body('N2')],
             [PATCH => "$Base/$large[3]/status",
              {status => 'completed', notes => 'n' x 2000}],
             [GET => "$Base/$large[1]"],
             [POST => $Base, large_body('N3')],
             [GET => "$Base/$small[3]"]);
    push @p, burst_problems('the burst of writes and gets', \@reqs);

    my ($v) = stored($large[2]);
    my $sd = WoportalFaults::jdecode(json_of($v));
    push @p, "PUT of $large[2] in the burst: the stored portal_settings is not "
             . "the one sent"
        unless $sd && Woportal::jcanon($sd->{portal_settings})
                      eq Woportal::jcanon($new_ps{portal_settings});
    ($v) = stored($large[3]);
    $sd = WoportalFaults::jdecode(json_of($v));
    push @p, "PATCH status of $large[3] in the burst: not stored"
        unless $sd && $sd->{status} eq 'completed'
               && $sd->{status_history}[-1]{notes} eq 'n' x 2000;

    # small again: intact
    for my $id (@small[4, 5]) {
        my ($st, $b) = api(GET => "$Base/$id");
        my ($v) = stored($id);
        push @p, "GET $id after the bursts: $st " . short($b)
            unless $st == 200 && defined $v && $b eq envelope($v);
    }
    return @p;
}

# each answer of a burst: a get's body is the stored value of the entry
# asked for, byte for byte; a write's is the value it stored; a create's
# data holds the objects it sent
sub burst_problems {
    my ($what, $reqs) = @_;
    my @p;
    my @got = Woportal::burst(@$reqs);
    for my $i (0 .. $#$reqs) {
        my ($m, $path, $body) = @{ $reqs->[$i] };
        my ($st, $h, $b) = @{ $got[$i] };
        my $want = $m eq 'POST' ? 201 : 200;
        if ($st != $want) {
            push @p, "$what: $m $path answered $st, expected $want: " . short($b);
            next;
        }
        my $d = WoportalFaults::jdecode($b);
        my ($id) = $path =~ m{/([0-9a-f]{24})(?:/status)?$};
        $id //= $d && ref $d->{data} eq 'HASH' ? $d->{data}{_id} // '' : '';
        my ($v) = stored($id);
        if (!defined $v) {
            push @p, "$what: $m $path: nothing stored for \"$id\"";
            next;
        }
        push @p, "$what: $m $path: the body (" . length($b) . " bytes) is not "
                 . "the stored value (" . length(envelope($v)) . " bytes)"
            if $b ne envelope($v);
        if ($m eq 'POST') {
            push @p, "$what: POST: the free-form objects came back changed"
                if grep { Woportal::jcanon($d->{data}{$_}) ne Woportal::jcanon($body->{$_}) }
                        qw(notifications portal_settings custom_branding);
        }
    }
    return @p;
}


# TEST 4 to 7: a fake memcached ---------------------------------------------------

# An entry as the module stores it, from a real create on the suite's
# memcached: (id, value, flags), for a fake to serve.
our @Sample;

sub sample {
    return @Sample if @Sample;
    my ($st, $b, $secs, $d) = api(POST => $Base, {workorder => 'sample',
                                                  client => 'c'});
    die "the sample create answered $st: $b\n" unless $st == 201 && $d;
    my ($v, $f) = stored($d->{_id});
    die "the sample entry is not in memcached\n" unless defined $v;
    @Sample = ($d->{_id}, $v, $f);
    return @Sample;
}

# A fake memcached on $port, a child of the test: it speaks just enough of
# the binary protocol to serve the module, and misbehaves as told.
# Each request that memcached answers (not a quiet one, not a NOOP) takes
# the next action of @$actions, then $default:
#
#   proper   answered as memcached would: a get from %$items (key =>
#            [value, flags]), else "not found"; add and set store, with
#            a CAS; delete; append
#   garbage  "ERROR\r\n", a text-protocol line: no binary answer (0x81)
#   opaque   answered properly, but with an opaque nobody sent
#   close    the connection closed, unanswered
#   silent   never answered, nor anything after it on that connection
#
# APPENDQ (the index append) is answered by silence: done; NOOP is
# answered (on a connection that is not silent).  Its log (a file) has a
# line for each event: "open <conn>", "req <conn> <opcode> <key>",
# "eof <conn>" (nginx closed it), "close <conn>" (the fake did).
# Returns (pid, log file).
sub start_fake {
    my ($port, $items, $actions, $default) = @_;
    my $listen = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
                                       LocalPort => $port, ReuseAddr => 1,
                                       Proto => 'tcp')
        or die "the fake memcached cannot listen on $port: $!\n";
    my ($fh, $log) = File::Temp::tempfile('t046-fake-XXXXXX', TMPDIR => 1,
                                          UNLINK => 1);
    close $fh;
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid == 0) {
        eval { fake_loop($listen, $log, $items, [@$actions], $default) };
        POSIX::_exit(0);
    }
    close $listen;
    # stopped with the other servers at the end, if not before
    $WoportalFaults::Children{$pid} = "fake:$port";
    return ($pid, $log);
}

sub stop_fake { WoportalFaults::reap($_[0], 'KILL') }

# a binary-protocol answer
sub mc_answer {
    my ($opcode, $status, $opaque, $cas, $extras, $value) = @_;
    $extras //= '';
    $value //= '';
    return pack('CCnCCnNNQ>', 0x81, $opcode, 0, length $extras, 0, $status,
                length($extras) + length($value), $opaque, $cas)
           . $extras . $value;
}

sub fake_loop {
    my ($listen, $logfile, $items, $actions, $default) = @_;
    open my $log, '>>', $logfile or die;
    $log->autoflush(1);
    my $sel = IO::Select->new($listen);
    my (%conn, %in, %silent);
    my ($n, $cas) = (0, 1000);
    for ( ;; ) {
        for my $fh ($sel->can_read) {
            if ($fh == $listen) {
                my $c = $listen->accept or next;
                binmode $c;
                $conn{$c} = ++$n;
                $in{$c} = '';
                $sel->add($c);
                print $log "open $n\n";
                next;
            }
            my $id = $conn{$fh};
            my $got = sysread $fh, my $buf, 1 << 20;
            if (!$got) {
                print $log "eof $id\n";
                $sel->remove($fh);
                close $fh;
                next;
            }
            next if $silent{$fh};
            $in{$fh} .= $buf;
            my $out = '';
            while (length $in{$fh} >= 24) {
                my (undef, $op, $klen, $xlen, undef, undef, $blen, $opaque)
                    = unpack 'CCnCCnNN', $in{$fh};
                last if length $in{$fh} < 24 + $blen;
                my $req = substr $in{$fh}, 0, 24 + $blen, '';
                my $extras = substr $req, 24, $xlen;
                my $key = substr $req, 24 + $xlen, $klen;
                my $value = substr $req, 24 + $xlen + $klen;
                print $log sprintf "req %d %02x %s\n", $id, $op, $key;

                if ($op == 0x0a) {                      # NOOP
                    $out .= mc_answer(0x0a, 0, $opaque, 0);
                    next;
                }
                if ($op == 0x19) {                      # APPENDQ: done
                    $items->{$key}[0] .= $value if $items->{$key};
                    next;
                }

                my $action = @$actions ? shift @$actions : $default;

                if ($action eq 'garbage') {
                    $out .= "ERROR\r\n";
                    next;
                }
                if ($action eq 'close') {
                    syswrite $fh, $out if length $out;
                    print $log "close $id\n";
                    $sel->remove($fh);
                    close $fh;
                    $out = '';
                    last;
                }
                if ($action eq 'silent') {
                    $silent{$fh} = 1;
                    last;
                }
                $opaque ^= 0x5a5a0000 if $action eq 'opaque';

                if ($op == 0x00) {                      # GET
                    my $item = $items->{$key};
                    $out .= $item
                        ? mc_answer(0, 0, $opaque, ++$cas,
                                    pack('N', $item->[1]), $item->[0])
                        : mc_answer(0, 0x0001, $opaque, 0, '', 'Not found');
                } elsif ($op == 0x01 || $op == 0x02) {  # SET, ADD
                    if ($op == 0x02 && $items->{$key}) {
                        $out .= mc_answer($op, 0x0002, $opaque, 0, '',
                                          'Data exists for key.');
                    } else {
                        $items->{$key} = [$value, unpack 'N', $extras];
                        $out .= mc_answer($op, 0, $opaque, ++$cas);
                    }
                } elsif ($op == 0x04) {                 # DELETE
                    $out .= mc_answer($op, delete $items->{$key} ? 0 : 1,
                                      $opaque, 0);
                } elsif ($op == 0x0e) {                 # APPEND
                    $items->{$key}[0] .= $value if $items->{$key};
                    $out .= mc_answer($op, $items->{$key} ? 0 : 5, $opaque,
                                      ++$cas);
                } else {
                    $out .= mc_answer($op, 0x0081, $opaque, 0, '',
                                      'Unknown command');
                }
            }
            syswrite $fh, $out if length $out;
        }
    }
}

# the fake's log: its lines, once $until (a sub of the lines) holds or
# after 2 s
sub fake_log {
    my ($log, $until) = @_;
    my @lines;
    my $deadline = Time::HiRes::time() + 2;
    for ( ;; ) {
        @lines = map { chomp; $_ } WoportalFaults::read_lines($log);
        last if !$until || $until->(@lines) || Time::HiRes::time() > $deadline;
        Time::HiRes::sleep(0.02);
    }
    return @lines;
}

sub count { my $re = shift; scalar grep { /$re/ } @_ }

sub expect_503 {
    my ($what, $st, $b) = @_;
    return () if $st == 503 && code_of($b) eq 'store_unavailable';
    return ("$what: $st " . short($b) . ", expected 503 store_unavailable");
}

# TEST 4
sub garbage_problems {
    my @p;
    my ($id, $v, $f) = sample();
    my ($pid, $log) = start_fake($ENV{TEST_NGINX_GARBAGE_PORT},
                                 {$ENV{TEST_NGINX_PREFIX} . $id => [$v, $f]},
                                 [], 'garbage');
    my ($st, $b) = api(GET => "/fake/$id");
    push @p, expect_503('GET', $st, $b);
    ($st, $b) = api(POST => '/fake', {workorder => 'w', client => 'c'});
    push @p, expect_503('POST', $st, $b);
    my @lines = fake_log($log, sub { count(qr/^req \d+ 02 /, @_) });
    push @p, "the fake saw no add: @lines" unless count(qr/^req \d+ 02 /, @lines);
    # nginx still serves
    ($st, $b) = api(GET => "$Base/$id");
    push @p, "GET from the real memcached after the garbage: $st " . short($b)
        unless $st == 200 && $b eq envelope($v);
    stop_fake($pid);
    return @p;
}

# TEST 5
sub opaque_problems {
    my @p;
    my ($id, $v, $f) = sample();
    my ($pid, $log) = start_fake($ENV{TEST_NGINX_OPAQUE_PORT},
                                 {$ENV{TEST_NGINX_PREFIX} . $id => [$v, $f]},
                                 ['opaque', 'opaque'], 'proper');
    # the get and the one time it is sent again, on a fresh connection:
    # both answered with an opaque nobody sent
    my ($st, $b) = api(GET => "/fake/$id");
    push @p, expect_503('GET', $st, $b);
    my @lines = fake_log($log, sub { count(qr/^eof [12]$/, @_) == 2 });
    push @p, "the get was not sent on two connections: @lines"
        unless count(qr/^req 1 00 /, @lines) == 1
               && count(qr/^req 2 00 /, @lines) == 1;
    push @p, "nginx kept a connection that had a bad answer: @lines"
        unless count(qr/^eof [12]$/, @lines) == 2;

    # the next request: a fresh connection, answered properly
    ($st, $b) = api(GET => "/fake/$id");
    push @p, "the next GET: $st " . short($b) . ", expected 200 "
             . short(envelope($v))
        unless $st == 200 && $b eq envelope($v);
    @lines = fake_log($log);
    push @p, "the next GET was not on a fresh connection: @lines"
        unless count(qr/^req 3 00 /, @lines) == 1 && count(qr/^open/, @lines) == 3;
    stop_fake($pid);
    return @p;
}

# TEST 6
sub close_problems {
    my @p;
    my ($id, $v, $f) = sample();
    my ($pid, $log) = start_fake($ENV{TEST_NGINX_CLOSE_PORT},
                                 {$ENV{TEST_NGINX_PREFIX} . $id => [$v, $f]},
                                 ['close', 'proper', 'close'], 'proper');
    # a get whose connection closes unanswered: sent again, answered
    my ($st, $b) = api(GET => "/fake/$id");
    push @p, "GET on a connection closed under it: $st " . short($b)
             . ", expected 200 " . short(envelope($v))
        unless $st == 200 && $b eq envelope($v);
    my @lines = fake_log($log);
    push @p, "the get was not sent again on a second connection: @lines"
        unless count(qr/^open/, @lines) == 2
               && count(qr/^req 1 00 /, @lines) == 1
               && count(qr/^req 2 00 /, @lines) == 1;

    # a write (an add) whose connection closes unanswered: it may have
    # been done, so it is not sent again
    ($st, $b) = api(POST => '/fake', {workorder => 'w', client => 'c'});
    push @p, expect_503('POST', $st, $b);
    Time::HiRes::sleep(0.3);
    @lines = fake_log($log);
    push @p, "the add was sent " . count(qr/^req \d+ 02 /, @lines)
             . " times, expected once: @lines"
        unless count(qr/^req \d+ 02 /, @lines) == 1;
    push @p, "nginx opened a connection for the add again: @lines"
        unless count(qr/^open/, @lines) == 2;

    # and the next request is served, on a fresh connection
    ($st, $b) = api(GET => "/fake/$id");
    push @p, "the next GET: $st " . short($b)
        unless $st == 200 && $b eq envelope($v);
    stop_fake($pid);
    return @p;
}

# TEST 7
sub silent_problems {
    my @p;
    my ($id, $v, $f) = sample();
    my ($pid, $log) = start_fake($ENV{TEST_NGINX_SILENT_PORT},
                                 {$ENV{TEST_NGINX_PREFIX} . $id => [$v, $f]},
                                 [], 'silent');
    my ($st, $b, $secs) = api(GET => "/fake/$id");
    push @p, expect_503('GET', $st, $b);
    # woportal_memcached_timeout 1.5 s, with slack for a loaded machine,
    # but less than a second timeout (the get sent again after the first)
    push @p, sprintf "the GET was answered after %.2f s: not the 1.5 s "
                     . "timeout", $secs
        if $secs < 1.4 || ($secs > 2.9 && !$ENV{TEST_NGINX_USE_VALGRIND});
    my @lines = fake_log($log);
    push @p, "the fake never saw the get: @lines"
        unless count(qr/^req \d+ 00 /, @lines);
    stop_fake($pid);
    return @p;
}


# TEST 8: pipelining -------------------------------------------------------------

our $PipeMc;

sub pipe_problems {
    my @p;
    my $port = $ENV{TEST_NGINX_PIPE_PORT};
    $PipeMc //= start_memcached($port);
    my (@ids, %doc);
    for my $k (1 .. 50) {
        my $id = id_of(700 + $k);
        $doc{$id} = Woportal::entry_json($id, version => $k,
                                         client => sprintf('%024x', $k));
        my $r = WoportalFaults::mc_set($port, "woportal:$id", $doc{$id}, 1);
        die "seeding: $r" unless $r =~ /^STORED/;
        push @ids, $id;
    }
    # memcached stopped while the 50 gets come: the kernel still
    # completes nginx's connects, nothing is answered, so all 50 are in
    # flight at once (nginx's timeout is 3 s); then it goes on
    my $before = mc_stats($port);
    kill 'STOP', $PipeMc;
    my @got = Woportal::burst(sub {
        Time::HiRes::sleep(0.5);
        kill 'CONT', $PipeMc;
    }, map { [GET => "/pipe/$_"] } @ids);
    kill 'CONT', $PipeMc;
    my $after = mc_stats($port);

    for my $i (0 .. $#ids) {
        my ($st, $h, $b) = @{ $got[$i] };
        push @p, "GET $ids[$i]: $st " . short($b) . ", expected 200 "
                 . short(envelope($doc{$ids[$i]}))
            unless $st == 200 && $b eq envelope($doc{$ids[$i]});
    }

    # the stats connections are memcached's too: the one of $after
    my $opened = $after->{total_connections} - $before->{total_connections} - 1;
    my $open = $after->{curr_connections} - $before->{curr_connections};
    Test::More::note("50 gets in flight at once: $opened connections opened to "
                     . "memcached, $open open");
    push @p, "50 gets in flight at once opened $opened connections to "
             . "memcached, expected 1 to 4 (pipelined)"
        if $opened < 1 || $opened > 4;
    push @p, "$open connections to memcached are open after 50 gets, "
             . "expected 1 to 4 (kept alive)"
        if $open < 1 || $open > 4;
    return @p;
}

run_tests();

__DATA__

=== TEST 1: --NAMESPACE: the event loop's gets, writes and quiet appends and the pool threads' shards, marks and lists all use "ns46:" + the key prefix, nothing without it; an item set there by hand is what GET serves
--- config eval: main::ns_config('TEST_NGINX_NS_PREFIX', 'TEST_NGINX_MEMCACHED_PORT')
--- init
main::seed_main();
@main::Problems = main::ns_problems();
--- request
GET /main/46ae00000000000000000063
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
--- no_error_log
[alert]
[crit]



=== TEST 2: --NAMESPACE: the list index lost, the list rebuilds it from memcached's key dump and finds the entries, as it does without a namespace
--- config eval: main::ns_config('TEST_NGINX_NS_PREFIX2', 'TEST_NGINX_REBUILD_PORT')
--- init
main::seed_main();
@main::Problems = main::ns_rebuild_problems();
--- request
GET /main/46ae00000000000000000063
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
--- no_error_log
[alert]
[crit]



=== TEST 3: large values (entries of 48 and 69 KB, the read buffer is 16 KB): alone, then in bursts of gets with small entries and of large writes beside gets, each answered intact
--- init
main::seed_main();
@main::Problems = main::large_problems();
--- request
GET /api/v1/workorder-portal/46ae00000000000000000063
--- error_code: 200
--- timeout: 10
--- data_ok eval
sub { @main::Problems }
--- no_error_log
[alert]
[crit]



=== TEST 4: memcached answers garbage (no binary answer): 503 store_unavailable, logged, nginx goes on
--- config eval: main::fake_config('TEST_NGINX_GARBAGE_PORT')
--- init
main::seed_main();
@main::Problems = main::garbage_problems();
--- request
GET /api/v1/workorder-portal/46ae00000000000000000063
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
--- error_log eval
qr/woportal: memcached "127\.0\.0\.1:\d+" sent a bad answer/
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 5: memcached answers with an opaque nobody sent: the connection is dropped, the get sent again once (503 when that fails too), the next request served on a fresh connection
--- config eval: main::fake_config('TEST_NGINX_OPAQUE_PORT')
--- init
main::seed_main();
@main::Problems = main::opaque_problems();
--- request
GET /api/v1/workorder-portal/46ae00000000000000000063
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
--- error_log
sent an answer to nothing asked, or a bad one
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 6: memcached closes the connection after reading a request: a get is sent again on a fresh connection and served; a write is not sent again (503)
--- config eval: main::fake_config('TEST_NGINX_CLOSE_PORT')
--- init
main::seed_main();
@main::Problems = main::close_problems();
--- request
GET /api/v1/workorder-portal/46ae00000000000000000063
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
--- error_log eval
qr/woportal: memcached add "[^"]+" failed: memcached closed the connection/
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 7: memcached accepts and never answers: 503 store_unavailable after woportal_memcached_timeout (1.5 s), not twice it
--- config eval: main::fake_config('TEST_NGINX_SILENT_PORT')
--- init
main::seed_main();
@main::Problems = main::silent_problems();
--- request
GET /api/v1/workorder-portal/46ae00000000000000000063
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
--- error_log
timed out
--- no_error_log
[alert]
[crit]
exited on signal



=== TEST 8: pipelining: 50 gets in flight at once in one worker (memcached stopped meanwhile) use at most 4 connections to memcached (its stats), each answered with its own entry
--- config eval
$main::Real . <<'_EOC_';
    location /pipe {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_PIPE_PORT --BINARY-PROTOCOL";
        woportal_memcached_timeout 3s;
        woportal_api_key test-key;
    }
_EOC_
--- init
main::seed_main();
@main::Problems = main::pipe_problems();
--- request
GET /api/v1/workorder-portal/46ae00000000000000000063
--- error_code: 200
--- data_ok eval
sub { @main::Problems }
--- no_error_log
[alert]
[crit]
