use lib 't/inc';
use Test::Nginx::Socket 'no_plan';
use Woportal;
use WoportalModify;
no_shuffle();

# Changes to an entry: PUT and PATCH /{id} (partial update), PUT and PATCH
# /{id}/status, DELETE /{id}; If-Match on all of them, If-None-Match after
# an update, and concurrent status changes from several clients against two
# worker processes (no lost update).
# contract/openapi.yaml (updateEntry, deleteEntry, updateStatus) and
# contract/CONTRACT-NOTES.md (Bodies, Entries, Conditional requests,
# Concurrency).
#
# The sections api_error, details, data_is, data_ok, same_as_created and
# body_is_stored are checked by t/inc/Woportal.pm (see there).
#
# Every answer carrying an entry is also compared with what memcached holds
# under woportal:<_id>: the stored entry must be the same JSON value as the
# served data.
#
# Most blocks seed their own entry in --- init with main::seed($id, %fields)
# (every field set, version 4, timestamps in 2020) and check the answer with
# main::updated($id, field => '<JSON>', ...): exactly the fields named
# changed, version + 1, updated_at moved to now, created_at kept, and
# status_history grown by the items given as _history.
#
# These helpers, and the concurrent clients (main::race), are in
# t/inc/WoportalModify.pm.

# every answer carrying an entry must equal what memcached holds
$Woportal::CheckStored = 1;

# two worker processes: the concurrency block really races
master_on();
workers(2);


our $Config = $Woportal::Location;

block_defaults(config => $Config,
               more_headers => "X-API-Key: test-key\n"
                               . "Content-Type: application/json\n");

run_tests();

__DATA__

=== TEST 1: (setup) create an entry with every field set
--- request
POST /api/v1/workorder-portal
{"workorder":"wo-created","client":"cl-created","access_level":"view_only","allowed_actions":["view","comment"],"expiry_date":"2027-01-01T00:00:00Z","notifications":{"email":true},"portal_settings":{"theme":"light","layout":{"cols":1}},"custom_branding":{"logo":"a.png"},"company_namespace":["acme"],"disabled":false}
--- error_code: 201
--- response_headers
ETag: "1"



=== TEST 2: PATCH /{id}: only the field sent changes, the rest is the created entry; version 2, ETag "2"
--- request
PATCH /api/v1/workorder-portal/{{id}}
{"access_level":"full_access"}
--- error_code: 200
--- response_headers
ETag: "2"
--- data_ok eval
main::updated_created(access_level => '"full_access"')



=== TEST 3: GET after the PATCH: the update was stored (version 2)
--- request
GET /api/v1/workorder-portal/{{id}}
--- error_code: 200
--- response_headers
ETag: "2"
--- data_is
access_level: "full_access"
version: 2
workorder: "wo-created"
allowed_actions: ["view","comment"]
--- body_is_stored: 1



=== TEST 4: PUT /{id} is a partial update too: one field changes, the others stay
--- init
main::seed('700000000000000000000004');
--- request
PUT /api/v1/workorder-portal/700000000000000000000004
{"disabled":false}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000004', disabled => 'false')



=== TEST 5: PATCH /{id}: free objects are replaced whole, not merged
--- init
main::seed('700000000000000000000005');
--- request
PATCH /api/v1/workorder-portal/700000000000000000000005
{"portal_settings":{"layout":{"cols":5}},"notifications":{}}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000005',
              portal_settings => '{"layout":{"cols":5}}',
              notifications => '{}')



=== TEST 6: PUT /{id}: arrays are replaced whole, not merged
--- init
main::seed('700000000000000000000006');
--- request
PUT /api/v1/workorder-portal/700000000000000000000006
{"allowed_actions":["reject"],"company_namespace":["gamma"]}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000006',
              allowed_actions => '["reject"]',
              company_namespace => '["gamma"]')



=== TEST 7: PATCH /{id}: empty arrays replace the stored ones
--- init
main::seed('700000000000000000000007');
--- request
PATCH /api/v1/workorder-portal/700000000000000000000007
{"allowed_actions":[],"company_namespace":[]}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000007',
              allowed_actions => '[]',
              company_namespace => '[]')



=== TEST 8: PATCH /{id}: expiry_date null clears it
--- init
main::seed('700000000000000000000008');
--- request
PATCH /api/v1/workorder-portal/700000000000000000000008
{"expiry_date":null}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000008', expiry_date => 'null')



