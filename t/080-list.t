use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalList;
no_shuffle();

# The list: GET (and HEAD) of the collection.  contract/openapi.yaml
# (listEntries) and contract/CONTRACT-NOTES.md (Lists), refined by the
# list's specification: paging, every sort field in both directions with
# ties by _id, every filter alone and combined ([] forms, percent-encoding,
# repeated parameters), every 400 case, consistency with the writes,
# entries evicted behind the module's back ("ghosts"), the index layout
# (woportal_index_shards) and its compaction.
#
# Every block has its own woportal_key_prefix (t080-b<N>-<run id>:), so
# each starts from an empty index.  Entries are made through the API in
# --- init (main::mk and friends, plain HTTP from Perl), never written to
# memcached directly: those would not be in the index.  Each entry gets a
# label; "{{label}}" in a block's requests is replaced with its _id.
#
# Sections this file adds (besides those of t/inc/Woportal.pm):
#
#   --- directives        extra lines for the woportal location
#   --- list_is           the list answered, checked on the decoded body
#                         (an eval array: one per request, undef = none):
#                           ids: e d [b c] {x y}   exact order of data's
#                               _ids by label; [..] a tie, _id ascending,
#                               {..} the same labels _id descending,
#                               @last the last _id Woportal.pm saw answered
#                           paging: P PP T TP
#                         or a sub ($doc, \@ids) returning problems.
#   --- cases             [query, ids, paging] items: GETs of the collection
#                         with "query" appended, each 200 with that list
#   --- bad               [query, "field field..."] items: GETs of the
#                         collection answered 400 invalid_parameter with
#                         details naming exactly those parameters
#
# On every list answer checked with list_is, whatever the block expects:
# no _id twice on a page, no more items than per_page, total_pages =
# ceil(total / per_page), and every item is the same JSON value that
# GET /{id} serves as "data".
# A block whose --- init did not go as planned (a create answered other
# than 201, ...) fails on that, naming what went wrong.
#
# The helpers (main::mk, main::page_of, ...) and the checks of these
# sections are in t/inc/WoportalList.pm.

run_tests();

__DATA__

=== TEST 1: an empty index: 200, no items, total 0, total_pages 0, with and without the trailing slash; no ETag
--- cases eval
[["",                       "", "1 25 0 0"],
 ["/",                      "", "1 25 0 0"],
 ["?page=3",                "", "3 25 0 0"],
 ["/?status=pending&per_page=10", "", "1 10 0 0"]]



=== TEST 2: HEAD of the collection: 200, no body, no ETag
--- init
main::five();
--- request
HEAD /api/v1/workorder-portal?per_page=2
--- error_code: 200
--- response_headers
Content-Type: application/json
!ETag
--- response_body



=== TEST 3: HEAD with a bad parameter: 400, no body
--- request
HEAD /api/v1/workorder-portal/?per_page=0
--- error_code: 400
--- response_body



=== TEST 4: authentication comes first: no key or an unknown key is 401 even with bad parameters
--- more_headers eval
["", "", "", "X-API-Key: wrong\n", "X-API-Key: wrong\n", ""]
--- request eval
["GET /api/v1/workorder-portal",
 "GET /api/v1/workorder-portal?per_page=0",
 "GET /api/v1/workorder-portal/?sort=nope&page=1&page=1&workorder=%zz",
 "GET /api/v1/workorder-portal?status=PENDING",
 "GET /api/v1/workorder-portal/?_id=%",
 "HEAD /api/v1/workorder-portal?page=-1"]
--- error_code eval
[401, 401, 401, 401, 401, 401]
--- api_error eval
["unauthorized", "unauthorized", "unauthorized", "unauthorized", "unauthorized", undef]



=== TEST 5: paging over five entries (default order -created_at): pages, past the end, leading zeros, encoded digits, the limits
--- init
main::five();
--- cases eval
[["",                             "e d c b a", "1 25 5 1"],
 ["?per_page=2",                  "e d",       "1 2 5 3"],
 ["?per_page=2&page=2",           "c b",       "2 2 5 3"],
 ["?page=3&per_page=2",           "a",         "3 2 5 3"],
 ["?page=4&per_page=2",           "",          "4 2 5 3"],
 ["?page=002&per_page=02",        "c b",       "2 2 5 3"],
 ["?per_page=%32&page=%33",       "a",         "3 2 5 3"],
 ["?per_page=100",                "e d c b a", "1 100 5 1"],
 ["?per_page=0100&page=0001",     "e d c b a", "1 100 5 1"],
 ["?per_page=1&page=5",           "a",         "5 1 5 5"],
 ["?per_page=1&page=6",           "",          "6 1 5 5"],
 ["?per_page=3&page=2",           "b a",       "2 3 5 2"],
 ["?page=1",                      "e d c b a", "1 25 5 1"],
 ["?page=2",                      "",          "2 25 5 1"],
 ["?page=2147483647",             "",          "2147483647 25 5 1"],
 ["?page=2147483647&per_page=100","",          "2147483647 100 5 1"],
 ["?page=02147483647&per_page=1", "",          "2147483647 1 5 5"]]



=== TEST 6: the trailing slash, empty pieces and unknown parameters (also page[] and a bad escape in an unknown one) change nothing
--- init
main::five();
--- cases eval
[["/?per_page=2&page=2",          "c b",       "2 2 5 3"],
 ["/",                            "e d c b a", "1 25 5 1"],
 ["?&&per_page=2&&page=2&",       "c b",       "2 2 5 3"],
 ["?&",                           "e d c b a", "1 25 5 1"],
 ["?page[]=0&per_page[]=0&sort[]=x&status[]=X&workorder[]=none&client[]=none&page%5B%5D=x",
                                  "e d c b a", "1 25 5 1"],
 ["?foo=%zz&bar&baz=&per_page=2", "e d",       "1 2 5 3"],
 ["?sort=-created_at",            "e d c b a", "1 25 5 1"],
 ["?sort=created_at&per_page=2&page=2", "c d", "2 2 5 3"]]



