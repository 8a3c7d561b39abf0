package main;

# The helpers of t/070-modify.t (changes to an entry): main::seed($id,
# %fields) stores an entry with every field set; main::updated($id, field
# => '<JSON>', ...) and friends make the blocks' data_ok subs; main::race
# and main::race_problems are the concurrent status changes.  They are
# main:: subs and variables, for the blocks' --- init and data_ok code.
#
#   use WoportalModify;

use strict;
use warnings;

use JSON::PP ();
use POSIX ();
use Time::HiRes ();
use Time::Local ();
use Test::More ();
use Test::Nginx::Socket ();
use Woportal;

# seeding -------------------------------------------------------------------

our @AllFields = @Woportal::EntryFields;

our %Seeded;    # id => the entry seeded (Perl data)

our $Created0 = '2020-01-02T03:04:05.678Z';
our $Updated0 = '2020-02-03T04:05:06.789Z';

# an entry with every field set; the history fits the status
sub seed {
    my ($id, %over) = @_;
    my $status = $over{status} // 'in_progress';
    my @history = ({status => 'pending', changed_at => $Created0});
    push @history, {status => $status, notes => 'seeded',
                    changed_at => $Updated0}
        if $status ne 'pending';
    my %e = (
        _id => $id,
        workorder => 'wo-070',
        client => 'cl-070',
        status => $status,
        access_level => 'comment',
        allowed_actions => ['view', 'comment', 'approve'],
        expiry_date => '2027-03-04T05:06:07.089Z',
        notifications => {email => JSON::PP::true(), channels => ['sms', 'push']},
        portal_settings => {theme => 'dark', layout => {cols => 2, rows => 3}},
        custom_branding => {logo => 'l.png', colors => {primary => '#112233'}},
        company_namespace => ['acme', 'beta'],
        disabled => JSON::PP::true(),
        status_history => \@history,
        created_at => $Created0,
        updated_at => $Updated0,
        version => 4,
        %over,
    );
    $Seeded{$id} = \%e;
    Woportal::memcached_set("woportal:$id", $Woportal::J->encode(\%e));
}


# helpers for data_ok subs -------------------------------------------------

sub parse_stamp {
    my $s = shift // '';
    my ($y, $mo, $d, $h, $mi, $sec, $ms) =
        $s =~ /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z$/
        or return undef;
    return Time::Local::timegm($sec, $mi, $h, $d, $mo - 1, $y) + $ms / 1000;
}

sub about_now {
    my $t = parse_stamp(shift);
    return defined $t && abs($t - Time::HiRes::time()) < 300;
}