=== TEST 9: PUT /{id}: a new expiry_date is normalised to UTC milliseconds
--- init
main::seed('700000000000000000000009');
--- request
PUT /api/v1/workorder-portal/700000000000000000000009
{"expiry_date":"2030-01-01T01:00:00.25+01:00"}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000009',
              expiry_date => '"2030-01-01T00:00:00.250Z"')



=== TEST 10: PATCH /{id} with every updatable field at once
--- init
main::seed('70000000000000000000000a', status => 'pending');
--- request
PATCH /api/v1/workorder-portal/70000000000000000000000a
{"status":"in_progress","access_level":"view_only","allowed_actions":["view","upload_files"],"expiry_date":"2031-05-06T07:08:09Z","notifications":{"n":1},"portal_settings":{"p":[1,2]},"custom_branding":{"c":"x"},"company_namespace":["one","two"],"disabled":false}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('70000000000000000000000a',
              status => '"in_progress"',
              access_level => '"view_only"',
              allowed_actions => '["view","upload_files"]',
              expiry_date => '"2031-05-06T07:08:09.000Z"',
              notifications => '{"n":1}',
              portal_settings => '{"p":[1,2]}',
              custom_branding => '{"c":"x"}',
              company_namespace => '["one","two"]',
              disabled => 'false',
              _history => [{status => 'in_progress'}])



=== TEST 11: PATCH /{id} with a status change appends one status_history item without notes
--- init
main::seed('70000000000000000000000b');
--- request
PATCH /api/v1/workorder-portal/70000000000000000000000b
{"status":"completed","access_level":"full_access"}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('70000000000000000000000b',
              status => '"completed"', access_level => '"full_access"',
              _history => [{status => 'completed'}])



=== TEST 12: PUT /{id} with a status change appends one status_history item without notes
--- init
main::seed('70000000000000000000000c', status => 'pending');
--- request
PUT /api/v1/workorder-portal/70000000000000000000000c
{"status":"cancelled"}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('70000000000000000000000c', status => '"cancelled"',
              _history => [{status => 'cancelled'}])



=== TEST 13: PATCH /{id}: setting the status it already has (pending) is allowed and recorded
--- init
main::seed('70000000000000000000000d', status => 'pending');
--- request
PATCH /api/v1/workorder-portal/70000000000000000000000d
{"status":"pending"}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('70000000000000000000000d',
              _history => [{status => 'pending'}])



=== TEST 14: PUT /{id}: completed -> completed is allowed and recorded
--- init
main::seed('70000000000000000000000e', status => 'completed');
--- request
PUT /api/v1/workorder-portal/70000000000000000000000e
{"status":"completed"}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('70000000000000000000000e',
              _history => [{status => 'completed'}])



=== TEST 15: PATCH /{id}: a completed entry's other fields stay updatable
--- init
main::seed('70000000000000000000000f', status => 'completed');
--- request
PATCH /api/v1/workorder-portal/70000000000000000000000f
{"disabled":false,"portal_settings":{"a":1}}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('70000000000000000000000f', disabled => 'false',
              portal_settings => '{"a":1}')



=== TEST 16: PUT /{id}: a cancelled entry's other fields stay updatable
--- init
main::seed('700000000000000000000010', status => 'cancelled');
--- request
PUT /api/v1/workorder-portal/700000000000000000000010
{"access_level":"view_only","expiry_date":null}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000010', access_level => '"view_only"',
              expiry_date => 'null')



=== TEST 17: PATCH /{id}: completed -> in_progress with other fields is 409 invalid_transition and changes nothing
--- init
main::seed('700000000000000000000011', status => 'completed');
--- request eval
["PATCH /api/v1/workorder-portal/700000000000000000000011\n"
 . '{"status":"in_progress","access_level":"full_access","disabled":false}',
 "GET /api/v1/workorder-portal/700000000000000000000011"]
--- error_code eval
[409, 200]
--- api_error eval
["invalid_transition", undef]
--- response_headers eval
["", "ETag: \"4\""]
--- data_ok eval
[undef, main::unchanged('700000000000000000000011')]



=== TEST 18: PUT /{id}: cancelled -> pending with other fields is 409 invalid_transition and changes nothing
--- init
main::seed('700000000000000000000012', status => 'cancelled');
--- request eval
["PUT /api/v1/workorder-portal/700000000000000000000012\n"
 . '{"status":"pending","portal_settings":{"x":1},"company_namespace":["z"]}',
 "GET /api/v1/workorder-portal/700000000000000000000012"]
--- error_code eval
[409, 200]
--- api_error eval
["invalid_transition", undef]
--- response_headers eval
["", "ETag: \"4\""]
--- data_ok eval
[undef, main::unchanged('700000000000000000000012')]



