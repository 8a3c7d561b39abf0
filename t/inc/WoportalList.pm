package main;

# The helpers of t/080-list.t (the list: GET of the collection), and the
# sections it adds (--- directives, --- list_is, --- cases, --- bad: see
# there).  Each block gets its own woportal_key_prefix; its entries are
# made through the API in --- init (main::mk and friends), and the list
# answers are checked against the order computed from them
# (main::oracle, main::page_of).  They are main:: subs and variables, for
# the blocks' --- init, list_is and bad code.
#
#   use WoportalList;

use strict;
use warnings;

use JSON::PP ();
use List::Util ();
use POSIX ();
use Time::HiRes ();
use Test::More ();
use Test::Nginx::Socket ();
use Woportal;

$ENV{TEST_NGINX_RUN_ID} = $$ . '-' . time();

our $Base = '/api/v1/workorder-portal';
our $J = $Woportal::J;


# per block state ----------------------------------------------------------

our ($CurBlock, $Prefix, %Id, %Label, %Data, @InitProblems, @Collected,
     $LastCreated, %Mark);

# seconds between writes whose order a block relies on (created_at,
# updated_at); bulk creates set it to 0
our $Gap = 0.003;

sub location {
    my ($n, $extra) = @_;
    $extra //= '';
    return <<"_EOC_";
    location $Base {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:\$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
        woportal_key_prefix t080-b$n-\$TEST_NGINX_RUN_ID:;
$extra
    }
_EOC_
}

our $ListHeaders = "Content-Type: application/json\n!ETag\n";

Test::Nginx::Socket::add_block_preprocessor(sub {
    my $block = shift;
    my ($n) = $block->name =~ /TEST (\d+)/
        or die "block name without a number: " . $block->name . "\n";

    $CurBlock = $block;
    $Prefix = "t080-b$n-$ENV{TEST_NGINX_RUN_ID}:";
    %Id = %Label = %Data = %Mark = ();
    @InitProblems = @Collected = ();
    undef $LastCreated;

    $block->set_value(config => location($n, scalar $block->directives))
        unless defined $block->config;
    $block->set_value(more_headers => "X-API-Key: test-key\n")
        unless defined $block->more_headers;

    if (defined(my $cases = $block->cases)) {
        my @c = @$cases;
        $block->set_value(request => [map { "GET $Base$_->[0]" } @c]);
        $block->set_value(error_code => [(200) x @c]);
        $block->set_value(response_headers => [($ListHeaders) x @c]);
        $block->set_value(list_is => [map {
            ref $_->[1] ? $_->[1] : "ids: $_->[1]\npaging: $_->[2]"
        } @c]);
    }

    if (defined(my $bad = $block->bad)) {
        my @c = @$bad;
        $block->set_value(request => [map { "GET $Base$_->[0]" } @c]);
        $block->set_value(error_code => [(400) x @c]);
        $block->set_value(response_headers
                          => [("Content-Type: application/json\n") x @c]);
        $block->set_value(api_error => [('invalid_parameter') x @c]);
        $block->set_value(details => [map { join "\n", split ' ', $_->[1] } @c]);
    }

    return $block;
});


# HTTP from Perl -----------------------------------------------------------

# one request on a fresh connection: (status, {lc header => value}, body)
sub http { Woportal::http_request(@_) }

sub jdecode { my $d = eval { $J->decode($_[0]) }; ref $d eq 'HASH' ? $d : undef }

