use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
no_shuffle();

# The list under concurrency: forked clients create, update and delete
# entries in parallel against two worker processes (and, with one index
# shard, other clients list at the same time, so lists compact the shard
# while writers append to it).  Afterwards the list's total is exactly
# creates - deletes and the _ids listed over all pages are exactly the
# surviving ones, each once, each at the version its writes left it.
# contract/CONTRACT-NOTES.md (Lists, Concurrency) and the list's
# specification (see t/080-list.t).
#
# Each block has its own woportal_key_prefix (t081-b<N>-<run id>:): it
# starts from an empty index.  The clients write what they did, one line
# per request, to html/<client>.txt; the checks read those files.

use JSON::PP ();
use POSIX ();
use Time::HiRes ();

master_on();
workers(2);

$ENV{TEST_NGINX_RUN_ID} = $$ . '-' . time();

our $Base = '/api/v1/workorder-portal';
our $J = $Woportal::J;
our ($CurPrefix, %Seen, %Index);

add_block_preprocessor(sub {
    my $block = shift;
    my ($n) = $block->name =~ /TEST (\d+)/
        or die "block name without a number: " . $block->name . "\n";
    $CurPrefix = "t081-b$n-$ENV{TEST_NGINX_RUN_ID}:";
    %Seen = ();
    %Index = ();
    my $extra = $block->directives // '';
    $block->set_value(config => <<"_EOC_") unless defined $block->config;
    location $Base {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:\$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix t081-b$n-\$TEST_NGINX_RUN_ID:;
$extra
    }
_EOC_
    $block->set_value(more_headers => "X-API-Key: test-key\n")
        unless defined $block->more_headers;
    return $block;
});

# one request on a fresh connection: (status, body)
# (status, body) of one request on a fresh connection
sub http {
    my ($status, undef, $body) = Woportal::http_request(@_[0 .. 2]);
    return ($status, $body);
}