=== TEST 19: PATCH /{id}: completed -> cancelled (final to final) is 409 invalid_transition too
--- init
main::seed('700000000000000000000013', status => 'completed');
--- request eval
["PATCH /api/v1/workorder-portal/700000000000000000000013\n"
 . '{"status":"cancelled"}',
 "GET /api/v1/workorder-portal/700000000000000000000013"]
--- error_code eval
[409, 200]
--- api_error eval
["invalid_transition", undef]
--- data_ok eval
[undef, main::unchanged('700000000000000000000013')]



=== TEST 20: PATCH and PUT /{id} with {} are 422 validation_failed
--- init
main::seed('700000000000000000000014');
--- request eval
["PATCH /api/v1/workorder-portal/700000000000000000000014\n{}",
 "PUT /api/v1/workorder-portal/700000000000000000000014\n{}"]
--- error_code eval
[422, 422]
--- api_error eval
["validation_failed", "validation_failed"]



=== TEST 21: PATCH /{id}: unknown fields are 422, details name them (the valid field sent is not applied)
--- request eval
["PATCH /api/v1/workorder-portal/700000000000000000000014\n"
 . '{"access_level":"comment","color":"red","Disabled":true}',
 "GET /api/v1/workorder-portal/700000000000000000000014"]
--- error_code eval
[422, 200]
--- api_error eval
["validation_failed", undef]
--- details eval
["color\nDisabled", undef]
--- data_ok eval
[undef, main::unchanged('700000000000000000000014')]



=== TEST 22: PUT /{id}: workorder and client are not updatable: 422 naming them
--- request
PUT /api/v1/workorder-portal/700000000000000000000014
{"workorder":"w2","client":"c2","disabled":false}
--- error_code: 422
--- api_error: validation_failed
--- details
workorder
client



=== TEST 23: PATCH /{id}: the server's fields are 422, details name each of them
--- request
PATCH /api/v1/workorder-portal/700000000000000000000014
{"_id":"700000000000000000000014","version":5,"created_at":"2026-01-01T00:00:00.000Z","updated_at":"2026-01-01T00:00:00.000Z","status_history":[],"disabled":false}
--- error_code: 422
--- api_error: validation_failed
--- details
_id
version
created_at
updated_at
status_history



=== TEST 24: PATCH /{id}: notes belong to /status only: 422 naming notes
--- request
PATCH /api/v1/workorder-portal/700000000000000000000014
{"status":"completed","notes":"done"}
--- error_code: 422
--- api_error: validation_failed
--- details
notes



=== TEST 25: PATCH /{id}: wrong types and enum values are 422, details name each field (items by index)
--- request
PATCH /api/v1/workorder-portal/700000000000000000000014
{"status":"done","access_level":"admin","allowed_actions":["view","fly"],"expiry_date":"2030-01-01","notifications":[1],"portal_settings":"x","custom_branding":true,"company_namespace":"acme","disabled":"yes"}
--- error_code: 422
--- api_error: validation_failed
--- details
status
access_level
allowed_actions[1]
expiry_date
notifications
portal_settings
custom_branding
company_namespace
disabled



=== TEST 26: PUT /{id}: wrong types are 422 too (status case-sensitive, a number for a string, an empty namespace)
--- request
PUT /api/v1/workorder-portal/700000000000000000000014
{"status":"PENDING","access_level":1,"allowed_actions":"view","company_namespace":["ok",""],"disabled":0}
--- error_code: 422
--- api_error: validation_failed
--- details
status
access_level
allowed_actions
company_namespace[1]
disabled



=== TEST 27: PATCH /{id}: null for anything but expiry_date is 422, details name each field
--- request
PATCH /api/v1/workorder-portal/700000000000000000000014
{"status":null,"access_level":null,"allowed_actions":null,"notifications":null,"portal_settings":null,"custom_branding":null,"company_namespace":null,"disabled":null}
--- error_code: 422
--- api_error: validation_failed
--- details
status
access_level
allowed_actions
notifications
portal_settings
custom_branding
company_namespace
disabled



=== TEST 28: PUT /{id}: null items in arrays are 422, named with their index
--- request
PUT /api/v1/workorder-portal/700000000000000000000014
{"allowed_actions":["view",null],"company_namespace":[null]}
--- error_code: 422
--- api_error: validation_failed
--- details
allowed_actions[1]
company_namespace[0]



