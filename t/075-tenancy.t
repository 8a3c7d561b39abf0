use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
no_shuffle();
master_on();
workers(2);

# API keys and company namespaces (README: Tenancy): a key file with two
# tenants, a key of two namespaces and a "*" key, beside a
# woportal_api_key line.  Nobody reads, counts, changes or learns of an
# entry outside the key's namespaces.
#
# Every block has its own woportal_key_prefix, so each starts from an
# empty index.  Entries are made through the API in --- init with
# main::mk(label, key, namespaces...); "{{label}}" in a block's requests
# is replaced with its _id.  Sections this file adds:
#
#   --- list_ids   for a list answer: "<labels> / <total>", the labels of
#                  the page's entries in any order ("-": none)
#
# Init code asserts what needs two answers side by side: a "not yours"
# and a "no such entry" must be the same bytes but for the Date.

use Digest::SHA ();
use JSON::PP ();
use Time::HiRes ();

$ENV{TEST_NGINX_RUN_ID} = $$ . '-' . time();

our $Base = '/api/v1/workorder-portal';

# the keys; the file holds only their SHA-256 digests
our %Key = (
    acme  => 'k-acme-5c1e0d',
    beta  => 'k-beta-9a7f33',
    multi => 'k-multi-42b8e1',
    star  => 'k-star-e0f7aa',
    test  => 'test-key',          # woportal_api_key: every namespace
    new   => 'k-new-77d2c0',      # only after the reload of TEST 13
);

sub digest { Digest::SHA::sha256_hex($Key{ $_[0] }) }

our $KeysFile = <<"_EOK_";
# tenants of t/075-tenancy.t: <name> <sha256 of the key> <namespaces>

acme    @{[ digest('acme') ]}  acme
beta\t@{[ digest('beta') ]}\tbeta
multi   @{[ digest('multi') ]}  acme,gamma   # two namespaces
star    @{[ digest('star') ]}  *
_EOK_

our $J = $Woportal::J;
our ($CurBlock, $Prefix, %Id, %Label);

sub location {
    my ($n) = @_;
    return <<"_EOC_";
    location $Base {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:\$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_keys ../html/keys.txt;
        woportal_api_key test-key;
        woportal_key_prefix t075-b$n-\$TEST_NGINX_RUN_ID:;
    }
_EOC_
}

add_block_preprocessor(sub {
    my $block = shift;
    my ($n) = $block->name =~ /TEST (\d+)/
        or die "block name without a number: " . $block->name . "\n";

    $CurBlock = $block;
    $Prefix = "t075-b$n-$ENV{TEST_NGINX_RUN_ID}:";
    %Id = %Label = ();

    $block->set_value(config => location($n)) unless defined $block->config;
    $block->set_value(user_files => ">>> keys.txt\n$KeysFile")
        unless defined $block->user_files;
    $block->set_value(more_headers => "X-API-Key: $Key{star}\n")
        unless defined $block->more_headers;

    if ($block->name =~ /reload/ && $ENV{TEST_NGINX_USE_VALGRIND}) {
        # valgrind runs nginx without its master process: nothing reloads
        diag($block->name . ": no reload without the master process");
        $block->set_value(init => undef);
        $block->set_value(request => "GET $Base");
        $block->set_value(more_headers => "X-API-Key: $Key{acme}\n");
        $block->set_value(error_code => 200);
    }

    return $block;
});

