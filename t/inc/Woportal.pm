package Woportal;

# Helpers shared by this project's .t files.  They use only the public
# interface of Test::Nginx::Socket (add_block_preprocessor,
# add_response_body_check), so the files run unchanged under the upstream
# Test::Nginx as under t/lib's harness.
#
#   use lib 't/inc';
#   use Woportal;
#
# - every JSON body answered by the API is checked against the contract's
#   schema (contract/openapi.yaml): the error envelope, the entry envelope
#   and the list envelope, whatever the block itself looks at;
# - the "_id" of the last entry answered (201 or 200) is kept, and
#   "{{id}}" in a later block's request is replaced with it: create then
#   read in two blocks (use no_shuffle());
# - memcached_set/get/delete talk to $TEST_NGINX_MEMCACHED_PORT directly,
#   to seed entries and to look at what the module stored;
#   memcached_raw gives a value with its item flags, memcached_entry the
#   JSON of a stored entry (its header checked and taken off), and
#   entry_value/make_value read and make the header
#   (src/ngx_http_woportal_value.c);
# - these sections, when a block has them, are checked on the decoded body
#   (each may be an eval array, one value per request):
#
#   --- api_error: CODE     the body is the error envelope with error.code CODE
#   --- details             the "field" of every details item, one per line,
#                           in any order: exactly these, each named once;
#                           "none": no details (absent or empty)
#   --- data_is             "field: <JSON>" lines: data.field is that JSON value
#   --- data_ok eval        a sub ($data, $raw_body) returning a list of
#                           problems (none: the check passes); for a list
#                           $data is the array of entries
#   --- same_as_created: 1  data is the same JSON value as the data of the
#                           last 201 answered
#   --- body_is_stored: 1   the whole body is the same JSON value as
#                           {"success":true,"data":<what memcached holds>}
#
#   With $Woportal::CheckStored set, every answer carrying an entry is also
#   compared with what memcached holds under woportal:<_id>.

use strict;
use warnings;

use B ();
use Exporter 'import';
use IO::Select ();
use IO::Socket::INET;
use Time::HiRes ();
use JSON::PP ();
use Test::More ();
use Test::Nginx::Socket ();
use YAML::XS ();

our @EXPORT = qw(memcached_set memcached_get memcached_delete
                 memcached_raw memcached_entry entry_value make_value
                 last_id entry_json jcanon for_req block_defaults);

# the location most blocks test
our $Location = <<'_EOC_';
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
_EOC_

# every field an answered entry carries (CONTRACT-NOTES: Entries)
our @EntryFields = qw(_id workorder client status access_level
                      allowed_actions expiry_date notifications
                      portal_settings custom_branding company_namespace
                      disabled status_history created_at updated_at version);

# sections a block leaves out take these values, e.g.
#   block_defaults(config => $Woportal::Location, more_headers => "...");
sub block_defaults {
    my %defaults = @_;
    Test::Nginx::Socket::add_block_preprocessor(sub {
        my $block = shift;
        for my $section (sort keys %defaults) {
            $block->set_value($section => $defaults{$section})
                unless defined $block->$section;
        }
        return $block;
    });
}

our $LastId;
our $Created;        # "data" of the last 201, decoded
our $CheckStored;

# canonical JSON text, to compare JSON values
our $J = JSON::PP->new->utf8->canonical->allow_nonref->allow_bignum;

sub jcanon { $J->encode($_[0]) }

# a section's value for request $i of a block (arrays: one per request)
sub for_req { my ($v, $i) = @_; ref $v eq 'ARRAY' ? $v->[$i] : $v }

$ENV{TEST_NGINX_MEMCACHED_PORT} //= 21211;

my $json = JSON::PP->new->canonical->allow_nonref;

my $contract = YAML::XS::LoadFile('contract/openapi.yaml');
my $schemas = $contract->{components}{schemas};

sub last_id { $LastId }