=== TEST 29: PATCH /{id}: a field given twice is 422 naming it
--- request
PATCH /api/v1/workorder-portal/700000000000000000000014
{"disabled":true,"disabled":false}
--- error_code: 422
--- api_error: validation_failed
--- details
disabled



=== TEST 30: PATCH and PUT /{id}: invalid JSON is 400 invalid_json
--- request eval
["PATCH /api/v1/workorder-portal/700000000000000000000014\n" . '{"disabled":false',
 "PUT /api/v1/workorder-portal/700000000000000000000014\n" . "{'disabled':false}"]
--- error_code eval
[400, 400]
--- api_error eval
["invalid_json", "invalid_json"]



=== TEST 31: PATCH and PUT /{id}: a body without Content-Type is 415 unsupported_media_type
--- more_headers
X-API-Key: test-key
--- request eval
["PATCH /api/v1/workorder-portal/700000000000000000000014\n" . '{"disabled":false}',
 "PUT /api/v1/workorder-portal/700000000000000000000014\n" . '{"disabled":false}']
--- error_code eval
[415, 415]
--- api_error eval
["unsupported_media_type", "unsupported_media_type"]



=== TEST 32: the refused requests above changed nothing: the entry is still version 4 as seeded
--- request
GET /api/v1/workorder-portal/700000000000000000000014
--- error_code: 200
--- response_headers
ETag: "4"
--- data_ok eval
main::unchanged('700000000000000000000014')



=== TEST 33: PATCH and PUT /{id} of an unknown id: 404 not_found
--- request eval
["PATCH /api/v1/workorder-portal/7fffffffffffffffffff0001\n" . '{"disabled":false}',
 "PUT /api/v1/workorder-portal/7fffffffffffffffffff0001\n" . '{"disabled":false}']
--- error_code eval
[404, 404]
--- api_error eval
["not_found", "not_found"]



=== TEST 34: PATCH and PUT /{id} of malformed ids: 404 not_found
--- request eval
["PATCH /api/v1/workorder-portal/not-an-id\n" . '{"disabled":false}',
 "PUT /api/v1/workorder-portal/70000000000000000000001A\n" . '{"disabled":false}',
 "PATCH /api/v1/workorder-portal/70000000000000000000001\n" . '{"disabled":false}',
 "PUT /api/v1/workorder-portal/7000000000000000000000011\n" . '{"disabled":false}']
--- error_code eval
[404, 404, 404, 404]
--- api_error eval
["not_found", "not_found", "not_found", "not_found"]



=== TEST 35: PATCH /{id}/status: a change with notes is appended to status_history; version + 1
--- init
main::seed('700000000000000000000020', status => 'pending');
--- request
PATCH /api/v1/workorder-portal/700000000000000000000020/status
{"status":"in_progress","notes":"started work"}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000020', status => '"in_progress"',
              _history => [{status => 'in_progress', notes => 'started work'}])



=== TEST 36: PUT /{id}/status: in_progress -> completed without notes: the item has no notes key
--- init
main::seed('700000000000000000000021');
--- request
PUT /api/v1/workorder-portal/700000000000000000000021/status
{"status":"completed"}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000021', status => '"completed"',
              _history => [{status => 'completed'}])



=== TEST 37: PATCH /{id}/status: pending -> cancelled is allowed
--- init
main::seed('700000000000000000000022', status => 'pending');
--- request
PATCH /api/v1/workorder-portal/700000000000000000000022/status
{"status":"cancelled","notes":"no longer needed"}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000022', status => '"cancelled"',
              _history => [{status => 'cancelled', notes => 'no longer needed'}])