add_response_body_check(sub {
    my ($block, $body, $i, $rep, $dry_run) = @_;
    return if $dry_run;
    my $want = for_req(scalar $block->list_ids, $i);
    return unless defined $want;

    my ($labels, $total) = $want =~ m{^\s*(.*?)\s*/\s*(\d+)\s*$}
        or die $block->name . ": bad list_ids: $want\n";
    my $doc = eval { $J->decode($body) } // {};
    my @got = sort map { $Label{ $_->{_id} } // "?$_->{_id}" }
              @{ ref $doc->{data} eq 'ARRAY' ? $doc->{data} : [] };
    my @exp = $labels eq '-' ? () : sort split ' ', $labels;

    is("@got", "@exp", $block->name . " - request $i lists these entries");
    is($doc->{paging}{total}, $total, $block->name . " - request $i total");
});


# HTTP from Perl -----------------------------------------------------------

sub http {
    my ($method, $path, $body, $who, @headers) = @_;
    return Woportal::http_request($method, $path, $body,
                                  defined $who ? $Key{$who} // $who : '');
}

# an entry made by key $who in namespaces @ns (none: the field is left out)
sub mk {
    my ($label, $who, $ns, %fields) = @_;
    my %body = (workorder => '507f1f77bcf86cd799439012',
                client => '507f1f77bcf86cd799439013', %fields);
    $body{company_namespace} = $ns if defined $ns;

    my ($status, $h, $resp) = http('POST', $Base, $J->encode(\%body), $who);
    my $doc = eval { $J->decode($resp) } // {};

    is($status, 201, "@{[ $CurBlock->name ]} - init: $label made by $who")
        or diag($resp);

    my $id = $doc->{data}{_id} // "no-id-for-$label";
    $Id{$label} = $id;
    $Label{$id} = $label;
    return $id;
}

# {{label}} in the block's requests becomes the label's _id
sub subst {
    for my $sec (qw(request more_headers)) {
        my $v = $CurBlock->$sec;
        next unless defined $v;
        my @items = ref $v eq 'ARRAY' ? @$v : ($v);
        for (@items) {
            next if ref;
            s/\{\{(\w+)\}\}/exists $Id{$1} ? $Id{$1} : "{{$1}}"/ge;
        }
        $CurBlock->set_value($sec, ref $v eq 'ARRAY' ? \@items : $items[0]);
    }
}

# the answers to two requests are the same but for the Date
sub same_answer {
    my ($what, $x, $y) = @_;
    my @a = http(@$x);
    my @b = http(@$y);
    for my $h ($a[1], $b[1]) {
        delete $h->{date};
    }
    is($a[0], $b[0], "@{[ $CurBlock->name ]} - $what: the same status");
    is(join("\n", map { "$_: $a[1]{$_}" } sort keys %{ $a[1] }),
       join("\n", map { "$_: $b[1]{$_}" } sort keys %{ $b[1] }),
       "@{[ $CurBlock->name ]} - $what: the same headers");
    is($a[2], $b[2], "@{[ $CurBlock->name ]} - $what: the same body");
    return $a[0];
}

sub keyh { join '', map { "X-API-Key: " . ($Key{$_} // $_) . "\n" } @_ }

our $Body = '{"workorder":"507f1f77bcf86cd799439012",'
          . '"client":"507f1f77bcf86cd799439013"';

# TEST 9: [key, query, "<labels> / <total>"]
our @Cases = (
    [acme  => '', 'a1 a2 ab / 3'],
    [beta  => '', 'b1 b2 ab / 3'],
    [multi => '', 'a1 a2 ab g / 4'],
    [star  => '', 'a1 a2 b1 b2 ab g n / 7'],
    [test  => '', 'a1 a2 b1 b2 ab g n / 7'],
    # a namespace filter keeps the key's namespaces only
    [acme  => '?company_namespace=beta', '- / 0'],
    [acme  => '?company_namespace[]=beta&company_namespace[]=zeta', '- / 0'],
    [acme  => '?company_namespace=beta&company_namespace=acme',
     'a1 a2 ab / 3'],
    [acme  => '?company_namespace=gamma', '- / 0'],
    [multi => '?company_namespace=gamma', 'g / 1'],
    [beta  => '?company_namespace[]=acme', '- / 0'],
    # other filters never reach past the key's namespaces
    [acme  => '?_id={{b1}}', '- / 0'],
    [acme  => '?_id={{b1}}&_id={{a1}}', 'a1 / 1'],
    [acme  => '?_id={{ab}}&_id={{b2}}&_id={{n}}&_id={{g}}', 'ab / 1'],
    [acme  => '?workorder=w1&client=c1', 'a1 / 1'],
    [beta  => '?workorder=w1', 'b1 / 1'],
    [multi => '?workorder=w1&client=c1', 'a1 g / 2'],
    [acme  => '?status=pending&workorder=w1&client=c1'
              . '&company_namespace=beta&_id={{b1}}', '- / 0'],
    [acme  => '?status=pending&workorder=w1&client=c1'
              . '&company_namespace=acme&_id={{b1}}', '- / 0'],
    [beta  => '?status=pending&workorder=w1&client=c1'
              . '&company_namespace=beta&_id={{b1}}', 'b1 / 1'],
    [star  => '?company_namespace=gamma&workorder=w1', 'g / 1'],
    [beta  => '?sort=-workorder&per_page=100', 'b1 b2 ab / 3'],
);

run_tests();

__DATA__

=== TEST 1: every key of the file, and the woportal_api_key one, is taken
--- request eval
[("GET /api/v1/workorder-portal") x 5]
--- more_headers eval
[map { main::keyh($_) } qw(acme beta multi star test)]
--- error_code eval
[(200) x 5]
--- list_ids eval
[('- / 0') x 5]



=== TEST 2: a missing key and an unknown one get the same 401
--- init
main::same_answer('unknown key vs no key',
                  ['GET', $main::Base, undef, 'k-acme-5c1e0e'],
                  ['GET', $main::Base, undef, undef]);
main::same_answer('key of another header vs a digest of the file',
                  ['GET', $main::Base, undef, 'nope'],
                  ['GET', $main::Base, undef,
                   Digest::SHA::sha256_hex($main::Key{acme})]);
--- request
GET /api/v1/workorder-portal
--- more_headers
X-API-Key: k-acme-5c1e0
--- error_code: 401
--- api_error: unauthorized



=== TEST 3: create: namespaces outside the key's set are 403 and store nothing; a key of one namespace fills it in
--- request eval
[map { "POST /api/v1/workorder-portal\n$main::Body$_}" }
    ',"company_namespace":["acme","beta"]',
    ',"company_namespace":["beta","acme","zeta"]',
    ',"company_namespace":["beta"]',
    '',
    ',"company_namespace":[]',
    '',
    ',"company_namespace":["gamma","acme"]',
    '',
    ',"company_namespace":["zeta"]']
--- more_headers eval
[map { "Content-Type: application/json\n" . main::keyh($_) }
    qw(acme acme multi multi multi acme multi star star)]
--- error_code eval
[403, 403, 403, 422, 422, 201, 201, 201, 201]
--- api_error eval
['forbidden', 'forbidden', 'forbidden', 'validation_failed',
 'validation_failed', undef, undef, undef, undef]
--- details eval
["company_namespace[1]", "company_namespace[0]\ncompany_namespace[2]",
 "company_namespace[0]", "company_namespace", "company_namespace"]
--- data_is eval
[undef, undef, undef, undef, undef,
 'company_namespace: ["acme"]', 'company_namespace: ["gamma","acme"]',
 'company_namespace: []', 'company_namespace: ["zeta"]']



=== TEST 4: nothing of the refused creates was stored
--- init
for my $t ([acme => ['acme', 'beta']], [acme => ['beta']],
           [multi => ['beta']], [multi => []], [multi => undef]) {
    my ($who, $ns) = @$t;
    my %b = (workorder => 'w', client => 'c');
    $b{company_namespace} = $ns if $ns;
    my ($status) = main::http('POST', $main::Base, $main::J->encode(\%b),
                              $who);
    Test::More::like($status, qr/^4/, "@{[ $main::CurBlock->name ]} - init: refused");
}
--- request eval
["GET /api/v1/workorder-portal", "GET /api/v1/workorder-portal"]
--- more_headers eval
[main::keyh('star'), main::keyh('test')]
--- error_code eval
[200, 200]
--- list_ids eval
['- / 0', '- / 0']



=== TEST 5: get, update, status and delete of another tenant's entry answer exactly as a missing id
--- init
main::mk('b', 'beta', ['beta']);
main::mk('a', 'acme', ['acme']);
my $b = "$main::Base/$main::Id{b}";
my $none = "$main::Base/0123456789abcdef01234567";
my $patch = '{"access_level":"comment"}';
my $status = '{"status":"in_progress"}';
for my $t (['GET'], ['HEAD'], ['PUT', $patch], ['PATCH', $patch],
           ['DELETE'], ['PUT', $status, '/status'],
           ['PATCH', $status, '/status'],
           ['PATCH', '{"company_namespace":["acme"]}'])
{
    my ($m, $body, $sub) = @$t;
    $sub //= '';
    for my $who (qw(acme multi)) {
        my $s = main::same_answer("$m$sub by $who",
                                  [$m, "$b$sub", $body, $who],
                                  [$m, "$none$sub", $body, $who]);
        Test::More::is($s, 404, "@{[ $main::CurBlock->name ]} - $m$sub by $who: 404");
    }
}
main::subst();
--- request eval
["GET /api/v1/workorder-portal/{{b}}", "GET /api/v1/workorder-portal/{{a}}"]
--- more_headers eval
[main::keyh('beta'), main::keyh('beta')]
--- error_code eval
[200, 404]
--- data_is eval
["version: 1\nstatus: \"pending\"\naccess_level: \"view_only\"", undef]



=== TEST 6: If-Match and If-None-Match tell nothing about an entry that is not the key's
--- init
main::mk('b', 'beta', ['beta']);
main::subst();
--- request eval
["GET /api/v1/workorder-portal/{{b}}",
 "PATCH /api/v1/workorder-portal/{{b}}\n{\"disabled\":true}",
 "DELETE /api/v1/workorder-portal/{{b}}",
 "GET /api/v1/workorder-portal/{{b}}"]
--- more_headers eval
["X-API-Key: k-acme-5c1e0d\nIf-None-Match: \"1\"\n",
 "X-API-Key: k-acme-5c1e0d\nIf-Match: \"1\"\nContent-Type: application/json\n",
 "X-API-Key: k-acme-5c1e0d\nIf-Match: \"2\"\n",
 "X-API-Key: k-beta-9a7f33\n"]
--- error_code eval
[404, 404, 404, 200]
--- api_error eval
['not_found', 'not_found', 'not_found', undef]
--- data_is eval
[undef, undef, undef, "version: 1\ndisabled: false"]



=== TEST 7: update: namespaces sent must be the key's, the entry must stay the key's, and others' namespaces stay
--- init
main::mk('a', 'acme', ['acme']);
main::mk('ag', 'multi', ['acme', 'gamma']);
main::subst();
--- request eval
[map { my ($m, $p, $b) = @$_; "$m /api/v1/workorder-portal/$p\n$b" }
    ['PATCH', '{{a}}', '{"company_namespace":["beta"]}'],
    ['PUT', '{{a}}', '{"company_namespace":["acme","beta"]}'],
    ['PATCH', '{{a}}', '{"company_namespace":[]}'],
    ['PATCH', '{{ag}}', '{"company_namespace":["acme"]}'],
    ['PATCH', '{{ag}}', '{"access_level":"comment"}'],
    ['PATCH', '{{a}}', '{"company_namespace":["acme"],"disabled":true}'],
    ['PATCH', '{{ag}}', '{"company_namespace":["gamma"]}'],
    ['GET', '{{ag}}', ''],
    ['PATCH', '{{ag}}/status', '{"status":"in_progress"}'],
    ['GET', '{{ag}}', ''],
    ['PATCH', '{{ag}}', '{"company_namespace":["acme","beta"]}']]
--- more_headers eval
[map { "Content-Type: application/json\n" . main::keyh($_) }
    qw(acme acme acme acme acme acme multi acme acme star star)]
--- error_code eval
[403, 403, 422, 403, 200, 200, 200, 404, 404, 200, 200]
--- api_error eval
['forbidden', 'forbidden', 'validation_failed', 'forbidden', undef, undef,
 undef, 'not_found', 'not_found', undef, undef]
--- details eval
['company_namespace[0]', 'company_namespace[1]', 'company_namespace',
 'company_namespace']
--- data_is eval
[undef, undef, undef, undef,
 "version: 2\naccess_level: \"comment\"\ncompany_namespace: [\"acme\",\"gamma\"]",
 "version: 2\ndisabled: true\ncompany_namespace: [\"acme\"]",
 "version: 3\ncompany_namespace: [\"gamma\"]",
 undef, undef,
 "version: 3\nstatus: \"pending\"",
 "version: 4\ncompany_namespace: [\"acme\",\"beta\"]"]



=== TEST 8: delete: only the key's own entries
--- init
main::mk('a', 'acme', ['acme']);
main::mk('b', 'beta', ['beta']);
main::subst();
--- request eval
["DELETE /api/v1/workorder-portal/{{b}}",
 "GET /api/v1/workorder-portal/{{b}}",
 "DELETE /api/v1/workorder-portal/{{a}}",
 "DELETE /api/v1/workorder-portal/{{a}}",
 "GET /api/v1/workorder-portal/{{a}}",
 "DELETE /api/v1/workorder-portal/{{b}}",
 "GET /api/v1/workorder-portal"]
--- more_headers eval
[map { main::keyh($_) } qw(acme beta beta acme star multi star)]
--- error_code eval
[404, 200, 404, 200, 404, 404, 200]
--- list_ids eval
[undef, undef, undef, undef, undef, undef, 'b / 1']



=== TEST 9: lists show each key its entries only, whatever the filters ask
--- init
main::mk('a1', 'acme', ['acme'], workorder => 'w1', client => 'c1');
main::mk('a2', 'acme', ['acme'], workorder => 'w2', client => 'c2');
main::mk('b1', 'beta', ['beta'], workorder => 'w1', client => 'c1');
main::mk('b2', 'beta', ['beta'], workorder => 'w2', client => 'c2');
main::mk('ab', 'star', ['acme', 'beta'], workorder => 'w3', client => 'c3');
main::mk('g', 'multi', ['gamma'], workorder => 'w1', client => 'c1');
main::mk('n', 'star', undef, workorder => 'w1', client => 'c1');
main::subst();
--- request eval
[map { "GET /api/v1/workorder-portal$_->[1]" } @main::Cases]
--- more_headers eval
[map { main::keyh($_->[0]) } @main::Cases]
--- error_code eval
[(200) x @main::Cases]
--- list_ids eval
[map { $_->[2] } @main::Cases]



=== TEST 10: a list's HEAD and paging count the key's entries only
--- init
main::mk('a1', 'acme', ['acme']);
main::mk('b1', 'beta', ['beta']);
main::mk('b2', 'beta', ['beta']);
main::mk('b3', 'beta', ['beta']);
main::subst();
--- request eval
["GET /api/v1/workorder-portal?per_page=1",
 "GET /api/v1/workorder-portal?per_page=1&page=2",
 "GET /api/v1/workorder-portal?per_page=2"]
--- more_headers eval
[map { main::keyh($_) } qw(acme acme beta)]
--- error_code eval
[200, 200, 200]
--- response_body_like eval
[qr/"paging":\{"page":1,"per_page":1,"total":1,"total_pages":1\}/,
 qr/"paging":\{"page":2,"per_page":1,"total":1,"total_pages":1\}/,
 qr/"paging":\{"page":1,"per_page":2,"total":3,"total_pages":2\}/]



=== TEST 11: an entry whose namespaces changed behind its index record is not listed to the old tenant
--- init
main::mk('a', 'acme', ['acme']);
main::mk('a2', 'acme', ['acme']);
# the entry moves to beta without its index record: a change whose
# record has not been appended yet
my $moved = Woportal::entry_json($main::Id{a}, company_namespace => ['beta'],
                                 version => 2);
Woportal::memcached_set("$main::Prefix$main::Id{a}", $moved);
main::subst();
--- request eval
["GET /api/v1/workorder-portal", "GET /api/v1/workorder-portal",
 "GET /api/v1/workorder-portal"]
--- more_headers eval
[map { main::keyh($_) } qw(acme acme beta)]
--- error_code eval
[200, 200, 200]
--- list_ids eval
['a2 / 1', 'a2 / 1', 'a / 1']



=== TEST 12: the key is never written to the error log, nor answered
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:1 --BINARY-PROTOCOL";
        woportal_api_keys ../html/keys.txt;
    }
--- request eval
["GET /api/v1/workorder-portal/0123456789abcdef01234567",
 "GET /api/v1/workorder-portal/0123456789abcdef01234567",
 "POST /api/v1/workorder-portal\n{\"workorder\":\"w\",\"client\":\"c\",\"company_namespace\":[\"beta\"]}"]
--- more_headers eval
["X-API-Key: k-acme-5c1e0d\n", "X-API-Key: k-acme-5c1e0dXX\n",
 "X-API-Key: k-acme-5c1e0d\nContent-Type: application/json\n"]
--- error_code eval
[503, 401, 403]
--- response_body_unlike eval
[qr/k-acme/, qr/k-acme/, qr/k-acme/]
--- no_error_log
k-acme



=== TEST 13: nginx -s reload reads the key file again
--- init
my $file = Test::Nginx::Socket::html_dir() . '/keys.txt';
my ($before) = main::http('GET', $main::Base, undef, 'new');
Test::More::is($before, 401, "@{[ $main::CurBlock->name ]} - init: the new key is unknown");
open my $fh, '>', $file or die "$file: $!";
print $fh "new " . main::digest('new') . " acme\n"
          . "acme " . main::digest('acme') . " acme\n";
close $fh;
my $pidfile = Test::Nginx::Socket::server_root() . '/logs/nginx.pid';
open my $pf, '<', $pidfile or die "$pidfile: $!";
my $pid = <$pf>;
chomp $pid;
# the workers of the old configuration accept connections until they
# have the master's QUIT: wait for them to be gone
my @old = split ' ', `pgrep -P $pid`;
kill 'HUP', $pid or die "HUP $pid: $!";
for (1 .. 400) {
    last unless grep { kill 0, $_ } @old;
    Time::HiRes::sleep(0.025);
}
Test::More::ok(!(grep { kill 0, $_ } @old),
   "@{[ $main::CurBlock->name ]} - init: the old workers are gone");
--- request eval
["GET /api/v1/workorder-portal", "GET /api/v1/workorder-portal",
 "GET /api/v1/workorder-portal"]
--- more_headers eval
[map { main::keyh($_) } qw(new beta acme)]
--- error_code eval
[200, 401, 200]



=== TEST 14: the file's syntax: comments, blank lines, tabs, CRLF, upper-case digests, names of any printable ASCII
--- user_files eval
[['keys.txt', "# only comments here\r\n\r\n"
  . "  \t# an indented comment\n"
  . "acme.example-1_x " . uc(main::digest('acme')) . " acme,#hash\r\n"
  . "beta:2\@x " . main::digest('beta') . " beta # trailing comment\n"
  . "star " . main::digest('star') . " *"]]
--- init
main::mk('h', 'acme', ['#hash']);
main::subst();
--- request eval
["GET /api/v1/workorder-portal/{{h}}", "GET /api/v1/workorder-portal/{{h}}",
 "GET /api/v1/workorder-portal"]
--- more_headers eval
[map { main::keyh($_) } qw(acme beta star)]
--- error_code eval
[200, 404, 200]
--- list_ids eval
[undef, undef, 'h / 1']



=== TEST 15: nginx -t: a line without its namespaces names the file and line
--- user_files
>>> keys.txt
# a comment
acme ae60fd4177cc63bf70f7e23dd4d6c4ab9a3e95642166dae078632c6d1051bd32
--- must_die
--- error_log eval
qr/\[emerg\].*invalid key in "[^"]*keys\.txt" line 2: expected "<name> <sha256 hex of the key> <namespaces>" in .*nginx\.conf:\d+/



=== TEST 16: nginx -t: a digest that is not 64 hex digits
--- user_files
>>> keys.txt
acme ae60fd4177cc63bf70f7e23dd4d6c4ab9a3e95642166dae078632c6d1051bd3 acme
--- must_die
--- error_log eval
qr/\[emerg\].*keys\.txt" line 1: the key's digest must be 64 hex digits/



=== TEST 17: nginx -t: a fourth field
--- user_files
>>> keys.txt
acme ae60fd4177cc63bf70f7e23dd4d6c4ab9a3e95642166dae078632c6d1051bd32 acme beta
--- must_die
--- error_log eval
qr/\[emerg\].*keys\.txt" line 1: .*more follows/



=== TEST 18: nginx -t: the same key twice
--- user_files
>>> keys.txt
acme ae60fd4177cc63bf70f7e23dd4d6c4ab9a3e95642166dae078632c6d1051bd32 acme

again AE60FD4177CC63BF70F7E23DD4D6C4AB9A3E95642166DAE078632C6D1051BD32 beta
--- must_die
--- error_log eval
qr/\[emerg\].*API keys "(acme|again)" and "(acme|again)" are the same key in .*nginx\.conf:\d+/



=== TEST 19: nginx -t: two keys of one name
--- user_files
>>> keys.txt
acme ae60fd4177cc63bf70f7e23dd4d6c4ab9a3e95642166dae078632c6d1051bd32 acme
acme 7e4704c54b0f296fa7d399e805b07cce9874f4f13817015c16827bdcf9bdd89c beta
--- must_die
--- error_log eval
qr/\[emerg\].*two API keys are named "acme" in .*nginx\.conf:\d+/



=== TEST 20: nginx -t: "*" among namespaces, and an empty namespace
--- user_files
>>> keys.txt
acme ae60fd4177cc63bf70f7e23dd4d6c4ab9a3e95642166dae078632c6d1051bd32 acme,*
--- must_die
--- error_log eval
qr/\[emerg\].*keys\.txt" line 1: "\*" stands alone/



=== TEST 21: nginx -t: an empty namespace
--- user_files
>>> keys.txt
acme ae60fd4177cc63bf70f7e23dd4d6c4ab9a3e95642166dae078632c6d1051bd32 acme,,beta
--- must_die
--- error_log eval
qr/\[emerg\].*keys\.txt" line 1: an empty namespace/



=== TEST 22: nginx -t: the digest of an empty key
--- user_files
>>> keys.txt
nobody e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 *
--- must_die
--- error_log eval
qr/\[emerg\].*keys\.txt" line 1: that is the digest of an empty key/



=== TEST 23: nginx -t: a file without keys
--- user_files
>>> keys.txt
# nobody yet

--- must_die
--- error_log eval
qr/\[emerg\].*keys\.txt" holds no key/



=== TEST 24: nginx -t: a file that cannot be opened
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT";
        woportal_api_keys ../html/no-such-keys.txt;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*open\(\) "[^"]*no-such-keys\.txt" failed/



=== TEST 25: nginx -t: a name with a quote
--- user_files
>>> keys.txt
ac"me ae60fd4177cc63bf70f7e23dd4d6c4ab9a3e95642166dae078632c6d1051bd32 acme
--- must_die
--- error_log eval
qr/\[emerg\].*keys\.txt" line 1: a key's name is printable ASCII/



=== TEST 26: limit_req by address, as in conf/woportal.conf: refusals in the envelope, 429 rate_limited with a key, 401 without
--- http_config
    limit_req_zone $binary_remote_addr zone=t075:1m rate=1r/m;
    limit_req_status 429;
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_keys ../html/keys.txt;
        limit_req zone=t075 burst=1 nodelay;
    }
--- request eval
[("GET /api/v1/workorder-portal") x 4]
--- more_headers eval
[map { main::keyh($_) } qw(acme acme acme nope)]
--- error_code eval
[200, 200, 429, 401]
--- api_error eval
[undef, undef, 'rate_limited', 'unauthorized']
--- response_body_like eval
[qr/"success":true/, qr/"success":true/, qr/too many requests/,
 qr/"unauthorized"/]



=== TEST 27: a file of 500 keys: each is found (the digests are searched in order), an unknown one is not
--- user_files eval
[['keys.txt', CORE::join '', map {
    "gen-$_ " . Digest::SHA::sha256_hex("k-gen-$_") . " ns$_\n" } 0 .. 499]]
--- request eval
[("GET /api/v1/workorder-portal") x 9]
--- more_headers eval
[map { "X-API-Key: k-gen-$_\n" } 0, 1, 77, 249, 250, 251, 498, 499, 500]
--- error_code eval
[(200) x 8, 401]



=== TEST 28: nginx -t: a woportal_api_key of the key file's
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT";
        woportal_api_keys ../html/keys.txt;
        woportal_api_key k-beta-9a7f33 second-beta;
    }