=== TEST 7: 120 entries created back to back: per_page 50 gives 3 disjoint pages that together are all of them, page 4 empty; default per_page 25; ties of created_at by _id
--- init
main::mk_many('e', 120);
main::note_ties();
--- request eval
[map { "GET /api/v1/workorder-portal$_" }
 "?per_page=50", "?per_page=50&page=2", "?page=3&per_page=50",
 "?per_page=50&page=4",
 "", "?page=5", "?page=2&per_page=100",
 "?sort=created_at&per_page=100", "?sort=created_at&per_page=100&page=2",
 "?sort=-updated_at&per_page=100&page=2", "?sort=updated_at,-_id&per_page=30&page=3"]
--- error_code eval
[(200) x 11]
--- list_is eval
[main::page_of(1, 50), main::page_of(2, 50),
 sub { (main::page_of(3, 50)->(@_), main::union_is()) },
 main::page_of(4, 50),
 main::page_of(1, 25), main::page_of(5, 25), main::page_of(2, 100),
 sub { @main::Collected = (); main::page_of(1, 100, sort => 'created_at')->(@_) },
 sub { (main::page_of(2, 100, sort => 'created_at')->(@_), main::union_is()) },
 main::page_of(2, 100, sort => '-updated_at'),
 main::page_of(3, 30, sort => 'updated_at,-_id')]



=== TEST 8: sort by created_at and -created_at; the default is -created_at
--- init
main::five();
--- cases eval
[["?sort=created_at",   "a b c d e", "1 25 5 1"],
 ["?sort=-created_at",  "e d c b a", "1 25 5 1"],
 ["",                   "e d c b a", "1 25 5 1"],
 ["?sort=created_at&page=2&per_page=3", "d e", "2 3 5 2"]]



=== TEST 9: sort by updated_at and -updated_at follows the updates
--- init
main::five();
main::patch('b', disabled => JSON::PP::true());
main::patch('a', disabled => JSON::PP::true());
main::set_status('d', 'in_progress');
--- cases eval
[["?sort=updated_at",   "c e b a d", "1 25 5 1"],
 ["?sort=-updated_at",  "d a b e c", "1 25 5 1"],
 ["?sort=created_at",   "a b c d e", "1 25 5 1"]]



=== TEST 10: sort by status: alphabetical (cancelled < completed < in_progress < pending), both directions, ties by _id ascending
--- init
main::mk($_) for qw(p1 i1 c1 x1 p2 i2 c2);
main::set_status('i1', 'in_progress');
main::set_status('c1', 'completed');
main::set_status('x1', 'cancelled');
main::set_status('i2', 'in_progress');
main::set_status('c2', 'completed');
--- cases eval
[["?sort=status",       "x1 [c1 c2] [i1 i2] [p1 p2]", "1 25 7 1"],
 ["?sort=-status",      "[p1 p2] [i1 i2] [c1 c2] x1", "1 25 7 1"],
 ["?sort=status&per_page=2&page=2", main::page_of(2, 2, sort => 'status')]]



=== TEST 11: sort by access_level: alphabetical (comment < full_access < view_only), both directions, ties by _id ascending
--- init
main::mk('v1', access_level => 'view_only');
main::mk('f1', access_level => 'full_access');
main::mk('m1', access_level => 'comment');
main::mk('v2');
main::mk('m2', access_level => 'comment');
--- cases eval
[["?sort=access_level",  "[m1 m2] f1 [v1 v2]", "1 25 5 1"],
 ["?sort=-access_level", "[v1 v2] f1 [m1 m2]", "1 25 5 1"]]



=== TEST 12: sort by workorder: code point (bytewise UTF-8) order, both directions, ties by _id ascending
--- init
main::mk($_, workorder => $main::Strings{$_}) for sort keys %main::Strings;
--- cases eval
[["?sort=workorder",  "w10 w1 w3 [w2 w9] w6 w5 w4 w7 w8", "1 25 10 1"],
 ["?sort=-workorder", "w8 w7 w4 w5 w6 [w2 w9] w3 w1 w10", "1 25 10 1"]]



=== TEST 13: sort by client: code point (bytewise UTF-8) order, both directions, ties by _id ascending
--- init
main::mk($_, client => $main::Strings{$_}) for sort keys %main::Strings;
--- cases eval
[["?sort=client",  "w10 w1 w3 [w2 w9] w6 w5 w4 w7 w8", "1 25 10 1"],
 ["?sort=-client", "w8 w7 w4 w5 w6 [w2 w9] w3 w1 w10", "1 25 10 1"]]



=== TEST 14: sort by expiry_date: by instant (offsets normalised), null before every value (also the epoch and before it), last under -expiry_date; ties by _id ascending
--- init
main::mk('n1');
main::mk('e1', expiry_date => '2027-01-01T00:00:00Z');
main::mk('e2', expiry_date => '2027-01-01T01:00:00+01:00');
main::mk('e3', expiry_date => '2026-12-31T23:30:00-02:00');
main::mk('e4', expiry_date => '2025-06-01T00:00:00+05:00');
main::mk('e5', expiry_date => '2027-01-01T00:00:00.001Z');
main::mk('n2');
main::mk('e6', expiry_date => '1970-01-01T00:00:00Z');
main::mk('e7', expiry_date => '1969-12-31T23:59:59.999Z');
main::mk('e8', expiry_date => '0001-01-01T00:00:00Z');
main::mk('e9', expiry_date => '9999-12-31T23:59:59.999Z');
--- cases eval
[["?sort=expiry_date",  "[n1 n2] e8 e7 e6 e4 [e1 e2] e5 e3 e9", "1 25 11 1"],
 ["?sort=-expiry_date", "e9 e3 e5 [e1 e2] e4 e6 e7 e8 [n1 n2]", "1 25 11 1"]]