sub lab { my $id = shift; defined $id ? $Label{$id} // $id : '(undef)' }

sub subst {
    my $b = $CurBlock or return;
    for my $sec (qw(request more_headers)) {
        my $v = $b->$sec;
        next unless defined $v;
        my @items = ref $v eq 'ARRAY' ? @$v : ($v);
        for (@items) {
            next if ref;
            s/\{\{(\w+)\}\}/exists $Id{$1} ? $Id{$1} : "{{$1}}"/ge;
        }
        $b->set_value($sec, ref $v eq 'ARRAY' ? \@items : $items[0]);
    }
}

sub nap { Time::HiRes::sleep($Gap) if $Gap }

# create the entry $label through the API: workorder "wo", client "cl"
# unless given
sub mk {
    my ($label, %f) = @_;
    my %doc = (workorder => 'wo', client => 'cl', %f);
    my ($st, $h, $b) = http(POST => $Base, $J->encode(\%doc));
    my $d = $st == 201 ? jdecode($b) : undef;
    if (!$d || ref $d->{data} ne 'HASH') {
        push @InitProblems, "create $label: $st $b";
        return;
    }
    $d = $d->{data};
    $Id{$label} = $d->{_id};
    $Label{$d->{_id}} = $label;
    $Data{$label} = $d;
    if ($Gap) {
        push @InitProblems, "created_at did not advance at $label "
                            . "($d->{created_at}): the block relies on it"
            if defined $LastCreated && $d->{created_at} le $LastCreated;
        $LastCreated = $d->{created_at};
    }
    subst();
    nap();
    return $d->{_id};
}

# $n entries created back to back (labels <p>001...), fields from $f->($i)
sub mk_many {
    my ($p, $n, $f) = @_;
    local $Gap = 0;
    mk(sprintf('%s%03d', $p, $_), $f ? $f->($_) : ()) for 1 .. $n;
}

sub write_ok {
    my ($what, $label, $st, $b, $want) = @_;
    my $d = $st == $want ? jdecode($b) : undef;
    if (!$d) {
        push @InitProblems, "$what $label: $st $b";
        return;
    }
    $Data{$label} = $d->{data} if ref $d->{data} eq 'HASH';
    nap();
    return 1;
}

sub patch {
    my ($label, %f) = @_;
    my ($st, $h, $b) = http(PATCH => "$Base/" . ($Id{$label} // 'none'),
                            $J->encode(\%f));
    return write_ok('PATCH', $label, $st, $b, 200);
}

sub set_status {
    my ($label, $status) = @_;
    my ($st, $h, $b) = http(PATCH => "$Base/" . ($Id{$label} // 'none')
                                     . '/status',
                            $J->encode({status => $status}));
    return write_ok('PATCH status', $label, $st, $b, 200);
}

sub del {
    my ($label) = @_;
    my ($st, $h, $b) = http(DELETE => "$Base/" . ($Id{$label} // 'none'));
    delete $Data{$label} if write_ok('DELETE', $label, $st, $b, 200);
}

# the entry vanishes from memcached behind the module's back
sub ghost {
    my ($label) = @_;
    memcached_delete($Prefix . ($Id{$label} // 'none'));
    delete $Data{$label};
}

sub shard_len {
    my $v = memcached_get($Prefix . "idx:$_[0]");
    return defined $v ? length $v : undef;
}

# the records of shard $n (Woportal::index_records()); undef when the
# shard is missing or its bytes are no records
sub shard_records {
    my $v = memcached_get($Prefix . "idx:$_[0]");
    return undef unless defined $v;
    my $recs = Woportal::index_records($v);
    return ref $recs ? $recs : undef;
}

# shard $n's value, each deletion's record made $age ms older; the change
# count of memcached's one server bumped, so that lists read it again
sub age_deletions {
    my ($n, $age) = @_;
    my $v = memcached_get($Prefix . "idx:$n");
    my $recs = shard_records($n) or return "shard idx:$n has no records";
    for my $r (grep { $_->{deleted} } @$recs) {
        substr($v, $r->{off} + 32, 8) = pack 'Q<', $r->{time} - $age;
    }
    memcached_set($Prefix . "idx:$n", $v, 3);
    return bump_count();
}

# the change count of memcached's one server bumped, as a write bumps it
sub bump_count {
    my $s = Woportal::mc();
    print $s "incr ${Prefix}idx:count:0 1\r\n";
    my $reply = <$s> // '';
    return $reply =~ /^\d+/ ? () : ("incr of the change count: $reply");
}

# "<live> live, <deleted> deleted, <n> records" of shard $n, folded as a
# reader folds them
sub shard_summary {
    my $recs = shard_records($_[0]) or return 'no records';
    my ($live, $dead) = Woportal::index_live($recs);
    return scalar(keys %$live) . " live, $dead deleted, "
           . scalar(@$recs) . " records";
}

# shard $n's summary once it is $want, or as it is after 2 s (a list's
# compaction is done by a pool thread after the list is answered)
sub shard_becomes {
    my ($n, $want) = @_;
    my $sum;
    for (1 .. 40) {
        $sum = shard_summary($n);
        last if $sum eq $want;
        Time::HiRes::sleep(0.05);
    }
    return $sum;
}

# the index of this block's prefix lives in idx:0 .. idx:<$n - 1> only
sub shards_problems {
    my $n = shift;
    my @p;
    my @have = grep { defined shard_len($_) } 0 .. $n - 1;
    push @p, "no index key idx:0 .. idx:" . ($n - 1) . " exists" unless @have;
    my @beyond = grep { defined shard_len($_) } $n .. $n + 64, 2 * $n, 65536;
    push @p, "index keys beyond idx:" . ($n - 1) . ": "
             . join(' ', map { "idx:$_" } @beyond)
        if @beyond;
    Test::More::note("index keys in use: " . scalar(@have) . " of $n");
    return @p;
}

# how many entries share their created_at with another (ties to break)
sub note_ties {
    my %n;
    $n{$_->{created_at}}++ for values %Data;
    my $tied = List::Util::sum(0, grep { $_ > 1 } values %n);
    Test::More::note("$tied of " . scalar(keys %Data)
                     . " entries share their created_at with another");
}


# the expected order, computed from the entries as last answered --------

sub field_cmp {
    my ($f, $x, $y) = @_;
    my ($u, $v) = ($x->{$f}, $y->{$f});
    if (!defined $u || !defined $v) {
        return (defined $u) <=> (defined $v);    # null first
    }
    if ($f eq 'workorder' || $f eq 'client') {
        utf8::encode($u);
        utf8::encode($v);
    }
    return $u cmp $v;
}

# labels of the live entries matching $o{filter}, ordered by $o{sort}
sub oracle {
    my %o = @_;
    my @keys = map { /^(-?)(.*)$/; [$2, $1 ? -1 : 1] }
               split /,/, $o{sort} // '-created_at';
    my @e = grep { $o{filter} ? $o{filter}->($_) : 1 } values %Data;
    @e = sort {
        my $c = 0;
        for my $k (@keys) {
            $c = field_cmp($k->[0], $a, $b) * $k->[1];
            last if $c;
        }
        $c || $a->{_id} cmp $b->{_id};
    } @e;
    return map { $Label{$_->{_id}} } @e;
}

sub ceil_div { my ($t, $pp) = @_; $pp ? POSIX::ceil($t / $pp) : 0 }

# a list check: page $page of $pp of the oracle's order (%o)
sub page_of {
    my ($page, $pp, %o) = @_;
    return sub {
        my ($doc, $got) = @_;
        my @all = oracle(%o);
        my $from = ($page - 1) * $pp;
        my $to = List::Util::min($from + $pp, scalar @all) - 1;
        my @want = $from <= $to ? @all[$from .. $to] : ();
        push @Collected, @$got;
        return (ids_problems($got, [map { $Id{$_} } @want]),
                paging_problems($doc, $page, $pp, scalar @all,
                                ceil_div(scalar @all, $pp)));
    };
}

# after page_of checks: the pages seen were disjoint and together are
# exactly the entries matching %o
sub union_is {
    my (%o) = @_;
    my @p;
    my %seen;
    $seen{$_}++ for @Collected;
    push @p, "listed on several pages: "
             . join(' ', map { lab($_) } grep { $seen{$_} > 1 } sort keys %seen)
        if grep { $_ > 1 } values %seen;
    my $want = join ' ', sort map { $Id{$_} } oracle(%o);
    my $got = join ' ', sort keys %seen;
    push @p, "the pages together are not the matching entries:\n  got  "
             . join(' ', map { lab($_) } sort keys %seen) . "\n  want "
             . join(' ', sort(oracle(%o)))
        if $got ne $want;
    @Collected = ();
    return @p;
}


# checking list answers ----------------------------------------------------

sub ids_problems {
    my ($got, $want) = @_;
    my $g = join ' ', map { lab($_) } @$got;
    my $w = join ' ', map { lab($_) } @$want;
    return () if join(' ', @$got) eq join(' ', map { $_ // '?' } @$want);
    return ("data lists\n    $g\n  expected\n    $w");
}

sub paging_problems {
    my ($doc, @want) = @_;
    my $pg = $doc->{paging};
    my @got = map { $pg->{$_} // 'undef' } qw(page per_page total total_pages);
    return "paging is (@got), expected (@want)" if "@got" ne "@want";
    return ();
}

# "a [b c] {d e} @last" -> _ids
sub resolve_ids {
    my ($spec, $p) = @_;
    my @ids;
    my $one = sub {
        my $l = shift;
        return Woportal::last_id() // '(no last id)' if $l eq '@last';
        return $Id{$l} if exists $Id{$l};
        push @$p, "label $l has no entry (its create failed?)";
        return "(no $l)";
    };
    while ($spec =~ /\[([^\]]*)\]|\{([^}]*)\}|(\S+)/g) {
        if (defined $1) {
            push @ids, sort map { $one->($_) } split ' ', $1;
        } elsif (defined $2) {
            push @ids, reverse sort map { $one->($_) } split ' ', $2;
        } else {
            push @ids, $one->($3);
        }
    }
    return @ids;
}

sub list_problems {
    my ($spec, $body) = @_;
    my $doc = eval { $J->decode($body // '') };
    return ("not a list answer: " . substr($body // '(no body)', 0, 300))
        unless ref $doc eq 'HASH' && ref $doc->{data} eq 'ARRAY'
               && ref $doc->{paging} eq 'HASH';
    my @p;
    my @got = map { ref $_ eq 'HASH' ? $_->{_id} // '(no _id)' : '(not an object)' }
              @{ $doc->{data} };

    my %n;
    $n{$_}++ for @got;
    push @p, "listed more than once on the page: " . lab($_)
        for grep { $n{$_} > 1 } sort keys %n;

    my $pg = $doc->{paging};
    my ($pp, $t, $tp) = map { $pg->{$_} // 0 } qw(per_page total total_pages);
    push @p, "total_pages $tp is not ceil($t / $pp)"
        if $pp !~ /^\d+$/ || $pp == 0 || $tp != ceil_div($t, $pp);
    push @p, scalar(@got) . " items on a page of $pp" if @got > $pp;

    # every item is what GET /{id} serves
    for my $item (@{ $doc->{data} }) {
        next unless ref $item eq 'HASH' && defined $item->{_id}
                    && $item->{_id} =~ /^[0-9a-f]{24}$/;
        my ($st, $h, $b) = http(GET => "$Base/$item->{_id}");
        my $d = jdecode($b);
        if ($st != 200 || !$d) {
            push @p, "listed " . lab($item->{_id}) . ", but GET answers $st";
            next;
        }
        push @p, "the item " . lab($item->{_id}) . " is not GET's data:\n    "
                 . jcanon($item) . "\n  GET\n    " . jcanon($d->{data})
            if jcanon($item) ne jcanon($d->{data});
    }

    if (ref $spec eq 'CODE') {
        push @p, $spec->($doc, \@got);
        return @p;
    }

    for my $line (grep { /\S/ } split /\n/, $spec) {
        if ($line =~ /^\s*ids:(.*)$/) {
            my @want = resolve_ids($1, \@p);
            push @p, ids_problems(\@got, \@want);
        } elsif ($line =~ /^\s*paging:\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$/) {
            push @p, paging_problems($doc, $1, $2, $3, $4);
        } else {
            push @p, "bad list_is line: $line";
        }
    }
    return @p;
}

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $i, $rep, $dry) = @_;
    return if $dry;
    my $name = $block->name;

    if ($i == 0 && defined $block->init) {
        Test::More::is(join("\n", @InitProblems), '',
                       "$name - the setup (--- init) went as planned");
        my @left = grep { !ref && /\{\{\w+\}\}/ }
                   map { ref $_ eq 'ARRAY' ? @$_ : $_ } scalar $block->request;
        Test::More::is("@left", '', "$name - every {{label}} was replaced");
    }

    my $spec = for_req(scalar $block->list_is, $i);
    return unless defined $spec;
    Test::More::is(join("\n", list_problems($spec, $body)), '',
                   "$name - the list (request $i)");
});


# data sets ------------------------------------------------------------------

# five entries a..e, created in that order (created_at strictly increasing)
sub five { mk($_) for qw(a b c d e) }

# for the filter blocks; created f1..f7 in that order
sub filter_set {
    mk('f1', workorder => 'wo-1', client => 'cl-1',
       company_namespace => ['acme', 'beta']);
    mk('f2', workorder => 'wo-1', client => 'cl-2',
       company_namespace => ['beta']);
    mk('f3', workorder => 'wo-2', client => 'cl-1');
    mk('f4', workorder => 'wo-2', client => 'cl-2',
       company_namespace => ['gamma']);
    mk('f5', workorder => 'wo-1', client => 'cl-1',
       company_namespace => ['acme']);
    mk('f6', workorder => 'a b', client => 'a+b', company_namespace => ['x y']);
    mk('f7', workorder => "\x{e9}t\x{e9}", client => 'a b',
       company_namespace => ['a&b=c']);
    set_status('f2', 'in_progress');
    set_status('f4', 'completed');
    set_status('f5', 'cancelled');
}

# for the multi-key sort blocks
sub multi_set {
    mk('m1', workorder => 'x', client => 'k2', access_level => 'comment');
    mk('m2', workorder => 'y', client => 'k1', access_level => 'view_only');
    mk('m3', workorder => 'x', client => 'k1', access_level => 'comment');
    mk('m4', workorder => 'y', client => 'k2', access_level => 'full_access');
    mk('m5', workorder => 'x', client => 'k2', access_level => 'view_only');
    mk('m6', workorder => 'y', client => 'k1', access_level => 'comment');
    set_status($_, 'completed') for qw(m2 m3 m6);
}

# 1-byte, 2-, 3- and 4-byte UTF-8, case, prefixes; w2 and w9 are equal
our %Strings = (w1 => 'B', w2 => 'a', w3 => 'Z', w4 => "\x{e9}", w5 => 'z',
                w6 => 'aa', w7 => "\x{ff61}", w8 => "\x{1f600}", w9 => 'a',
                w10 => 'A');

# the 400 cases
our @BadPage = ('0', '00', '-1', '+1', '%2B1', '1+', '%201', '1.0', '2.5',
                '1e1', '0x1', 'abc', '', '2147483648', '4294967297',
                '99999999999999999999', '%EF%BC%91', '1%00');
our @BadPerPage = ('2.5', '1e1', '-1', '+1', '%2B1', '0', '00', '101',
                   '0101', '4294967321', '18446744073709551617',
                   '99999999999999999999', '', '1+', 'abc', '%', '%4',
                   '%zz');
our @BadSort = ('', 'created_at,', ',created_at', 'created_at,,status',
                '--created_at', '-', 'status,-', 'foo', 'version',
                'disabled', 'Created_at', 'created_at%20', '-created_at,%20status',
                '-created_at,+status', '+created_at', '-created_at%2C+status',
                '%zz', '-%', join(',', ('status') x 17),
                join(',', qw(status -workorder client -client created_at
                             -created_at updated_at -updated_at access_level
                             -access_level expiry_date -expiry_date _id -_id
                             status workorder client)));
our @BadStatus = ('PENDING', 'Pending', 'pending+', '+pending', '', 'open',
                  'in-progress', 'in_progress%00', '%zz');

1;