=== TEST 38: PATCH /{id}/status: the next change is appended after the previous one (version 6)
--- request
PATCH /api/v1/workorder-portal/700000000000000000000020/status
{"status":"completed","notes":"finished"}
--- error_code: 200
--- response_headers
ETag: "6"
--- data_ok eval
sub {
    my $d = shift;
    my @p;
    my $h = $d->{status_history};
    push @p, 'status_history is not 3 items'
        unless ref $h eq 'ARRAY' && @$h == 3;
    return @p if @p;
    push @p, 'the last two items are not in_progress/started work, completed/finished'
        unless Woportal::jcanon([map { [$_->{status}, $_->{notes}] } @$h[1, 2]])
               eq Woportal::jcanon([['in_progress', 'started work'], ['completed', 'finished']]);
    my ($t1, $t2) = map { main::parse_stamp($_->{changed_at}) } @$h[1, 2];
    push @p, 'the changes are not in time order'
        unless defined $t1 && defined $t2 && $t1 <= $t2;
    push @p, 'status is not completed' unless ($d->{status} // '') eq 'completed';
    push @p, 'version is not 6' unless ($d->{version} // '') eq '6';
    return @p;
}



=== TEST 39: PATCH /{id}/status: cancelled -> pending is 409 invalid_transition and changes nothing
--- init
main::seed('700000000000000000000023', status => 'cancelled');
--- request eval
["PATCH /api/v1/workorder-portal/700000000000000000000023/status\n"
 . '{"status":"pending","notes":"reopen"}',
 "GET /api/v1/workorder-portal/700000000000000000000023"]
--- error_code eval
[409, 200]
--- api_error eval
["invalid_transition", undef]
--- response_headers eval
["", "ETag: \"4\""]
--- data_ok eval
[undef, main::unchanged('700000000000000000000023')]



=== TEST 40: PUT /{id}/status: completed -> in_progress is 409 invalid_transition and changes nothing
--- init
main::seed('700000000000000000000024', status => 'completed');
--- request eval
["PUT /api/v1/workorder-portal/700000000000000000000024/status\n"
 . '{"status":"in_progress"}',
 "GET /api/v1/workorder-portal/700000000000000000000024"]
--- error_code eval
[409, 200]
--- api_error eval
["invalid_transition", undef]
--- data_ok eval
[undef, main::unchanged('700000000000000000000024')]



=== TEST 41: PATCH /{id}/status: completed -> completed is allowed and recorded
--- init
main::seed('700000000000000000000025', status => 'completed');
--- request
PATCH /api/v1/workorder-portal/700000000000000000000025/status
{"status":"completed","notes":"again"}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000025',
              _history => [{status => 'completed', notes => 'again'}])



=== TEST 42: PUT /{id}/status: in_progress -> in_progress is allowed and recorded
--- init
main::seed('700000000000000000000026');
--- request
PUT /api/v1/workorder-portal/700000000000000000000026/status
{"status":"in_progress","notes":"still on it"}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000026',
              _history => [{status => 'in_progress', notes => 'still on it'}])



=== TEST 43: /{id}/status: notes of exactly 2000 characters (code points, multibyte) are accepted and kept
--- init
main::seed('700000000000000000000027', status => 'pending');
--- request eval
"PATCH /api/v1/workorder-portal/700000000000000000000027/status\n"
. '{"status":"in_progress","notes":"' . ("\xc3\xa9" x 1000) . ('\ud83d\ude00' x 500) . ("\xe2\x82\xac" x 500) . '"}'
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000027', status => '"in_progress"',
              _history => [{status => 'in_progress',
                            notes => ("\x{e9}" x 1000) . ("\x{1F600}" x 500) . ("\x{20ac}" x 500)}])



=== TEST 44: /{id}/status: notes of 2001 characters are 422 naming notes
--- request eval
["PATCH /api/v1/workorder-portal/700000000000000000000028/status\n"
 . '{"status":"in_progress","notes":"' . ("a" x 2001) . '"}',
 "PUT /api/v1/workorder-portal/700000000000000000000028/status\n"
 . '{"status":"in_progress","notes":"' . ("\xc3\xa9" x 2001) . '"}']
--- init
main::seed('700000000000000000000028', status => 'pending');
--- error_code eval
[422, 422]
--- api_error eval
["validation_failed", "validation_failed"]
--- details eval
["notes", "notes"]



=== TEST 45: /{id}/status: empty notes are sent, so recorded as ""
--- init
main::seed('700000000000000000000029', status => 'pending');
--- request
PATCH /api/v1/workorder-portal/700000000000000000000029/status
{"status":"in_progress","notes":""}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000029', status => '"in_progress"',
              _history => [{status => 'in_progress', notes => ''}])



=== TEST 46: /{id}/status: status is required: 422 naming status (PATCH with notes only, PUT with {})
--- init
main::seed('70000000000000000000002a', status => 'pending');
--- request eval
["PATCH /api/v1/workorder-portal/70000000000000000000002a/status\n" . '{"notes":"x"}',
 "PUT /api/v1/workorder-portal/70000000000000000000002a/status\n" . '{}']
--- error_code eval
[422, 422]
--- api_error eval
["validation_failed", "validation_failed"]
--- details eval
["status", "status"]



=== TEST 47: /{id}/status: any other field is 422, details name them
--- request
PATCH /api/v1/workorder-portal/70000000000000000000002a/status
{"status":"in_progress","access_level":"comment","_id":"70000000000000000000002a","changed_at":"2026-01-01T00:00:00Z"}
--- error_code: 422
--- api_error: validation_failed
--- details
access_level
_id
changed_at