=== TEST 15: sort by _id and -_id
--- init
main::mk_many('i', 12);
--- cases eval
[["?sort=_id",  "[i001 i002 i003 i004 i005 i006 i007 i008 i009 i010 i011 i012]", "1 25 12 1"],
 ["?sort=-_id", "{i001 i002 i003 i004 i005 i006 i007 i008 i009 i010 i011 i012}", "1 25 12 1"],
 ["?sort=-_id&per_page=5&page=3", main::page_of(3, 5, sort => '-_id')]]



=== TEST 16: several sort fields: each breaks the ties of the one before, _id last
--- init
main::multi_set();
--- cases eval
[["?sort=status,-workorder",            "[m2 m6] m3 m4 [m1 m5]",  "1 25 6 1"],
 ["?sort=workorder,client,-created_at",  "m3 m5 m1 m6 m2 m4",      "1 25 6 1"],
 ["?sort=-access_level,created_at",      "m2 m5 m4 m1 m3 m6",      "1 25 6 1"],
 ["?sort=client,status",                 "[m2 m3 m6] [m1 m4 m5]",  "1 25 6 1"],
 ["?sort=client,-_id",                   "{m2 m3 m6} {m1 m4 m5}",  "1 25 6 1"],
 ["?sort=-client,-status",               "[m1 m4 m5] [m2 m3 m6]",  "1 25 6 1"],
 ["?sort=-status,workorder,-client,-created_at", "m5 m1 m4 m3 m6 m2", "1 25 6 1"],
 ["?sort=status,workorder&per_page=4&page=2", main::page_of(2, 4, sort => 'status,workorder')]]



=== TEST 17: 16 sort items are accepted (fields may repeat; the first occurrence decides)
--- init
main::multi_set();
--- cases eval
[["?sort=status,-workorder,client,-client,created_at,-created_at,updated_at,-updated_at,access_level,-access_level,expiry_date,-expiry_date,_id,-_id,status,workorder",
  "m2 m6 m3 m4 m1 m5", "1 25 6 1"],
 ["?sort=" . CORE::join(',', ('-status') x 16), "[m1 m4 m5] [m2 m3 m6]", "1 25 6 1"]]



=== TEST 18: the sort parameter is percent-decoded too
--- init
main::multi_set();
--- cases eval
[["?sort=status%2C-workorder",       "[m2 m6] m3 m4 [m1 m5]", "1 25 6 1"],
 ["?%73ort=%2Dclient%2C%2D%5Fid",    "{m1 m4 m5} {m2 m3 m6}", "1 25 6 1"]]



=== TEST 19: filter by status: each value, exactly
--- init
main::filter_set();
--- cases eval
[["?status=pending",      "f7 f6 f3 f1", "1 25 4 1"],
 ["?status=in_progress",  "f2",          "1 25 1 1"],
 ["?status=completed",    "f4",          "1 25 1 1"],
 ["?status=cancelled",    "f5",          "1 25 1 1"],
 ["?st%61tus=cancelled",  "f5",          "1 25 1 1"],
 ["?status=in%5Fprogress","f2",          "1 25 1 1"],
 ["?status=pending&per_page=3&page=2", "f1", "2 3 4 2"],
 ["?status=pending&sort=workorder",    "f6 f1 f3 f7", "1 25 4 1"]]



=== TEST 20: filter by workorder and client: exact string equality, percent-decoded, + is a space; an empty value matches nothing
--- init
main::filter_set();
--- cases eval
[["?workorder=wo-1",          "f5 f2 f1", "1 25 3 1"],
 ["?workorder=wo%2D1",        "f5 f2 f1", "1 25 3 1"],
 ["?workorder=wo%2d1",        "f5 f2 f1", "1 25 3 1"],
 ["?client=cl-1",             "f5 f3 f1", "1 25 3 1"],
 ["?client=a+b",              "f7",       "1 25 1 1"],
 ["?client=a%20b",            "f7",       "1 25 1 1"],
 ["?client=a%2Bb",            "f6",       "1 25 1 1"],
 ["?workorder=a+b",           "f6",       "1 25 1 1"],
 ["?workorder=%C3%A9t%C3%A9", "f7",       "1 25 1 1"],
 ["?w%6Frkorder=wo-2",        "f4 f3",    "1 25 2 1"],
 ["?workorder=",              "",         "1 25 0 0"],
 ["?client=",                 "",         "1 25 0 0"],
 ["?workorder=WO-1",          "",         "1 25 0 0"],
 ["?workorder=wo-",           "",         "1 25 0 0"],
 ["?workorder=wo-1+",         "",         "1 25 0 0"],
 ["?workorder=wo-1%00",       "",         "1 25 0 0"],
 ["?client=cl",               "",         "1 25 0 0"],
 ["?workorder=wo-1&client=cl-1", "f5 f1", "1 25 2 1"]]



=== TEST 21: filter by company_namespace: repeatable, [] form (also encoded), mixed; matches an entry sharing at least one namespace
--- init
main::filter_set();
--- cases eval
[["?company_namespace=acme",                          "f5 f1",    "1 25 2 1"],
 ["?company_namespace[]=beta",                        "f2 f1",    "1 25 2 1"],
 ["?company_namespace%5B%5D=beta",                    "f2 f1",    "1 25 2 1"],
 ["?company_namespace=gamma&company_namespace=beta",  "f4 f2 f1", "1 25 3 1"],
 ["?company_namespace=acme&company_namespace[]=gamma","f5 f4 f1", "1 25 3 1"],
 ["?company_namespace[]=acme&company_namespace[]=beta", "f5 f2 f1", "1 25 3 1"],
 ["?company_namespace=acme&company_namespace=acme",   "f5 f1",    "1 25 2 1"],
 ["?company_namespace=nope",                          "",         "1 25 0 0"],
 ["?company_namespace=nope&company_namespace[]=gamma","f4",       "1 25 1 1"],
 ["?company_namespace=ACME",                          "",         "1 25 0 0"],
 ["?company_namespace=x+y",                           "f6",       "1 25 1 1"],
 ["?company_namespace=x%20y",                         "f6",       "1 25 1 1"],
 ["?company_namespace=a%26b%3Dc",                     "f7",       "1 25 1 1"],
 ["?company_namespace=a&b=c",                         "",         "1 25 0 0"],
 ["?company_namespace=ac",                            "",         "1 25 0 0"]]