--- must_die
--- error_log eval
qr/\[emerg\].*API keys "(beta|second-beta)" and "(beta|second-beta)" are the same key/



=== TEST 29: $woportal_key_name is the name of the key of the file, never the key
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT --BINARY-PROTOCOL";
        woportal_api_keys ../html/keys.txt;
        woportal_api_key test-key;
        add_header X-Key-Name "[$woportal_key_name]" always;
    }
--- request eval
[("GET /api/v1/workorder-portal/0123456789abcdef01234567") x 4]
--- more_headers eval
[map { main::keyh($_) } qw(acme multi test nope)]
--- error_code eval
[404, 404, 404, 401]
--- response_headers_like eval
['X-Key-Name: \[acme\]', 'X-Key-Name: \[multi\]',
 'X-Key-Name: \[nginx\.conf:\d+\]', 'X-Key-Name: \[\]']
--- response_body_unlike eval
[qr/k-acme/, qr/k-multi/, qr/test-key/, qr/nope/]



=== TEST 30: a shared entry: a key of one of its namespaces changes its fields and its status, but deletes it, makes it final or changes its namespaces only holding them all
--- init
main::mk('ab', 'star', ['acme', 'beta']);
main::mk('ag', 'multi', ['acme', 'gamma']);
main::mk('a', 'acme', ['acme']);
main::subst();
--- request eval
[map { my ($m, $p, $b) = @$_; "$m /api/v1/workorder-portal/$p" . (defined $b ? "\n$b" : '') }
    ['PATCH', '{{ab}}', '{"access_level":"comment"}'],
    ['PATCH', '{{ab}}/status', '{"status":"in_progress"}'],
    ['PUT', '{{ab}}/status', '{"status":"completed"}'],
    ['PATCH', '{{ab}}', '{"status":"cancelled"}'],
    ['DELETE', '{{ab}}'],
    ['PATCH', '{{ab}}', '{"company_namespace":["acme","beta"]}'],
    ['GET', '{{ab}}'],
    ['PUT', '{{ag}}/status', '{"status":"completed"}'],
    ['DELETE', '{{ag}}'],
    ['DELETE', '{{ag}}'],
    ['PUT', '{{a}}', '{"status":"cancelled"}'],
    ['PUT', '{{ab}}/status', '{"status":"completed"}'],
    ['DELETE', '{{ab}}']]