=== TEST 48: /{id}/status: wrong status value and wrong notes type: 422 naming both
--- request
PUT /api/v1/workorder-portal/70000000000000000000002a/status
{"status":"PENDING","notes":5}
--- error_code: 422
--- api_error: validation_failed
--- details
status
notes



=== TEST 49: /{id}/status: null status or null notes: 422 naming the field
--- request eval
["PATCH /api/v1/workorder-portal/70000000000000000000002a/status\n" . '{"status":null}',
 "PATCH /api/v1/workorder-portal/70000000000000000000002a/status\n" . '{"status":"completed","notes":null}']
--- error_code eval
[422, 422]
--- api_error eval
["validation_failed", "validation_failed"]
--- details eval
["status", "notes"]



=== TEST 50: /{id}/status: invalid JSON 400, no Content-Type 415
--- request eval
["PATCH /api/v1/workorder-portal/70000000000000000000002a/status\n" . '{"status":"completed",}',
 "PUT /api/v1/workorder-portal/70000000000000000000002a/status\n" . '{"status":"completed"}']
--- more_headers eval
["X-API-Key: test-key\nContent-Type: application/json\n",
 "X-API-Key: test-key\n"]
--- error_code eval
[400, 415]
--- api_error eval
["invalid_json", "unsupported_media_type"]



=== TEST 51: the refused /status requests changed nothing (version 4, as seeded)
--- request
GET /api/v1/workorder-portal/70000000000000000000002a
--- error_code: 200
--- response_headers
ETag: "4"
--- data_ok eval
main::unchanged('70000000000000000000002a')



=== TEST 52: /{id}/status of unknown and malformed ids: 404 not_found
--- request eval
["PATCH /api/v1/workorder-portal/7fffffffffffffffffff0002/status\n" . '{"status":"completed"}',
 "PUT /api/v1/workorder-portal/7fffffffffffffffffff0002/status\n" . '{"status":"completed"}',
 "PATCH /api/v1/workorder-portal/xyz/status\n" . '{"status":"completed"}',
 "PUT /api/v1/workorder-portal/7FFFFFFFFFFFFFFFFFFF0002/status\n" . '{"status":"completed"}']
--- error_code eval
[404, 404, 404, 404]
--- api_error eval
["not_found", "not_found", "not_found", "not_found"]



=== TEST 53: DELETE /{id}: 200 {"success":true}
--- init
main::seed('700000000000000000000030');
--- request
DELETE /api/v1/workorder-portal/700000000000000000000030
--- error_code: 200
--- response_body_like eval
$main::DeletedBody



=== TEST 54: a second DELETE of the same id: 404 not_found
--- request
DELETE /api/v1/workorder-portal/700000000000000000000030
--- error_code: 404
--- api_error: not_found



=== TEST 55: GET after DELETE: 404 not_found
--- request
GET /api/v1/workorder-portal/700000000000000000000030
--- error_code: 404
--- api_error: not_found



=== TEST 56: PATCH, PUT and /status after DELETE: 404 not_found (nothing comes back)
--- request eval
["PATCH /api/v1/workorder-portal/700000000000000000000030\n" . '{"disabled":false}',
 "PUT /api/v1/workorder-portal/700000000000000000000030\n" . '{"disabled":false}',
 "PATCH /api/v1/workorder-portal/700000000000000000000030/status\n" . '{"status":"completed"}',
 "GET /api/v1/workorder-portal/700000000000000000000030"]
--- error_code eval
[404, 404, 404, 404]
--- api_error eval
["not_found", "not_found", "not_found", "not_found"]



=== TEST 57: DELETE of unknown and malformed ids: 404 not_found
--- request eval
["DELETE /api/v1/workorder-portal/7fffffffffffffffffff0003",
 "DELETE /api/v1/workorder-portal/nope",
 "DELETE /api/v1/workorder-portal/7FFFFFFFFFFFFFFFFFFF0003"]
--- error_code eval
[404, 404, 404]
--- api_error eval
["not_found", "not_found", "not_found"]



=== TEST 58: If-Match with the current tag: PATCH succeeds
--- init
main::seed('700000000000000000000040');
--- more_headers
X-API-Key: test-key
Content-Type: application/json
If-Match: "4"
--- request
PATCH /api/v1/workorder-portal/700000000000000000000040
{"disabled":false}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000040', disabled => 'false')