# $d is $base after one successful write that set the fields %$set (JSON
# texts) and appended the status_history items @$add ({status, notes?})
sub update_problems {
    my ($base, $d, $set, $add) = @_;
    return ('no base entry to compare with') unless ref $base eq 'HASH';
    my @p;

    for my $f (@AllFields) {
        next if $f =~ /^(?:version|updated_at|status_history)$/;
        my $want = exists $set->{$f} ? jcanon($Woportal::J->decode($set->{$f}))
                                     : jcanon($base->{$f});
        my $got = exists $d->{$f} ? jcanon($d->{$f}) : '(missing)';
        push @p, "$f is $got, expected $want" if $got ne $want;
    }

    push @p, "version is " . ($d->{version} // 'undef') . ", expected "
             . ($base->{version} + 1)
        unless defined $d->{version} && !ref $d->{version}
               && $d->{version} eq $base->{version} + 1;

    my $u = $d->{updated_at};
    push @p, "updated_at did not move (" . ($u // 'undef') . ")"
        if !defined $u || $u eq $base->{updated_at};
    push @p, "updated_at '" . ($u // 'undef') . "' is not now in UTC ms form"
        unless about_now($u);

    my $h = $d->{status_history};
    my $bh = $base->{status_history};
    if (ref $h ne 'ARRAY') {
        push @p, 'status_history is not an array';
        return @p;
    }
    push @p, "status_history has " . @$h . " items, expected "
             . (@$bh + @$add)
        if @$h != @$bh + @$add;
    for my $i (0 .. $#$bh) {
        push @p, "status_history[$i] changed"
            if $i > $#$h || jcanon($h->[$i]) ne jcanon($bh->[$i]);
    }
    for my $j (0 .. $#$add) {
        my $i = @$bh + $j;
        my $it = $h->[$i];
        if (ref $it ne 'HASH') {
            push @p, "status_history[$i] missing";
            next;
        }
        my %want = %{ $add->[$j] };
        my @keys = sort(keys %want, 'changed_at');
        push @p, "status_history[$i] has keys " . join(',', sort keys %$it)
                 . ", expected " . join(',', @keys)
            if join(',', sort keys %$it) ne join(',', @keys);
        for my $k (keys %want) {
            push @p, "status_history[$i].$k is "
                     . ($it->{$k} // 'undef') . ", expected $want{$k}"
                if ($it->{$k} // '') ne $want{$k};
        }
        push @p, "status_history[$i].changed_at '"
                 . ($it->{changed_at} // 'undef') . "' is not now in UTC ms form"
            unless about_now($it->{changed_at});
    }
    return @p;
}

# data_ok: the entry seeded as $id, updated
sub updated {
    my ($id, %set) = @_;
    my $add = delete $set{_history} // [];
    return sub { update_problems($Seeded{$id}, $_[0], \%set, $add) };
}

# data_ok: the last entry created (201), updated once
sub updated_created {
    my (%set) = @_;
    my $add = delete $set{_history} // [];
    return sub { update_problems($Woportal::Created, $_[0], \%set, $add) };
}

# data_ok: exactly the entry seeded as $id (nothing changed)
sub unchanged {
    my $id = shift;
    return sub {
        my $d = shift;
        my $want = jcanon($Seeded{$id} // {});
        my $got = jcanon($d);
        return $got eq $want ? () : ("the entry changed: $got, seeded $want");
    };
}

# the body of a successful DELETE
our $DeletedBody = qr/\A\s*\{\s*"success"\s*:\s*true\s*\}\s*\z/;


# concurrency ---------------------------------------------------------------

our $RaceClients = 6;
our $RaceRequests = 20;

sub race_file { Test::Nginx::Socket::html_dir() . "/race-$_[0].txt" }

# one request on a fresh connection: "<status> <error code or -> <etag or ->"
sub race_request {
    my ($id, $notes) = @_;
    my ($status, $h, $rbody) =
        Woportal::http_request(PATCH => "/api/v1/workorder-portal/$id/status",
                               qq({"status":"in_progress","notes":"$notes"}));
    my $code = '-';
    if ($rbody =~ /^\s*\{/) {
        my $doc = eval { JSON::PP->new->decode($rbody) };
        $code = $doc->{error}{code} // '-'
            if ref $doc eq 'HASH' && ref $doc->{error} eq 'HASH';
    }
    return join ' ', $status || 'none', $code, $h->{etag} // '-';
}

# forks the clients, which start together, and waits for all of them
sub race {
    my $id = shift;
    die "no entry to race on\n" unless defined $id;
    my $start = Time::HiRes::time() + 0.5;
    my @pids;
    for my $c (1 .. $RaceClients) {
        my $pid = fork;
        die "fork: $!\n" unless defined $pid;
        if ($pid == 0) {
            my $ok = open my $out, '>', race_file($c);
            my $wait = $start - Time::HiRes::time();
            Time::HiRes::sleep($wait) if $wait > 0;
            for my $n (1 .. $RaceRequests) {
                my $line = race_request($id, "c$c-$n");
                print $out "c$c-$n $line\n" if $ok;
            }
            close $out if $ok;
            # no END blocks here: they belong to the test process
            POSIX::_exit(0);
        }
        push @pids, $pid;
    }
    waitpid $_, 0 for @pids;
}

sub race_problems {
    my $d = shift;
    my (@p, @won, %etags);
    my $answers = 0;
    for my $c (1 .. $RaceClients) {
        open my $in, '<', race_file($c) or do {
            push @p, "client $c left no results: $!";
            next;
        };
        while (my $line = <$in>) {
            my ($notes, $status, $code, $etag) = split ' ', $line;
            $answers++;
            if ($status eq '200') {
                push @won, $notes;
                $etags{$etag}++;
            } elsif (!($status eq '409' && $code eq 'conflict')) {
                push @p, "$notes answered $status $code (only 200 or 409 conflict may be)";
            }
        }
    }
    push @p, "$answers answers, expected " . $RaceClients * $RaceRequests
        if $answers != $RaceClients * $RaceRequests;
    my $n = @won;
    push @p, 'no request succeeded' unless $n;
    Test::More::note("race: $n of $answers status changes succeeded");

    my $h = ref $d->{status_history} eq 'ARRAY' ? $d->{status_history} : [];
    push @p, "status_history has " . @$h . " items, expected 1 + $n"
        if @$h != 1 + $n;
    push @p, "version is " . ($d->{version} // 'undef') . ", expected 1 + $n"
        unless ($d->{version} // '') eq 1 + $n;
    my @hist_notes = sort map { ref $_ eq 'HASH' ? $_->{notes} // '(none)' : '(bad)' }
                     @$h[1 .. $#$h];
    my $want = join ' ', sort @won;
    my $got = join ' ', @hist_notes;
    push @p, "the notes in status_history ($got) are not those of the 200 answers ($want)"
        if $got ne $want;
    my $tags = join ' ', sort keys %etags;
    my $want_tags = join ' ', sort map { qq("$_") } 2 .. $n + 1;
    push @p, "the 200 answers carried the ETags ($tags), expected each of ($want_tags) once"
        if $tags ne $want_tags || grep { $_ != 1 } values %etags;
    return @p;
}

1;