--- more_headers eval
[map { "Content-Type: application/json\n" . main::keyh($_) }
    qw(acme beta acme beta acme acme beta acme acme multi acme star star)]
--- error_code eval
[200, 200, 403, 403, 403, 403, 200, 403, 403, 200, 200, 200, 200]
--- api_error eval
[undef, undef, 'forbidden', 'forbidden', 'forbidden', 'forbidden', undef,
 'forbidden', 'forbidden', undef, undef, undef, undef]
--- details eval
[undef, undef, ('company_namespace') x 3, 'company_namespace[1]', undef,
 ('company_namespace') x 2]
--- response_body_like eval
[qr/"success":true/, qr/"success":true/, qr/making it final needs them all/,
 qr/making it final needs them all/, qr/deleting it needs them all/,
 qr/not a namespace of this API key/, qr/"success":true/,
 qr/making it final needs them all/, qr/deleting it needs them all/,
 (qr/"success":true/) x 4]
--- data_is eval
["version: 2\naccess_level: \"comment\"",
 "version: 3\nstatus: \"in_progress\"",
 undef, undef, undef, undef,
 "version: 3\nstatus: \"in_progress\"\naccess_level: \"comment\"\ncompany_namespace: [\"acme\",\"beta\"]",
 undef, undef, undef,
 "version: 2\nstatus: \"cancelled\"",
 "version: 4\nstatus: \"completed\""]



=== TEST 31: ambiguous credentials: two key header lines, or a list in one, are 401 whatever the keys
--- request eval
[("GET /api/v1/workorder-portal") x 6]
--- more_headers eval
["X-API-Key: test-key\nX-API-Key: test-key",
 "X-API-Key: test-key\nX-API-Key: k-acme-5c1e0d",
 "X-API-Key: test-key\nX-API-Key: nope",
 "X-API-Key: test-key, test-key",
 "X-API-Key: test-key,k-acme-5c1e0d",
 "X-API-Key: test-key"]
--- error_code eval
[401, 401, 401, 401, 401, 200]
--- api_error eval
[('unauthorized') x 5, undef]



=== TEST 32: nginx -t: a woportal_api_key with a comma could never be sent alone
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:$TEST_NGINX_MEMCACHED_PORT";
        woportal_api_key "key,with-comma";
    }
--- must_die
--- error_log eval
qr/\[emerg\] .*API key holds a comma: a key sent with one is taken for a list, and refused in \S+nginx\.conf:\d+/