Test::Nginx::Socket::add_block_preprocessor(sub {
    my $block = shift;

    for my $section (qw(request more_headers)) {
        my $v = $block->$section;
        next unless defined $v;
        my @items = ref $v eq 'ARRAY' ? @$v : ($v);
        next unless grep { !ref && /\{\{id\}\}/ } @items;
        die "{{id}} used before any entry was answered\n"
            unless defined $LastId;
        s/\{\{id\}\}/$LastId/g for grep { !ref } @items;
        $block->set_value($section, ref $v eq 'ARRAY' ? \@items : $items[0]);
    }

    return $block;
});

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $repeated_req_idx, $dry_run) = @_;
    my $name = $block->name;

    return if $dry_run;
    return unless defined $body && $body =~ /^\s*\{/;

    my $doc = eval { $json->decode($body) };
    if (!defined $doc) {
        Test::More::fail("$name - body is JSON ($@)");
        return;
    }

    my $schema = !$doc->{success}            ? 'Error'
               : exists $doc->{paging}       ? 'List'
               : exists $doc->{data}         ? 'EntryEnvelope'
               :                               'Success';

    my @errors;
    if ($schema eq 'List') {
        check($doc, {type => 'object', required => [qw(success data paging)],
                     properties => {
                         data => {type => 'array',
                                  items => {'$ref' => '#/components/schemas/Entry'}},
                         paging => {'$ref' => '#/components/schemas/Paging'}}},
              '$', \@errors);
    } elsif ($schema eq 'Success') {
        check($doc, {type => 'object', required => ['success']}, '$', \@errors);
    } else {
        check($doc, {'$ref' => "#/components/schemas/$schema"}, '$',
              \@errors);
    }

    Test::More::is(join("\n", @errors), '',
                   "$name - body matches the contract's $schema schema");

    if ($doc->{success} && ref $doc->{data} eq 'HASH'
        && defined $doc->{data}{_id})
    {
        $LastId = $doc->{data}{_id};
    }
});