sub jdecode { my $d = eval { $J->decode($_[0] // '') }; ref $d eq 'HASH' ? $d : undef }

sub client_file { html_dir() . "/client-$_[0].txt" }

# writer $c: $n entries; each patched when $i % $patch == 0, deleted
# when $i % $del == 0 (after the patch)
sub writer {
    my ($c, $n, $del, $patch, $out) = @_;
    for my $i (1 .. $n) {
        my ($st, $b) = http(POST => $Base,
                            $J->encode({workorder => "wo-$c", client => "cl-$i",
                                        company_namespace => ["ns-$c"]}));
        my $d = jdecode($b);
        my $id = $d && ref $d->{data} eq 'HASH' ? $d->{data}{_id} // '-' : '-';
        print $out "create $id $st\n";
        next if $st != 201;
        if ($i % $patch == 0) {
            ($st, $b) = http(PATCH => "$Base/$id", '{"disabled":true}');
            print $out "patch $id $st\n";
        }
        if ($i % $del == 0) {
            ($st, $b) = http(DELETE => "$Base/$id");
            print $out "delete $id $st\n";
        }
    }
}

# lister: lists until $stop exists; one line per list:
# "list <status> <total> <items> <duplicates> <total_pages ok>"
sub lister {
    my ($c, $stop, $out) = @_;
    my @q = ('?per_page=100', '?per_page=100&sort=created_at',
             '?per_page=7&page=2&sort=_id', "?company_namespace=ns-1&per_page=100");
    my $k = 0;
    while (!-e $stop) {
        my $q = $q[$k++ % @q];
        my $t0 = Time::HiRes::time();
        my ($st, $b) = http(GET => "$Base$q");
        my $ms = int((Time::HiRes::time() - $t0) * 1000);
        my $d = jdecode($b);
        my $raw = memcached_get($CurPrefix . 'idx:0');
        my $len = defined $raw ? length $raw : 0;
        if ($st != 200 || !$d || ref $d->{data} ne 'ARRAY') {
            print $out "list $st - - - - - $len $ms $q\n";
            next;
        }
        my %n;
        $n{$_->{_id}}++ for @{ $d->{data} };
        my $dups = grep { $_ > 1 } values %n;
        my $pg = $d->{paging};
        my $pp = $pg->{per_page} || 1;
        my $tpok = ($pg->{total_pages} // -1) == POSIX::ceil(($pg->{total} // 0) / $pp)
                   ? 1 : 0;
        my $want = ($pg->{total} // 0) - (($pg->{page} // 1) - 1) * $pp;
        $want = 0 if $want < 0;
        $want = $pp if $want > $pp;
        my $fill = @{ $d->{data} } == $want ? 1 : 0;
        print $out "list 200 $pg->{total} " . scalar(@{ $d->{data} })
                   . " $dups $tpok $fill $len $ms $q\n";
    }
}

# forks $writers writers (and $listers listers that list until the
# writers are done); all start together
sub race {
    my (%o) = @_;
    my $stop = html_dir() . '/writers-done';
    unlink $stop;
    my $start = Time::HiRes::time() + 0.5;
    my $t0 = $start;
    my (@w, @l);
    my $fork = sub {
        my ($c, $job) = @_;
        my $pid = fork;
        die "fork: $!\n" unless defined $pid;
        if ($pid == 0) {
            open my $out, '>', client_file($c) or POSIX::_exit(1);
            $out->autoflush(1);
            my $wait = $start - Time::HiRes::time();
            Time::HiRes::sleep($wait) if $wait > 0;
            $job->($out);
            close $out;
            POSIX::_exit(0);    # no END blocks: they belong to the test process
        }
        return $pid;
    };
    for my $c (1 .. $o{writers}) {
        push @w, $fork->($c, sub { writer($c, $o{creates}, $o{del},
                                          $o{patch} // 4, $_[0]) });
    }
    for my $c (1 .. $o{listers} // 0) {
        push @l, $fork->("l$c", sub { lister("l$c", $stop, $_[0]) });
    }
    waitpid $_, 0 for @w;
    Test::More::note(sprintf "race: the writers took %.2f s", Time::HiRes::time() - $t0);
    open my $f, '>', $stop;
    close $f;
    waitpid $_, 0 for @l;
    %Index = index_now($o{shards});
}

# The index as the race left it, before any list after it could mend it:
# (live => { _id => version } over all shards, problems => [...])
sub index_now {
    my $shards = shift;
    my (%live, @p);
    for my $s (0 .. $shards - 1) {
        my $v = memcached_get($CurPrefix . "idx:$s");
        next unless defined $v;
        my $recs = Woportal::index_records($v);
        if (!ref $recs) {
            push @p, "index shard idx:$s: $recs";
            next;
        }
        my ($l) = Woportal::index_live($recs);
        %live = (%live, %$l);
    }
    return (live => \%live, problems => \@p);
}

# what the index left live after the race, against the survivors: each
# at its version, and nothing else (an entry deleted and listed again in
# the index is counted in every list's total)
sub index_problems {
    my ($ver) = @_;
    my @p = @{ $Index{problems} // ['the index was not read after the race'] };
    my $live = $Index{live} // {};
    my @back = grep { !exists $ver->{$_} } sort keys %$live;
    push @p, scalar(@back) . " deleted entries live in the index after the race: "
             . "@back[0 .. ($#back < 4 ? $#back : 4)]" if @back;
    my @lost = grep { !exists $live->{$_} } sort keys %$ver;
    push @p, scalar(@lost) . " survivors not live in the index after the race"
        if @lost;
    my @stale = grep { exists $live->{$_} && $live->{$_} != $ver->{$_} }
                sort keys %$ver;
    push @p, scalar(@stale) . " survivors at another version in the index"
        if @stale;
    return @p;
}

# what the writers left: (\%version of each survivor, @problems)
sub survivors {
    my (%o) = @_;
    my (%ver, @p);
    my ($creates, $deletes) = (0, 0);
    for my $c (1 .. $o{writers}) {
        open my $in, '<', client_file($c) or do {
            push @p, "writer $c left no results: $!";
            next;
        };
        while (my $line = <$in>) {
            my ($op, $id, $st) = split ' ', $line;
            if ($op eq 'create') {
                push @p, "a create answered $st" if $st != 201;
                next if $st != 201;
                $creates++;
                $ver{$id} = 1;
            } elsif ($op eq 'patch') {
                push @p, "PATCH $id answered $st" if $st != 200;
                $ver{$id}++ if $st == 200 && exists $ver{$id};
            } elsif ($op eq 'delete') {
                push @p, "DELETE $id answered $st" if $st != 200;
                next if $st != 200;
                $deletes++;
                delete $ver{$id};
            }
        }
    }
    push @p, "$creates creates, expected " . $o{writers} * $o{creates}
        if $creates != $o{writers} * $o{creates};
    Test::More::note("race: $creates creates, $deletes deletes, "
                     . scalar(keys %ver) . " survivors");
    return (\%ver, @p);
}

# the compactions of idx:0 the error log has (info)
sub compactions {
    open my $in, '<', "$ENV{TEST_NGINX_SERVER_ROOT}/logs/error.log"
        or return 0;
    my $n = 0;
    while (my $line = <$in>) {
        $n++ if $line =~ /index shard "[^"]*idx:0" compacted/;
    }
    return $n;
}

sub listers_problems {
    my (%o) = @_;
    my @p;
    my ($lists, $ok, $shrinks, $msum) = (0, 0, 0, 0);
    for my $c (1 .. $o{listers} // 0) {
        open my $in, '<', client_file("l$c") or do {
            push @p, "lister $c left no results: $!";
            next;
        };
        my $prev;
        while (my $line = <$in>) {
            my ($op, $st, $total, $n, $dups, $tpok, $fill, $len, $ms, $q)
                = split ' ', $line;
            $lists++;
            $msum += $ms;
            $shrinks++ if defined $prev && $len < $prev;
            $prev = $len;
            if ($st != 200) {
                push @p, "a list during the race answered $st ($q)";
                next;
            }
            push @p, "a list during the race listed $dups _ids twice ($q)" if $dups;
            push @p, "a list during the race had total_pages != ceil(total/per_page) ($q)"
                unless $tpok;
            push @p, "a list during the race had $n items for total $total ($q)"
                unless $fill;
            $ok++;
        }
    }
    return () unless $o{listers};
    Test::More::note("race: $lists lists during the writes, $ok answered 200;"
                     . " idx:0 seen shrinking $shrinks times; a list took "
                     . int($msum / ($lists || 1)) . " ms on average");
    push @p, "no list ran during the writes" unless $lists;
    # a compaction the listers' samples missed (the appends grew the
    # shard again before the next) is in the log
    my $logged = compactions();
    Test::More::note("race: idx:0 compacted $logged times (error.log)");
    push @p, "the lists never compacted idx:0 during the writes (never seen"
             . " shrinking, none logged): the race did not test compaction"
             . " under appends"
        if $o{shrink} && !$shrinks && !$logged;
    my %u;
    return grep { !$u{$_}++ } @p;
}

# the check of the final list pages (per_page $pp): request $i of $pages
sub final_page {
    my ($i, $pages, $pp, %o) = @_;
    return sub {
        my ($body) = @_;
        my ($ver, @p) = survivors(%o);
        my $d = jdecode($body);
        return (@p, 'not a list answer: ' . substr($body // '', 0, 300))
            unless $d && ref $d->{data} eq 'ARRAY' && ref $d->{paging} eq 'HASH';
        my $n = keys %$ver;
        my $pg = $d->{paging};
        my @got = map { $pg->{$_} // 'undef' } qw(page per_page total total_pages);
        my @want = ($i + 1, $pp, $n, POSIX::ceil($n / $pp));
        push @p, "paging (@got), expected (@want): total must be creates - deletes"
            if "@got" ne "@want";
        for my $e (@{ $d->{data} }) {
            my $id = $e->{_id} // '(none)';
            $Seen{$id}++;
            if (!exists $ver->{$id}) {
                push @p, "listed $id, which is not a survivor";
            } elsif (($e->{version} // 0) != $ver->{$id}) {
                push @p, "listed $id at version " . ($e->{version} // 'undef')
                         . ", its writes left it at $ver->{$id}";
            }
        }
        if ($i == $pages - 1) {
            my @twice = grep { $Seen{$_} > 1 } sort keys %Seen;
            push @p, scalar(@twice) . " _ids listed more than once" if @twice;
            my @missing = grep { !$Seen{$_} } sort keys %$ver;
            push @p, scalar(@missing) . " survivors never listed: @missing[0 .. ($#missing < 4 ? $#missing : 4)]"
                if @missing;
            push @p, index_problems($ver);
            push @p, listers_problems(%o);
        }
        return @p;
    };
}

add_response_body_check(sub {
    my ($block, $body, $i, $rep, $dry) = @_;
    return if $dry;
    my $spec = for_req(scalar $block->race_is, $i);
    return unless defined $spec;
    Test::More::is(join("\n", $spec->($body)), '',
                   $block->name . " - the list after the race (request $i)");
});

our %Race1 = (writers => 8, creates => 25, del => 3, shards => 256);
our %Race2 = (writers => 6, creates => 120, del => 2, patch => 1, listers => 2,
              shrink => 1, shards => 1);
our %Race3 = (writers => 6, creates => 20, del => 5, listers => 3, shards => 2);
our %Race4 = (writers => 6, creates => 100, del => 1, patch => 1, listers => 3,
              shards => 1);

run_tests();

__DATA__

=== TEST 1: 8 clients create 25 entries each against 2 workers, delete every 3rd and patch every 4th: the list is exactly the survivors
--- init
main::race(%main::Race1);
--- request eval
["GET /api/v1/workorder-portal?per_page=50",
 "GET /api/v1/workorder-portal?per_page=50&page=2",
 "GET /api/v1/workorder-portal?per_page=50&page=3"]
--- error_code eval
[200, 200, 200]
--- race_is eval
[main::final_page(0, 3, 50, %main::Race1),
 main::final_page(1, 3, 50, %main::Race1),
 main::final_page(2, 3, 50, %main::Race1)]



=== TEST 2: one index shard: 6 clients create 120 entries each, patch each and delete every 2nd while 2 others list (lists compact the shard under the appends): the list is exactly the survivors
--- directives
        woportal_index_shards 1;
--- init
main::race(%main::Race2);
--- request eval
[map { "GET /api/v1/workorder-portal?per_page=100&sort=_id&page=$_" } 1 .. 4]
--- error_code eval
[200, 200, 200, 200]
--- race_is eval
[map { main::final_page($_, 4, 100, %main::Race2) } 0 .. 3]



=== TEST 3: two index shards, 3 listers against 6 writers: the list is exactly the survivors
--- directives
        woportal_index_shards 2;
--- init
main::race(%main::Race3);
--- request eval
["GET /api/v1/workorder-portal?per_page=100&sort=-updated_at",
 "GET /api/v1/workorder-portal?per_page=100&sort=-updated_at&page=2"]
--- error_code eval
[200, 200]
--- race_is eval
[main::final_page(0, 2, 100, %main::Race3),
 main::final_page(1, 2, 100, %main::Race3)]



=== TEST 4: one index shard, every entry patched and deleted at once while 3 others list (lists mend the index from entries they fetched between a patch and its delete, and compact the shard): no deleted entry comes back to the index
--- directives
        woportal_index_shards 1;
--- init
main::race(%main::Race4);
--- request eval
["GET /api/v1/workorder-portal?per_page=100"]
--- error_code eval
[200]
--- race_is eval
[main::final_page(0, 1, 100, %main::Race4)]