=== TEST 59: If-Match * on an existing entry: PUT succeeds
--- init
main::seed('700000000000000000000041');
--- more_headers
X-API-Key: test-key
Content-Type: application/json
If-Match: *
--- request
PUT /api/v1/workorder-portal/700000000000000000000041
{"access_level":"full_access"}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000041', access_level => '"full_access"')



=== TEST 60: If-Match with a list containing the current tag: PATCH /status succeeds
--- init
main::seed('700000000000000000000042');
--- more_headers
X-API-Key: test-key
Content-Type: application/json
If-Match: "1", "4", "9"
--- request
PATCH /api/v1/workorder-portal/700000000000000000000042/status
{"status":"completed","notes":"ok"}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000042', status => '"completed"',
              _history => [{status => 'completed', notes => 'ok'}])



=== TEST 61: If-Match with a weak tag and the strong one in a list: PUT /status succeeds on the strong one
--- init
main::seed('700000000000000000000043');
--- more_headers
X-API-Key: test-key
Content-Type: application/json
If-Match: W/"3",W/"4","4"
--- request
PUT /api/v1/workorder-portal/700000000000000000000043/status
{"status":"cancelled"}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000043', status => '"cancelled"',
              _history => [{status => 'cancelled'}])



=== TEST 62: If-Match mismatch on PATCH: 412 precondition_failed, nothing changed
--- init
main::seed('700000000000000000000044');
--- more_headers eval
["X-API-Key: test-key\nContent-Type: application/json\nIf-Match: \"3\"\n",
 "X-API-Key: test-key\n"]
--- request eval
["PATCH /api/v1/workorder-portal/700000000000000000000044\n" . '{"disabled":false}',
 "GET /api/v1/workorder-portal/700000000000000000000044"]
--- error_code eval
[412, 200]
--- api_error eval
["precondition_failed", undef]
--- response_headers eval
["", "ETag: \"4\""]
--- data_ok eval
[undef, main::unchanged('700000000000000000000044')]



=== TEST 63: If-Match with a weak tag of the current version never matches: PUT is 412, nothing changed
--- init
main::seed('700000000000000000000045');
--- more_headers eval
["X-API-Key: test-key\nContent-Type: application/json\nIf-Match: W/\"4\"\n",
 "X-API-Key: test-key\n"]
--- request eval
["PUT /api/v1/workorder-portal/700000000000000000000045\n" . '{"disabled":false}',
 "GET /api/v1/workorder-portal/700000000000000000000045"]
--- error_code eval
[412, 200]
--- api_error eval
["precondition_failed", undef]
--- response_headers eval
["", "ETag: \"4\""]
--- data_ok eval
[undef, main::unchanged('700000000000000000000045')]



=== TEST 64: If-Match mismatch (a list without the current tag) on /status: 412, nothing changed
--- init
main::seed('700000000000000000000046');
--- more_headers eval
["X-API-Key: test-key\nContent-Type: application/json\nIf-Match: \"5\", \"44\", W/\"4\"\n",
 "X-API-Key: test-key\n"]
--- request eval
["PATCH /api/v1/workorder-portal/700000000000000000000046/status\n" . '{"status":"completed","notes":"x"}',
 "GET /api/v1/workorder-portal/700000000000000000000046"]
--- error_code eval
[412, 200]
--- api_error eval
["precondition_failed", undef]
--- response_headers eval
["", "ETag: \"4\""]
--- data_ok eval
[undef, main::unchanged('700000000000000000000046')]



=== TEST 65: a stale If-Match on PUT /status (completed -> completed, itself allowed): 412, nothing changed
--- init
main::seed('700000000000000000000047', status => 'completed');
--- more_headers eval
["X-API-Key: test-key\nContent-Type: application/json\nIf-Match: \"3\"\n",
 "X-API-Key: test-key\n"]
--- request eval
["PUT /api/v1/workorder-portal/700000000000000000000047/status\n" . '{"status":"completed"}',
 "GET /api/v1/workorder-portal/700000000000000000000047"]
--- error_code eval
[412, 200]
--- api_error eval
["precondition_failed", undef]
--- data_ok eval
[undef, main::unchanged('700000000000000000000047')]



=== TEST 66: DELETE with a stale If-Match: 412 precondition_failed, the entry still readable
--- init
main::seed('700000000000000000000048');
--- more_headers eval
["X-API-Key: test-key\nIf-Match: \"3\"\n", "X-API-Key: test-key\n"]
--- request eval
["DELETE /api/v1/workorder-portal/700000000000000000000048",
 "GET /api/v1/workorder-portal/700000000000000000000048"]