Test::Nginx::Socket::add_response_body_check(sub {
    my ($block, $body, $req_idx, $rep, $dry_run) = @_;
    return if $dry_run;
    my $name = $block->name;

    my $doc;
    if (defined $body && $body =~ /^\s*\{/) {
        $doc = eval { $J->decode($body) };
    }

    if (defined(my $code = for_req(scalar $block->api_error, $req_idx))) {
        $code =~ s/^\s+|\s+$//g;
        my $err = ref $doc eq 'HASH' && ref $doc->{error} eq 'HASH'
                  ? $doc->{error} : {};
        Test::More::ok(ref $doc eq 'HASH' && JSON::PP::is_bool($doc->{success})
                       && !$doc->{success}, "$name - success is false");
        Test::More::is($err->{code}, $code, "$name - error code");

        if (defined(my $want = for_req(scalar $block->details, $req_idx))) {
            my @want = grep { length } map { s/^\s+|\s+$//gr } split /\n/, $want;
            @want = () if "@want" eq 'none';
            my @got = map { ref $_ eq 'HASH' ? $_->{field} // '(no field)'
                                             : '(not an object)' }
                      @{ ref $err->{details} eq 'ARRAY' ? $err->{details} : [] };
            Test::More::is(join(' ', sort @got), join(' ', sort @want),
                           "$name - details name exactly the offending fields, once each");
        }
        return;
    }

    my $data = ref $doc eq 'HASH' && ref $doc->{data} eq 'HASH'
               ? $doc->{data} : undef;
    # a list's data: an array of entries
    my $list = ref $doc eq 'HASH' && ref $doc->{data} eq 'ARRAY'
               ? $doc->{data} : undef;

    if (defined(my $spec = for_req(scalar $block->data_is, $req_idx))) {
        for my $line (grep { /\S/ } split /\n/, $spec) {
            my ($k, $v) = $line =~ /^\s*([^:\s]+):\s*(.*?)\s*$/
                or die "$name: bad data_is line: $line\n";
            my $want = eval { jcanon($J->decode($v)) } // "(bad JSON: $v)";
            my $got = $data && exists $data->{$k} ? jcanon($data->{$k})
                                                  : '(missing)';
            Test::More::is($got, $want, "$name - data.$k");
        }
    }

    if (defined(my $code = for_req(scalar $block->data_ok, $req_idx))) {
        my @problems = ref $code ne 'CODE' ? ("data_ok is not a sub: $code")
                     : ($data // $list) ? $code->($data // $list, $body)
                     : ('no data in the body');
        Test::More::is(join("\n", @problems), '', "$name - data_ok");
    }

    if (defined $block->same_as_created) {
        Test::More::is($data ? jcanon($data) : '(no data)',
                       $Created ? jcanon($Created) : '(nothing created)',
                       "$name - data is the created entry");
    }

    if (defined $block->body_is_stored) {
        my $id = $data && !ref $data->{_id} ? $data->{_id} // '' : '';
        my $stored = memcached_entry("woportal:$id");
        my $sdoc = defined $stored ? eval { $J->decode($stored) } : undef;
        Test::More::is(defined $doc ? jcanon($doc) : '(no JSON body)',
                       jcanon({success => JSON::PP::true(), data => $sdoc}),
                       "$name - the body is {\"success\":true,\"data\":<the stored entry>}");
    }

    if ($CheckStored && $data && defined $data->{_id} && !ref $data->{_id}) {
        my $stored = memcached_entry("woportal:$data->{_id}");
        my $sdoc = defined $stored ? eval { $J->decode($stored) } : undef;
        Test::More::is(defined $sdoc ? jcanon($sdoc)
                       : defined $stored ? "(not JSON: $stored)" : '(nothing stored)',
                       jcanon($data),
                       "$name - the stored entry is the served data");
    }

    my $status = for_req(scalar $block->error_code, $req_idx) // '';
    $Created = $data if $data && $status =~ /^\s*201\s*$/;
});

# a small JSON Schema (OpenAPI 3.0 flavour) checker: what the contract uses

sub check {
    my ($v, $s, $path, $errors) = @_;

    if (my $ref = $s->{'$ref'}) {
        (my $name = $ref) =~ s{^#/components/schemas/}{};
        return check($v, $schemas->{$name}, $path, $errors);
    }

    for my $sub (@{ $s->{allOf} || [] }) {
        check($v, $sub, $path, $errors);
    }

    if (!defined $v) {
        push @$errors, "$path: null" unless $s->{nullable};
        return;
    }

    my $type = $s->{type} // '';

    if ($type eq 'object') {
        return push @$errors, "$path: not an object" if ref $v ne 'HASH';
        for my $k (@{ $s->{required} || [] }) {
            push @$errors, "$path.$k: missing" unless exists $v->{$k};
        }
        my $props = $s->{properties} || {};
        for my $k (sort keys %$v) {
            if ($props->{$k}) {
                check($v->{$k}, $props->{$k}, "$path.$k", $errors);
            } elsif (defined $s->{additionalProperties}
                     && !$s->{additionalProperties}) {
                push @$errors, "$path.$k: not in the schema";
            }
        }
    } elsif ($type eq 'array') {
        return push @$errors, "$path: not an array" if ref $v ne 'ARRAY';
        for my $i (0 .. $#$v) {
            check($v->[$i], $s->{items}, "$path\[$i]", $errors)
                if $s->{items};
        }
    } elsif ($type eq 'string') {
        return push @$errors, "$path: not a string"
            if ref $v || JSON::PP::is_bool($v) || !string_like($v);
        push @$errors, "$path: '$v' not in the enum"
            if $s->{enum} && !grep { $_ eq $v } @{ $s->{enum} };
        push @$errors, "$path: '$v' does not match $s->{pattern}"
            if $s->{pattern} && $v !~ /$s->{pattern}/;
        push @$errors, "$path: '$v' is not a UTC time with milliseconds"
            if ($s->{format} // '') eq 'date-time'
               && $v !~ /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
    } elsif ($type eq 'integer') {
        return push @$errors, "$path: not an integer"
            if ref $v || JSON::PP::is_bool($v) || string_like($v)
               || $v !~ /^-?\d+$/;
        push @$errors, "$path: below $s->{minimum}"
            if defined $s->{minimum} && $v < $s->{minimum};
    } elsif ($type eq 'boolean') {
        push @$errors, "$path: not a boolean" unless JSON::PP::is_bool($v);
        push @$errors, "$path: not in the enum"
            if $s->{enum} && !grep { ($_ ? 1 : 0) == ($v ? 1 : 0) }
                                   @{ $s->{enum} };
    }
}

# JSON::PP gives strings as plain scalars; numbers decoded from JSON
# carry a numeric flag: tell them apart by how they were created
sub string_like {
    my $v = shift;
    my $b = B::svref_2object(\$v);
    return ($b->FLAGS & B::SVp_POK()) && !($b->FLAGS & (B::SVp_IOK() | B::SVp_NOK()));
}

# one request on a fresh connection, from Perl (for --- init code and
# concurrency checks): (status, {lc header => value}, body); the key is
# test-key unless given ('' sends none)
sub http_request {
    my ($method, $path, $body, $key) = @_;
    $key //= 'test-key';
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_SERVER_PORT}
                                              // Test::Nginx::Socket::server_port(),
                                  Proto => 'tcp', Timeout => 5)
        or return (0, {}, "cannot connect: $!");
    binmode $s;
    my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n"
              . "Connection: close\r\n";
    $req .= "X-API-Key: $key\r\n" if length $key;
    if (defined $body) {
        $req .= "Content-Type: application/json\r\n"
                . "Content-Length: " . length($body) . "\r\n";
    }
    $req .= "\r\n" . ($body // '');
    while (length $req) {
        my $n = syswrite $s, $req;
        return (0, {}, "write: $!") unless defined $n;
        substr($req, 0, $n) = '';
    }
    my $resp = '';
    my $sel = IO::Select->new($s);
    my $deadline = Time::HiRes::time() + 20;
    while ((my $left = $deadline - Time::HiRes::time()) > 0) {
        last unless $sel->can_read($left);
        my $n = sysread $s, my $buf, 65536;
        last unless $n;
        $resp .= $buf;
    }
    close $s;
    my ($head, $rbody) = split /\r\n\r\n/, $resp, 2;
    my ($status) = ($head // '') =~ m{\AHTTP/1\.[01] (\d{3})};
    my %h;
    for my $line (split /\r\n/, $head // '') {
        $h{lc $1} = $2 if $line =~ /^([^:\s]+):\s*(.*?)\s*$/;
    }
    if (($h{'transfer-encoding'} // '') eq 'chunked') {
        my $out = '';
        while ($rbody =~ s/\A([0-9a-fA-F]+)[^\r]*\r\n//) {
            my $len = hex $1;
            last if $len == 0;
            $out .= substr $rbody, 0, $len, '';
            $rbody =~ s/\A\r\n//;
        }
        $rbody = $out;
    }
    return ($status // 0, \%h, $rbody // '');
}

# Sends every request ([method, path, body]: a body that is a reference
# goes as its JSON) on a connection of its own: all connections are
# opened, then all requests written, then all answers read (t/045,
# t/046).  A sub given first runs once every request is written.  One
# [status, {lc header => value}, body] per request.
sub burst {
    my $written = ref $_[0] eq 'CODE' ? shift : undef;
    my @reqs = @_;
    my (@s, @out);
    for my $i (0 .. $#reqs) {
        $s[$i] = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                       PeerPort => $ENV{TEST_NGINX_SERVER_PORT}
                                                   // Test::Nginx::Socket::server_port(),
                                       Proto => 'tcp', Timeout => 5)
            or die "cannot connect: $!\n";
        binmode $s[$i];
    }
    for my $i (0 .. $#reqs) {
        my ($method, $path, $body) = @{ $reqs[$i] };
        $body = $J->encode($body) if ref $body;
        my $req = "$method $path HTTP/1.1\r\nHost: localhost\r\n"
                  . "Connection: close\r\nX-API-Key: test-key\r\n";
        $req .= "Content-Type: application/json\r\nContent-Length: "
                . length($body) . "\r\n" if defined $body;
        $req .= "\r\n" . ($body // '');
        # a large body in one piece: nginx reads it whole before the
        # request goes on, so no answer is read before every request is
        # written
        while (length $req) {
            my $n = syswrite $s[$i], $req;
            die "write: $!\n" unless defined $n;
            substr($req, 0, $n) = '';
        }
    }
    $written->() if $written;
    my @resp = ('') x @reqs;
    my %open = map { $_ => 1 } 0 .. $#reqs;
    my $sel = IO::Select->new(@s);
    my $deadline = Time::HiRes::time() + 20;
    while (%open && (my $left = $deadline - Time::HiRes::time()) > 0) {
        for my $fh ($sel->can_read($left)) {
            my ($i) = grep { $s[$_] == $fh } keys %open;
            next unless defined $i;
            my $n = sysread $fh, my $buf, 65536;
            if ($n) {
                $resp[$i] .= $buf;
                next;
            }
            delete $open{$i};
            $sel->remove($fh);
            close $fh;
        }
    }
    for my $r (@resp) {
        my ($head, $body) = split /\r\n\r\n/, $r, 2;
        my ($status) = ($head // '') =~ m{\AHTTP/1\.[01] (\d{3})};
        my %h;
        for my $line (split /\r\n/, $head // '') {
            $h{lc $1} = $2 if $line =~ /^([^:\s]+):\s*(.*?)\s*$/;
        }
        push @out, [$status // 0, \%h, $body // ''];
    }
    return @out;
}

# --- memcached, text protocol -------------------------------------------

sub mc {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_MEMCACHED_PORT},
                                  Timeout => 2)
        or die "cannot reach memcached on $ENV{TEST_NGINX_MEMCACHED_PORT}: $!\n";
    binmode $s;
    return $s;
}

sub memcached_set {
    my ($key, $value, $flags) = @_;
    my $s = mc();
    utf8::encode($value) if utf8::is_utf8($value);
    $flags //= 1;
    print $s "set $key $flags 0 " . length($value) . "\r\n$value\r\n";
    my $reply = <$s>;
    die "memcached set $key: $reply" unless $reply =~ /^STORED/;
}

sub memcached_get {
    my $key = shift;
    my $s = mc();
    print $s "get $key\r\n";
    my $line = <$s>;
    return undef if $line =~ /^END/;
    my ($len) = $line =~ /^VALUE \S+ \d+ (\d+)/ or die "memcached get: $line";
    my $value;
    read $s, $value, $len;
    return $value;
}

# (value, flags) of a key; () when it is missing
sub memcached_raw {
    my $key = shift;
    my $s = mc();
    print $s "get $key\r\n";
    my $line = <$s>;
    return () if $line =~ /^END/;
    my ($flags, $len) = $line =~ /^VALUE \S+ (\d+) (\d+)/
        or die "memcached get: $line";
    my $value;
    read $s, $value, $len;
    return ($value, $flags);
}

# An entry's value of item flags 5 (FORMAT_ENTRY), read as the module
# reads it: a hash of its header's fields (id, version, namespaces) and
# its JSON, or a string saying why it is not one.  Little-endian:
#
#     0  magic 0xe5       1  format 1          2  JSON length (4)
#     6  _id (12 bytes)  18  version (8)      26  namespaces (1)
#    27  each namespace: length (2), bytes; then the JSON
sub entry_value {
    my $v = shift;
    return 'shorter than a header' if length($v) < 27;
    my ($magic, $format, $jlen, $id, $version, $nns) =
        unpack 'C C V a12 Q< C', $v;
    return sprintf('magic 0x%02x, format %d', $magic, $format)
        if $magic != 0xe5 || $format != 1;
    my $p = 27;
    my @ns;
    for (1 .. $nns) {
        return 'namespaces past the end' if $p + 2 > length $v;
        my $len = unpack 'v', substr($v, $p, 2);
        return 'a namespace past the end' if $p + 2 + $len > length $v;
        push @ns, substr($v, $p + 2, $len);
        $p += 2 + $len;
    }
    return 'JSON length ' . $jlen . ', ' . (length($v) - $p) . ' bytes follow'
        if length($v) - $p != $jlen;
    return { id => unpack('H24', $id), version => $version,
             namespaces => \@ns, json => substr($v, $p), head => $p };
}

# The records of an index shard's value, in order: [ { id (hex),
# deleted (1 or 0), version, time (updated_at, ms; a deletion's: when it
# was made), off (in the value), len } ... ], or a string saying where
# the bytes are no records.  Layout: index.c.
sub index_records {
    my $v = shift;
    my ($p, @recs) = (0);
    while ($p < length $v) {
        return "a record's head past the end at $p" if length($v) - $p < 55;
        my ($magic, $len, $flags, $id, $version, $created, $updated) =
            unpack 'C v C a12 Q< Q< Q<', substr($v, $p, 40);
        return sprintf('magic 0x%02x, length %d at %d', $magic, $len, $p)
            if $magic != 0xa7 || $len < 55 || $p + $len > length $v;
        push @recs, { id => unpack('H24', $id), deleted => $flags & 1,
                      version => $version, time => $updated, off => $p,
                      len => $len };
        $p += $len;
    }
    return \@recs;
}

# the _ids an index shard's records leave live, folded as a reader folds
# them (each _id by its record of the highest version; of two of one
# version the later): { id => version }, and the count of deleted _ids
sub index_live {
    my $recs = shift;
    my %top;
    for my $r (@$recs) {
        $top{$r->{id}} = $r if !$top{$r->{id}}
                               || $r->{version} >= $top{$r->{id}}{version};
    }
    my %live = map { $_->{id} => $_->{version} }
               grep { !$_->{deleted} } values %top;
    return (\%live, scalar(keys %top) - scalar(keys %live));
}

# the value of item flags 5 the module would store for an entry's JSON
sub make_value {
    my $json = shift;
    my $e = $J->decode($json);
    my @ns = map { my $b = $_; utf8::encode($b); $b }
             @{ $e->{company_namespace} || [] };
    utf8::encode($json) if utf8::is_utf8($json);
    return pack('C C V H24 Q< C', 0xe5, 1, length $json, $e->{_id},
                $e->{version}, scalar @ns)
        . join('', map { pack('v', length $_) . $_ } @ns) . $json;
}

# The JSON of a stored entry: its header checked and taken off (flags 5),
# as it is (flags 1); undef when there is none, "(...)" saying what is
# wrong with anything else
sub memcached_entry {
    my $key = shift;
    my ($value, $flags) = memcached_raw($key);
    return undef unless defined $value;
    return $value if $flags == 1;
    return "(item flags $flags)" if $flags != 5;
    my $v = entry_value($value);
    return ref $v ? $v->{json} : "(not an entry's value: $v)";
}

sub memcached_delete {
    my $key = shift;
    my $s = mc();
    print $s "delete $key\r\n";
    my $reply = <$s>;
}

# a stored entry, as the module stores it, with fields overridden
sub entry_json {
    my ($id, %over) = @_;
    my %e = (
        _id => $id,
        workorder => '507f1f77bcf86cd799439012',
        client => '507f1f77bcf86cd799439013',
        status => 'pending',
        access_level => 'view_only',
        allowed_actions => ['view'],
        expiry_date => undef,
        notifications => {},
        portal_settings => {},
        custom_branding => {},
        company_namespace => ['acme'],
        disabled => JSON::PP::false,
        status_history => [{status => 'pending',
                            changed_at => '2026-01-02T03:04:05.678Z'}],
        created_at => '2026-01-02T03:04:05.678Z',
        updated_at => '2026-01-02T03:04:05.678Z',
        version => 1,
        %over,
    );
    return JSON::PP->new->utf8->canonical->encode(\%e);
}

1;