=== TEST 22: filter by _id: repeatable, [] form, mixed; values that are not ids match nothing; an id given twice is listed once
--- init
main::filter_set();
--- cases eval
[["?_id={{f2}}",                          "f2",    "1 25 1 1"],
 ["?_id[]={{f2}}",                        "f2",    "1 25 1 1"],
 ["?%5Fid%5B%5D={{f4}}",                  "f4",    "1 25 1 1"],
 ["?_id={{f1}}&_id[]={{f3}}&_id=zzz",     "f3 f1", "1 25 2 1"],
 ["?_id[]={{f1}}&_id[]={{f1}}&_id={{f1}}","f1",    "1 25 1 1"],
 ["?_id=zzz",                             "",      "1 25 0 0"],
 ["?_id=",                                "",      "1 25 0 0"],
 ["?_id=ffffffffffffffffffffffff",        "",      "1 25 0 0"],
 ["?_id=" . ('0' x 24),                   "",      "1 25 0 0"],
 ["?_id={{f1}}x",                         "",      "1 25 0 0"],
 ["?_id={{f1}}&sort=_id&_id={{f7}}&_id={{f6}}", "[f1 f6 f7]", "1 25 3 1"]]



=== TEST 23: _id filter: an _id in capitals is not that id
--- init
main::filter_set();
$main::Id{F1} = uc($main::Id{f1} // '');
push @main::InitProblems, "the id of f1 has no letter" if $main::Id{F1} eq lc $main::Id{F1};
main::subst();
--- request
GET /api/v1/workorder-portal?_id={{F1}}
--- list_is
ids:
paging: 1 25 0 0



=== TEST 24: different parameters combine with AND
--- init
main::filter_set();
--- cases eval
[["?workorder=wo-1&client=cl-1&status=pending",           "f1", "1 25 1 1"],
 ["?workorder=wo-1&client=cl-1&status=cancelled",         "f5", "1 25 1 1"],
 ["?company_namespace=acme&status=pending",               "f1", "1 25 1 1"],
 ["?company_namespace=beta&workorder=wo-1&client=cl-2",   "f2", "1 25 1 1"],
 ["?company_namespace=beta&client=cl-2&status=pending",   "",   "1 25 0 0"],
 ["?_id={{f4}}&status=pending",                           "",   "1 25 0 0"],
 ["?_id={{f4}}&status=completed",                         "f4", "1 25 1 1"],
 ["?_id={{f4}}&_id={{f1}}&company_namespace=acme",        "f1", "1 25 1 1"],
 ["?_id={{f4}}&_id={{f1}}&company_namespace=acme&company_namespace=gamma&sort=-_id",
                                                          "{f1 f4}", "1 25 2 1"],
 ["?status=pending&workorder=wo-2&client=cl-1&company_namespace=acme", "", "1 25 0 0"],
 ["?workorder=wo-1&per_page=2&page=2&sort=created_at",    "f5", "2 2 3 2"]]



=== TEST 25: 100 company_namespace values (the forms mixed) and 100 _id values are accepted
--- init
main::filter_set();
--- cases eval
[["?" . CORE::join('&', (map { "company_namespace=n$_" } 1 .. 50),
                  (map { "company_namespace[]=m$_" } 1 .. 49),
                  "company_namespace[]=gamma"),                   "f4",    "1 25 1 1"],
 ["?" . CORE::join('&', (map { sprintf "_id=%024x", $_ } 1 .. 98),
                  "_id[]={{f6}}", "_id={{f2}}"),                   "f6 f2", "1 25 2 1"]]



=== TEST 26: 101 company_namespace values or 101 _id values (the forms mixed) are 400 naming the parameter
--- bad eval
[["?" . CORE::join('&', map { "company_namespace=n$_" } 1 .. 101),                  "company_namespace"],
 ["?" . CORE::join('&', (map { "company_namespace=n$_" } 1 .. 50),
                  (map { "company_namespace[]=m$_" } 1 .. 51)),               "company_namespace"],
 ["?" . CORE::join('&', map { sprintf "_id=%024x", $_ } 1 .. 101),                 "_id"],
 ["?" . CORE::join('&', (map { sprintf "_id[]=%024x", $_ } 1 .. 60),
                  (map { sprintf "_id=%024x", $_ } 61 .. 101)),              "_id"],
 ["?" . CORE::join('&', (map { "company_namespace=n$_" } 1 .. 101),
                  (map { sprintf "_id=%024x", $_ } 1 .. 101)),               "company_namespace _id"]]



=== TEST 27: page: anything but plain decimal digits for 1..2147483647 is 400 naming page
--- bad eval
[(map { ["?page=$_", "page"] } @main::BadPage),
 ["?page", "page"], ["?per_page=5&page&sort=_id", "page"]]



=== TEST 28: per_page: anything but plain decimal digits for 1..100 is 400 naming per_page
--- bad eval
[(map { ["?per_page=$_", "per_page"] } @main::BadPerPage),
 ["?per_page", "per_page"], ["/?page=2&per_page", "per_page"]]



=== TEST 29: sort: an empty value or item, --x, a lone -, an unlisted field, a space, more than 16 items is 400 naming sort
--- bad eval
[map { ["?sort=$_", "sort"] } @main::BadSort]



=== TEST 30: status: only the four values, case-sensitive; empty is 400 naming status
--- bad eval
[map { ["?status=$_", "status"] } @main::BadStatus]



=== TEST 31: a malformed percent escape in a known parameter's value is 400 naming that parameter
--- bad eval
[["?workorder=%",            "workorder"],
 ["?workorder=wo%4",         "workorder"],
 ["?workorder=%zz",          "workorder"],
 ["?client=%g0",             "client"],
 ["?client=abc%",            "client"],
 ["?company_namespace=%4",   "company_namespace"],
 ["?company_namespace[]=%zz","company_namespace"],
 ["?company_namespace=ok&company_namespace=%", "company_namespace"],
 ["?_id=%",                  "_id"],
 ["?_id[]=%4",               "_id"],
 ["?page=%",                 "page"],
 ["?page=%3",                "page"],
 ["?per_page=1%",            "per_page"],
 ["?sort=%zz",               "sort"],
 ["?sort=_id%",              "sort"],
 ["?status=%",               "status"],
 ["?status=pending%",        "status"]]



=== TEST 32: a scalar parameter given twice, even with the same value, is 400 naming it
--- bad eval
[["?page=1&page=1",                  "page"],
 ["?page=1&page=2",                  "page"],
 ["?per_page=5&per_page=5",          "per_page"],
 ["?sort=_id&sort=_id",              "sort"],
 ["?sort=_id&sort=-_id",             "sort"],
 ["?status=pending&status=pending",  "status"],
 ["?status=pending&st%61tus=pending","status"],
 ["?workorder=a&workorder=a",        "workorder"],
 ["?workorder=a&workorder=b",        "workorder"],
 ["?client=b&client=b",              "client"],
 ["?client=&client=",                "client"],
 ["?page=1&per_page=2&page=1",       "page"],
 ["?page=1&page=1&page=1",           "page"]]



=== TEST 33: several offending parameters: one details item for each, named without []
--- bad eval
[["?page=0&per_page=0",                                       "page per_page"],
 ["?page=x&per_page=101&sort=bad&status=NO",                  "page per_page sort status"],
 ["?page=1&page=1&per_page=0",                                "page per_page"],
 ["?workorder=%zz&client=%4",                                 "workorder client"],
 ["?company_namespace[]=%zz&_id[]=%zz",                       "company_namespace _id"],
 ["?company_namespace[]=%zz&company_namespace=%4",            "company_namespace"],
 ["?sort=foo&sort=bar",                                       "sort"],
 ["?status=x&status=y&status=z",                              "status"],
 ["?page=0&workorder=ok&foo=%zz&per_page=5",                  "page"],
 ["?_id=%&page=1&client=%&client=x&sort=-&per_page=25",       "_id client sort"]]



=== TEST 34: a create is listed at once, a delete is gone at once (and stays gone)
--- init
main::five();
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
["GET /api/v1/workorder-portal",
 "POST /api/v1/workorder-portal\n" . '{"workorder":"wo-new","client":"cl-new"}',
 "GET /api/v1/workorder-portal?per_page=2",
 "DELETE /api/v1/workorder-portal/{{c}}",
 "GET /api/v1/workorder-portal?per_page=2&page=2",
 "GET /api/v1/workorder-portal?_id={{c}}",
 "DELETE /api/v1/workorder-portal/{{e}}",
 "GET /api/v1/workorder-portal",
 "GET /api/v1/workorder-portal?workorder=wo-new"]
--- error_code eval
[200, 201, 200, 200, 200, 200, 200, 200, 200]
--- list_is eval
["ids: e d c b a\npaging: 1 25 5 1",
 undef,
 "ids: \@last e\npaging: 1 2 6 3",
 undef,
 "ids: d b\npaging: 2 2 5 3",
 "ids:\npaging: 1 25 0 0",
 undef,
 "ids: \@last d b a\npaging: 1 25 4 1",
 "ids: \@last\npaging: 1 25 1 1"]



=== TEST 35: a status change moves the entry between status filters (/status PATCH and PUT, and PATCH /{id})
--- init
main::five();
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
["GET /api/v1/workorder-portal?status=pending",
 "PATCH /api/v1/workorder-portal/{{b}}/status\n" . '{"status":"in_progress"}',
 "GET /api/v1/workorder-portal?status=pending",
 "GET /api/v1/workorder-portal?status=in_progress",
 "PUT /api/v1/workorder-portal/{{b}}/status\n" . '{"status":"completed"}',
 "PATCH /api/v1/workorder-portal/{{d}}\n" . '{"status":"cancelled"}',
 "GET /api/v1/workorder-portal?status=in_progress",
 "GET /api/v1/workorder-portal?status=completed",
 "GET /api/v1/workorder-portal?status=cancelled",
 "GET /api/v1/workorder-portal?status=pending",
 "GET /api/v1/workorder-portal?sort=status"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200]
--- list_is eval
["ids: e d c b a\npaging: 1 25 5 1",
 undef,
 "ids: e d c a\npaging: 1 25 4 1",
 "ids: b\npaging: 1 25 1 1",
 undef, undef,
 "ids:\npaging: 1 25 0 0",
 "ids: b\npaging: 1 25 1 1",
 "ids: d\npaging: 1 25 1 1",
 "ids: e c a\npaging: 1 25 3 1",
 "ids: d b [a c e]\npaging: 1 25 5 1"]



=== TEST 36: a company_namespace update moves the entry between namespace filters
--- init
main::mk('a', company_namespace => ['x']);
main::mk('b', company_namespace => ['y']);
main::mk('c', company_namespace => ['x', 'y']);
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
["GET /api/v1/workorder-portal?company_namespace=x",
 "PATCH /api/v1/workorder-portal/{{a}}\n" . '{"company_namespace":["y","z"]}',
 "GET /api/v1/workorder-portal?company_namespace=x",
 "GET /api/v1/workorder-portal?company_namespace=y",
 "GET /api/v1/workorder-portal?company_namespace[]=z",
 "PUT /api/v1/workorder-portal/{{c}}\n" . '{"company_namespace":[]}',
 "GET /api/v1/workorder-portal?company_namespace=x&company_namespace=y",
 "GET /api/v1/workorder-portal"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200]
--- list_is eval
["ids: c a\npaging: 1 25 2 1",
 undef,
 "ids: c\npaging: 1 25 1 1",
 "ids: c b a\npaging: 1 25 3 1",
 "ids: a\npaging: 1 25 1 1",
 undef,
 "ids: b a\npaging: 1 25 2 1",
 "ids: c b a\npaging: 1 25 3 1"]



=== TEST 37: updated_at and expiry_date sorting follow updates; an update does not move created_at order
--- init
main::mk('a', expiry_date => '2030-01-01T00:00:00Z');
main::mk('b', expiry_date => '2031-01-01T00:00:00Z');
main::mk('c');
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
["GET /api/v1/workorder-portal?sort=-updated_at",
 "PATCH /api/v1/workorder-portal/{{a}}\n" . '{"expiry_date":null}',
 "GET /api/v1/workorder-portal?sort=-updated_at",
 "GET /api/v1/workorder-portal?sort=expiry_date",
 "PATCH /api/v1/workorder-portal/{{c}}\n" . '{"expiry_date":"2029-01-01T00:00:00+14:00"}',
 "GET /api/v1/workorder-portal?sort=expiry_date",
 "GET /api/v1/workorder-portal?sort=updated_at",
 "GET /api/v1/workorder-portal"]
--- error_code eval
[200, 200, 200, 200, 200, 200, 200, 200]
--- list_is eval
["ids: c b a\npaging: 1 25 3 1",
 undef,
 "ids: a c b\npaging: 1 25 3 1",
 "ids: [a c] b\npaging: 1 25 3 1",
 undef,
 "ids: a c b\npaging: 1 25 3 1",
 "ids: b a c\npaging: 1 25 3 1",
 "ids: c b a\npaging: 1 25 3 1"]



=== TEST 38: a ghost on the requested page: never listed, the page is refilled, total no longer counts it, and later lists agree
--- init
main::five();
main::ghost('c');
--- cases eval
[["?per_page=2&page=2", "b a",     "2 2 4 2"],
 ["?per_page=2",        "e d",     "1 2 4 2"],
 ["?per_page=2&page=3", "",        "3 2 4 2"],
 ["",                   "e d b a", "1 25 4 1"],
 ["?_id={{c}}",         "",        "1 25 0 0"]]



=== TEST 39: ghosts in a row at the top of page 1: the page is refilled from the following entries; total corrected
--- init
main::mk($_) for qw(a b c d e f);
main::ghost('e');
main::ghost('d');
--- cases eval
[["?per_page=2",        "f c",     "1 2 4 2"],
 ["?per_page=2&page=2", "b a",     "2 2 4 2"],
 ["?sort=created_at",   "a b c f", "1 25 4 1"]]



=== TEST 40: a ghost under a filter and a sort: not listed, refilled, total corrected, also for the next list
--- init
main::mk('a', workorder => 'g');
main::mk('b', workorder => 'g');
main::mk('c', workorder => 'h');
main::mk('d', workorder => 'g');
main::mk('e', workorder => 'g');
main::ghost('a');
--- cases eval
[["?workorder=g&sort=created_at&per_page=3", "b d e", "1 3 3 1"],
 ["?workorder=g",                            "e d b", "1 25 3 1"],
 ["?sort=created_at",                        "b c d e", "1 25 4 1"]]



=== TEST 41: every entry a ghost: an empty list, total 0
--- init
main::five();
main::ghost($_) for qw(a b c d e);
--- cases eval
[["?per_page=2", "", "1 2 0 0"],
 ["",            "", "1 25 0 0"]]



=== TEST 42: compaction: one entry patched 60 times in one shard; the list answers version 61 and rewrites the shard with its live record only
--- directives
        woportal_index_shards 1;
--- init
main::mk('a', workorder => 'w' x 64, client => 'c' x 64,
         company_namespace => ['n' x 100, 'm' x 100]);
{ local $main::Gap = 0;
  main::patch('a', disabled => ($_ % 2 ? JSON::PP::true() : JSON::PP::false())) for 1 .. 60; }
$main::Mark{before} = main::shard_len(0);
push @main::InitProblems, "the shard idx:0 is only " . ($main::Mark{before} // 'undef')
                          . " bytes after 61 writes: no compaction can be due"
    unless ($main::Mark{before} // 0) > 8192;
--- more_headers
X-API-Key: test-key
Content-Type: application/json
--- request eval
["GET /api/v1/workorder-portal",
 "POST /api/v1/workorder-portal\n" . '{"workorder":"wo-after","client":"cl-after"}',
 "GET /api/v1/workorder-portal?sort=created_at"]
--- error_code eval
[200, 201, 200]
--- list_is eval
[sub {
     my ($doc, $got) = @_;
     my @p = main::ids_problems($got, [$main::Id{a}]);
     push @p, main::paging_problems($doc, 1, 25, 1, 1);
     my $v = $doc->{data}[0]{version} // 'undef';
     push @p, "version $v, expected 61" unless $v eq '61';
     my $len;
     for (1 .. 40) {
         $len = main::shard_len(0) // 0;
         last if $len < $main::Mark{before} / 10;
         Time::HiRes::sleep(0.05);
     }
     $main::Mark{after} = $len;
     push @p, "the shard was $main::Mark{before} bytes and is $len after the list:"
              . " not rewritten to its live record"
         unless $len < $main::Mark{before} / 10;
     push @p, "the shard is empty after the list" unless $len > 0;
     @p;
 },
 undef,
 sub {
     my ($doc, $got) = @_;
     my @p = main::ids_problems($got, [$main::Id{a}, Woportal::last_id()]);
     push @p, main::paging_problems($doc, 1, 25, 2, 1);
     my $len = main::shard_len(0) // 0;
     push @p, "the shard did not grow by the create's record ($main::Mark{after} -> $len)"
         unless $len > $main::Mark{after};
     @p;
 }]



=== TEST 43: compaction: 40 entries created, 39 deleted, in one shard; the list has total 1 and the shard shrinks to the live record and the 39 deletions (kept for a minute)
--- directives
        woportal_index_shards 1;
--- init
main::mk_many('e', 40, sub { (workorder => 'w' x 64, client => 'c' x 64,
                              company_namespace => ['n' x 60]) });
main::del(sprintf 'e%03d', $_) for grep { $_ != 17 } 1 .. 40;
$main::Mark{before} = main::shard_len(0);
push @main::InitProblems, "the shard idx:0 is only " . ($main::Mark{before} // 'undef')
                          . " bytes after 79 writes: no compaction can be due"
    unless ($main::Mark{before} // 0) > 8192;
--- request eval
["GET /api/v1/workorder-portal", "GET /api/v1/workorder-portal?per_page=1&page=2"]
--- list_is eval
[sub {
     my ($doc, $got) = @_;
     my @p = main::ids_problems($got, [$main::Id{e017}]);
     push @p, main::paging_problems($doc, 1, 25, 1, 1);
     my $len;
     for (1 .. 40) {
         $len = main::shard_len(0) // 0;
         last if $len < $main::Mark{before} / 4;
         Time::HiRes::sleep(0.05);
     }
     push @p, "the shard was $main::Mark{before} bytes and is $len after the list:"
              . " not rewritten"
         unless $len < $main::Mark{before} / 4;
     my $sum = main::shard_summary(0);
     push @p, "the shard holds $sum after the list, expected 1 live, 39 deleted,"
              . " 40 records: the live record and the deletions of the last minute"
         unless $sum eq '1 live, 39 deleted, 40 records';
     @p;
 },
 "ids:\npaging: 2 1 1 1"]
--- error_code eval
[200, 200]



=== TEST 44: woportal_index_shards 7: entries spread over idx:0..idx:6 only, and the list is complete and in order
--- directives
        woportal_index_shards 7;
--- init
main::mk_many('e', 30, sub { (workorder => "w" . ($_[0] % 4)) });
--- request eval
["GET /api/v1/workorder-portal?per_page=20",
 "GET /api/v1/workorder-portal?per_page=20&page=2",
 "GET /api/v1/workorder-portal?sort=workorder,-created_at&per_page=100"]
--- error_code eval
[200, 200, 200]
--- list_is eval
[main::page_of(1, 20),
 sub { (main::page_of(2, 20)->(@_), main::union_is(),
        main::shards_problems(7)) },
 main::page_of(1, 100, sort => 'workorder,-created_at')]



=== TEST 45: woportal_index_shards 65536 is accepted and lists work with it
(the first list reads 65536 shards in one multi-get: a loaded machine, or
ASan, may wait longer than the default 500 ms for a part of its answer)
--- directives
        woportal_index_shards 65536;
        woportal_memcached_timeout 5s;
--- init
main::five();
--- timeout: 30
--- cases eval
[["?per_page=2&page=2", "c b", "2 2 5 3"],
 ["?sort=created_at",   "a b c d e", "1 25 5 1"]]



=== TEST 46: woportal_index_shards 1: lists work with one shard
--- directives
        woportal_index_shards 1;
--- init
main::five();
main::del('b');
--- cases eval
[["?per_page=2&page=2", "c a", "2 2 4 2"],
 ["?sort=created_at",   "a c d e", "1 25 4 1"]]



=== TEST 47: the default is 256 shards: the index keys are idx:0..idx:255
--- init
main::mk_many('e', 40);
--- request
GET /api/v1/workorder-portal?per_page=100
--- list_is eval
sub { (main::page_of(1, 100)->(@_), main::shards_problems(256)) }



=== TEST 48: woportal_index_shards 0 is refused
--- directives
        woportal_index_shards 0;
--- must_die
--- error_log eval
qr/"woportal_index_shards" directive/



=== TEST 49: woportal_index_shards 65537 is refused
--- directives
        woportal_index_shards 65537;
--- must_die
--- error_log eval
qr/"woportal_index_shards" directive/



=== TEST 50: woportal_index_shards abc is refused
--- directives
        woportal_index_shards abc;
--- must_die
--- error_log eval
qr/"woportal_index_shards" directive/



=== TEST 51: woportal_index_shards -1 is refused
--- directives
        woportal_index_shards -1;
--- must_die
--- error_log eval
qr/"woportal_index_shards" directive/



=== TEST 52: the list answers entries with every field, each the same JSON value GET /{id} serves
--- init
main::mk('a', access_level => 'full_access', allowed_actions => ['view', 'approve'],
         expiry_date => '2027-01-31T18:00:00+01:00',
         notifications => {email => JSON::PP::true(), n => -12.5},
         portal_settings => {theme => 'dark', nested => {a => [1, {b => []}]}},
         custom_branding => {logo => "\x{1f600}", "k\"q" => "a\x{0}b"},
         company_namespace => ['acme', "\x{e9}"], disabled => JSON::PP::true());
main::set_status('a', 'in_progress');
main::mk('b');
--- request
GET /api/v1/workorder-portal?sort=created_at
--- response_headers
Content-Type: application/json
!ETag
--- list_is eval
sub {
    my ($doc, $got) = @_;
    my @p = main::ids_problems($got, [@main::Id{qw(a b)}]);
    for my $i (0, 1) {
        my $l = (qw(a b))[$i];
        my $d = $doc->{data}[$i] // {};
        push @p, "item $i is not the entry as last answered:\n    "
                 . Woportal::jcanon($d) . "\n  answered\n    "
                 . Woportal::jcanon($main::Data{$l})
            if Woportal::jcanon($d) ne Woportal::jcanon($main::Data{$l});
    }
    @p;
}



=== TEST 53: more ghosts in a row than two pages hold: page 1 is refilled from the live entries after them; total counts the live ones only
--- init
main::mk($_) for qw(a b c d e f g h i j);
main::ghost($_) for qw(e f g h i j);
--- cases eval
[["?per_page=2",        "d c",     "1 2 4 2"],
 ["?per_page=2",        "d c",     "1 2 4 2"],
 ["?per_page=2&page=2", "b a",     "2 2 4 2"]]



=== TEST 54: a page whose entries and all after it are ghosts: empty, and total counts only the live entries before it
--- init
main::mk($_) for qw(a b c d e f g h i j);
main::ghost($_) for qw(a b c d e f g);
--- cases eval
[["?per_page=3&page=2", "",      "2 3 3 1"],
 ["?per_page=3&page=2", "",      "2 3 3 1"],
 ["?per_page=3",        "j i h", "1 3 3 1"]]



=== TEST 55: all ghosts, one per page: the first list already has total 0
--- init
main::five();
main::ghost($_) for qw(a b c d e);
--- cases eval
[["?per_page=1", "", "1 1 0 0"],
 ["?per_page=1", "", "1 1 0 0"]]



=== TEST 56: memcached cannot be reached: 503 store_unavailable at once, in the envelope
--- config
    location /api/v1/workorder-portal {
        woportal;
        woportal_memcached "--SERVER=127.0.0.1:1 --BINARY-PROTOCOL";
        woportal_api_key test-key;
    }
--- request eval
["GET /api/v1/workorder-portal", "GET /api/v1/workorder-portal?status=pending&per_page=5"]
--- timeout: 1
--- error_code eval
[503, 503]
--- response_headers eval
[("Content-Type: application/json") x 2]
--- api_error eval
[("store_unavailable") x 2]



=== TEST 57: a corrupt entry on the requested page: 503 store_unavailable, never the garbage
--- init
main::five();
Woportal::memcached_set($main::Prefix . $main::Id{c}, '{"_id":"not this one"}');
--- request
GET /api/v1/workorder-portal?per_page=5
--- error_code: 503
--- api_error: store_unavailable
--- error_log
is corrupt



=== TEST 58: bytes that are no index record at the end of a shard: the records before them are listed, the log says so, and the shard is rewritten without them
--- directives
        woportal_index_shards 1;
--- init
main::five();
$main::Mark{len} = main::shard_len(0);
my $s = Woportal::mc();
print $s "append $main::Prefix" . "idx:0 0 0 9\r\nnot a rec\r\n";
my $reply = <$s>;
push @main::InitProblems, "append of garbage: $reply" unless $reply =~ /^STORED/;
--- cases eval
[["?sort=created_at", "a b c d e", "1 25 5 1"]]
--- data_ok eval
sub {
    my $len = main::shard_len(0) // -1;
    $len == $main::Mark{len} ? ()
        : ("the shard holds $len bytes, expected the $main::Mark{len} of its records");
}
--- error_log
is corrupt after



=== TEST 59: a live record appended after its entry's deletion and a compaction (a list mending the index from the entry it fetched just before the delete, a write's late append) does not bring the entry back: the compaction kept the deletion
--- directives
        woportal_index_shards 1;
--- init
main::mk_many('e', 40, sub { (workorder => 'w' x 64, client => 'c' x 64,
                              company_namespace => ['n' x 60]) });
{
    my $v = Woportal::memcached_get($main::Prefix . 'idx:0') // '';
    my ($r) = grep { $_->{id} eq $main::Id{e001} } @{ main::shard_records(0) // [] };
    $main::Mark{late} = $r ? substr($v, $r->{off}, $r->{len}) : undef;
    push @main::InitProblems, "no record of e001 in idx:0" unless $r;
}
main::del(sprintf 'e%03d', $_) for grep { $_ != 17 } 1 .. 40;
--- request eval
["GET /api/v1/workorder-portal", "GET /api/v1/workorder-portal?per_page=1&sort=-created_at"]
--- list_is eval
[sub {
     my ($doc, $got) = @_;
     my @p = main::ids_problems($got, [$main::Id{e017}]);
     my $sum = main::shard_becomes(0, '1 live, 39 deleted, 40 records');
     push @p, "the shard holds $sum after the list, expected the live record and the 39 deletions" unless $sum eq '1 live, 39 deleted, 40 records';
     # e001's live record comes late, after its deletion and the compaction
     my $s = Woportal::mc();
     print $s "append $main::Prefix" . "idx:0 0 0 " . length($main::Mark{late} // '')
              . "\r\n" . ($main::Mark{late} // '') . "\r\n";
     my $reply = <$s> // '';
     push @p, "memcached append: $reply" unless $reply =~ /^STORED/;
     push @p, main::bump_count();
     @p;
 },
 "ids: e017\npaging: 1 1 1 1"]
--- error_code eval
[200, 200]



=== TEST 60: a compaction drops the deletions' records older than a minute
--- directives
        woportal_index_shards 1;
--- init
main::mk_many('e', 100, sub { (workorder => 'w' x 64, client => 'c' x 64,
                               company_namespace => ['n' x 60]) });
main::del(sprintf 'e%03d', $_) for grep { $_ != 17 } 1 .. 100;
--- request eval
["GET /api/v1/workorder-portal", "GET /api/v1/workorder-portal", "GET /api/v1/workorder-portal?sort=-created_at"]
--- list_is eval
[sub {
     my ($doc, $got) = @_;
     my @p = main::ids_problems($got, [$main::Id{e017}]);
     my $sum = main::shard_becomes(0, '1 live, 99 deleted, 100 records');
     push @p, "the shard holds $sum after the list, expected 1 live, 99 deleted,"
              . " 100 records" unless $sum eq '1 live, 99 deleted, 100 records';
     # a minute and a second later, as far as the records tell
     push @p, main::age_deletions(0, 61000);
     @p;
 },
 sub {
     my ($doc, $got) = @_;
     my @p = main::ids_problems($got, [$main::Id{e017}]);
     my $sum = main::shard_becomes(0, '1 live, 0 deleted, 1 records');
     push @p, "the shard holds $sum after the list, expected the live record alone:"
              . " the old deletions were kept" unless $sum eq '1 live, 0 deleted, 1 records';
     @p;
 },
 "ids: e017\npaging: 1 25 1 1"]
--- error_code eval
[200, 200, 200]