--- error_code eval
[412, 200]
--- api_error eval
["precondition_failed", undef]
--- response_headers eval
["", "ETag: \"4\""]
--- data_ok eval
[undef, main::unchanged('700000000000000000000048')]



=== TEST 67: DELETE with the weak tag of the current version: 412, the entry still readable
--- more_headers eval
["X-API-Key: test-key\nIf-Match: W/\"4\"\n", "X-API-Key: test-key\n"]
--- request eval
["DELETE /api/v1/workorder-portal/700000000000000000000048",
 "GET /api/v1/workorder-portal/700000000000000000000048"]
--- error_code eval
[412, 200]
--- api_error eval
["precondition_failed", undef]
--- data_ok eval
[undef, main::unchanged('700000000000000000000048')]



=== TEST 68: DELETE with the right If-Match: 200, then GET is 404
--- more_headers eval
["X-API-Key: test-key\nIf-Match: \"4\"\n", "X-API-Key: test-key\n"]
--- request eval
["DELETE /api/v1/workorder-portal/700000000000000000000048",
 "GET /api/v1/workorder-portal/700000000000000000000048"]
--- error_code eval
[200, 404]
--- response_body_like eval
[$main::DeletedBody, '']
--- api_error eval
[undef, "not_found"]



=== TEST 69: DELETE with If-Match * on an existing entry: 200, then GET is 404
--- init
main::seed('700000000000000000000049');
--- more_headers eval
["X-API-Key: test-key\nIf-Match: *\n", "X-API-Key: test-key\n"]
--- request eval
["DELETE /api/v1/workorder-portal/700000000000000000000049",
 "GET /api/v1/workorder-portal/700000000000000000000049"]
--- error_code eval
[200, 404]
--- response_body_like eval
[$main::DeletedBody, '']
--- api_error eval
[undef, "not_found"]



=== TEST 70: If-Match on an unknown id: 404 not_found (PATCH, PUT, /status, DELETE; * too)
--- more_headers eval
["X-API-Key: test-key\nContent-Type: application/json\nIf-Match: \"1\"\n",
 "X-API-Key: test-key\nContent-Type: application/json\nIf-Match: *\n",
 "X-API-Key: test-key\nContent-Type: application/json\nIf-Match: *\n",
 "X-API-Key: test-key\nIf-Match: \"1\"\n",
 "X-API-Key: test-key\nIf-Match: *\n"]
--- request eval
["PATCH /api/v1/workorder-portal/7fffffffffffffffffff0004\n" . '{"disabled":false}',
 "PUT /api/v1/workorder-portal/7fffffffffffffffffff0004\n" . '{"disabled":false}',
 "PATCH /api/v1/workorder-portal/7fffffffffffffffffff0004/status\n" . '{"status":"completed"}',
 "DELETE /api/v1/workorder-portal/7fffffffffffffffffff0004",
 "DELETE /api/v1/workorder-portal/7fffffffffffffffffff0004"]
--- error_code eval
[404, 404, 404, 404, 404]
--- api_error eval
["not_found", "not_found", "not_found", "not_found", "not_found"]



=== TEST 71: (setup for If-None-Match) an update takes the entry from version 4 to 5
--- init
main::seed('700000000000000000000050');
--- request
PATCH /api/v1/workorder-portal/700000000000000000000050
{"portal_settings":{"after":"update"}}
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000050', portal_settings => '{"after":"update"}')



=== TEST 72: If-None-Match with the old tag after the update: 200 with the new body and ETag
--- more_headers
X-API-Key: test-key
If-None-Match: "4"
--- request
GET /api/v1/workorder-portal/700000000000000000000050
--- error_code: 200
--- response_headers
ETag: "5"
--- data_ok eval
main::updated('700000000000000000000050', portal_settings => '{"after":"update"}')



=== TEST 73: If-None-Match with the new tag after the update: 304 with the ETag, no body
--- more_headers
X-API-Key: test-key
If-None-Match: "5"
--- request
GET /api/v1/workorder-portal/700000000000000000000050
--- error_code: 304
--- response_headers
ETag: "5"
--- response_body



=== TEST 74: (setup for the race) create a fresh pending entry
--- request
POST /api/v1/workorder-portal
{"workorder":"wo-race","client":"cl-race"}
--- error_code: 201
--- response_headers
ETag: "1"



=== TEST 75: concurrency: 6 clients x 20 status changes against 2 workers: only 200 or 409 conflict, every 200 recorded once, none lost
--- init
main::race(Woportal::last_id());
--- request
GET /api/v1/workorder-portal/{{id}}
--- error_code: 200
--- data_ok eval
\&main::race_problems
