#!/usr/bin/env python3
"""Writes the seed corpora of the fuzzers: fuzz/corpus/<harness>/<name>.

    python3 fuzz/seeds.py

The seeds in git are this script's output (plus any crash-* regression
seeds that fuzz/run.sh adds); it overwrites its own files and leaves the
others alone.  Each harness's input format is in the comment at the top
of fuzz/fuzz_<harness>.c.
"""

import json
import os
import struct

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def w(corpus, name, data):
    d = os.path.join(top, 'fuzz/corpus', corpus)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str): data = data.encode('utf-8')
    open(os.path.join(d, name), 'wb').write(data)


C, U, S = b'0', b'1', b'2'


def body(mode, name, data):
    if isinstance(data, str): data = data.encode('utf-8')
    w('decode', name, mode + data)

# --- valid, from the contract and the README
body(C, 'create-contract-example', '{"workorder":"507f1f77bcf86cd799439012","client":"507f1f77bcf86cd799439013","access_level":"view_only","allowed_actions":["view"],"expiry_date":"2019-08-24T14:15:22Z","notifications":{},"portal_settings":{},"custom_branding":{},"company_namespace":["acme"],"disabled":false}')
body(C, 'create-readme-example', '''{
  "workorder": "507f1f77bcf86cd799439012",
  "client": "507f1f77bcf86cd799439013",
  "access_level": "comment",
  "allowed_actions": ["view", "comment"],
  "expiry_date": "2027-01-31T18:00:00+01:00",
  "portal_settings": {"theme": "dark"},
  "company_namespace": ["acme"]
}''')
body(C, 'create-minimal', '{"workorder":"w","client":"c"}')
body(C, 'create-all-fields', '{"workorder":"wo-1","client":"cl-1","access_level":"full_access","allowed_actions":["view","comment","upload_files","approve","reject"],"expiry_date":"2028-02-29t23:59:59.123456-05:30","notifications":{"email":true,"sms":null,"every":[1,2.5,-0,1e3,-1.5E-7],"nested":{"a":{"b":{"c":[[],{}]}}}},"portal_settings":{"theme":"dark","lang":"fr","logo":"https:\\/\\/x.example\\/a.png"},"custom_branding":{"colour":"#ff0000","\\u00e9t\\u00e9":"\\ud83d\\ude00","quote":"\\"\\\\\\/\\b\\f\\n\\r\\t"},"company_namespace":["acme","beta","\u00e9t\u00e9","\U0001f600"],"disabled":true}')
body(U, 'update-readme-example', '{"disabled":true,"expiry_date":null}')
body(U, 'update-all-fields', '{"status":"completed","access_level":"comment","allowed_actions":["approve","reject"],"expiry_date":"2030-01-01T00:00:00Z","notifications":{"x":1},"portal_settings":{},"custom_branding":{"a":[true,false,null]},"company_namespace":[],"disabled":false}')
body(S, 'status-readme-example', '{"status":"in_progress","notes":"work started"}')
body(S, 'status-contract-example', '{"status":"pending","notes":"string"}')
body(S, 'status-only', '{"status":"cancelled"}')

# --- nasty: nesting
body(C, 'nest-root-40-arrays', '[' * 40 + ']' * 40)
body(C, 'nest-root-33-objects', '{"a":' * 33 + '1' + '}' * 33)
body(C, 'nest-root-32-objects', '{"a":' * 31 + '{}' + '}' * 31)
def free_nest(n): return '{"k":' * (n - 1) + '{}' + '}' * (n - 1)
body(C, 'nest-free-8-levels', '{"workorder":"w","client":"c","portal_settings":' + free_nest(8) + '}')
body(C, 'nest-free-9-levels', '{"workorder":"w","client":"c","portal_settings":' + free_nest(9) + '}')
body(U, 'nest-free-arrays-deep', '{"notifications":{"a":' + '[' * 30 + ']' * 30 + '}}')
body(C, 'nest-unclosed', '{"workorder":"w","client":"c","notifications":{"a":[[[{"b":[')
body(C, 'nest-history-in-create', '{"workorder":"w","client":"c","status_history":[{"status":"pending","changed_at":"2026-01-01T00:00:00Z"}]}')
body(C, 'nest-actions-objects', '{"workorder":"w","client":"c","allowed_actions":[{"view":1},["comment"]],"company_namespace":[[["x"]]]}')

# --- nasty: long strings and sizes
body(C, 'long-ref-64', '{"workorder":"' + 'w' * 64 + '","client":"' + '\u00e9' * 64 + '"}')
body(C, 'long-ref-65', '{"workorder":"' + 'w' * 65 + '","client":"c"}')
body(S, 'long-notes-2000', '{"status":"completed","notes":"' + '\u00e9' * 2000 + '"}')
body(S, 'long-notes-2001', '{"status":"completed","notes":"' + 'n' * 2001 + '"}')
body(C, 'long-free-16384', '{"workorder":"w","client":"c","custom_branding":{"k":"' + 'x' * (16384 - 8) + '"}}')
body(C, 'long-free-16385', '{"workorder":"w","client":"c","custom_branding":{"k":"' + 'x' * (16384 - 7) + '"}}')
body(C, 'long-key-10000', '{"' + 'k' * 10000 + '":1,"workorder":"w","client":"c"}')
body(C, 'long-namespaces-32', '{"workorder":"w","client":"c","company_namespace":[' + ','.join('"%s"' % ('n%03d' % i + 'x' * 124) for i in range(32)) + ']}')
body(C, 'long-namespaces-33', '{"workorder":"w","client":"c","company_namespace":[' + ','.join('"n%d"' % i for i in range(33)) + ']}')
body(C, 'long-namespace-129', '{"workorder":"w","client":"c","company_namespace":["' + 'n' * 129 + '",""]}')
body(U, 'long-many-keys', '{"portal_settings":{' + ','.join('"k%d":%d' % (i, i) for i in range(3000)) + '}}')

# --- nasty: UTF-8
body(C, 'utf8-overlong', b'{"workorder":"\xc0\xaf","client":"c"}')
body(C, 'utf8-encoded-surrogate', b'{"workorder":"\xed\xa0\x80","client":"c"}')
body(C, 'utf8-over-10ffff', b'{"workorder":"\xf4\x90\x80\x80","client":"c"}')
body(C, 'utf8-f5', b'{"workorder":"\xf5\x80\x80\x80","client":"c"}')
body(C, 'utf8-truncated-at-end', b'{"workorder":"w","client":"c\xe2\x82')
body(C, 'utf8-bom', b'\xef\xbb\xbf{"workorder":"w","client":"c"}')
body(C, 'utf8-in-key', b'{"w\xffrkorder":"w","client":"c"}')
body(U, 'utf8-lone-continuation', b'{"notifications":{"\x80":1}}')
body(C, 'escape-unpaired-high', '{"workorder":"\\ud800","client":"c"}')
body(C, 'escape-unpaired-low', '{"workorder":"\\udc00x","client":"c"}')
body(C, 'escape-high-then-ascii', '{"workorder":"\\ud800\\u0041","client":"c"}')
body(C, 'escape-high-at-end', '{"workorder":"w","client":"\\ud83d')
body(C, 'escape-pair-split-key', '{"\\ud83d\\ude00":1,"workorder":"w","client":"c"}')
body(C, 'escape-nul', '{"workorder":"a\\u0000b","client":"\\u0000","portal_settings":{"\\u0000":"\\u0000"}}')
body(C, 'escape-bad', '{"workorder":"\\x41","client":"\\u12G4"}')
body(C, 'escape-key-spelled', '{"work\\u006frder":"w","\\u0063lient":"c"}')
body(C, 'escape-backslash-outside-string', '{"workorder":"w"\\u0041,"client":"c"}')
body(C, 'escape-quote-in-key', '{"a\\"b":"w","workorder":"w","client":"c"}')

# --- nasty: numbers
body(C, 'number-huge-exponent', '{"workorder":"w","client":"c","notifications":{"n":1e999999,"m":-1E-999999,"big":123456789012345678901234567890123456789}}')
body(C, 'number-long-digits', '{"workorder":"w","client":"c","notifications":{"n":' + '9' * 5000 + '}}')
body(C, 'number-as-ref', '{"workorder":12345678901234567890,"client":-0}')
body(C, 'number-bad', '{"workorder":"w","client":"c","notifications":{"a":01,"b":1.,"c":.5,"d":+1,"e":NaN}}')
body(U, 'number-disabled', '{"disabled":0}')

# --- nasty: duplicate keys
body(C, 'dup-top-level', '{"workorder":"a","workorder":"b","client":"c"}')
body(C, 'dup-free-object', '{"workorder":"w","client":"c","portal_settings":{"a":1,"a":2}}')
body(C, 'dup-free-deep', '{"workorder":"w","client":"c","portal_settings":{"a":{"b":{"c":1,"c":2}},"b":{"c":1}}}')
body(C, 'dup-free-same-key-other-levels', '{"workorder":"w","client":"c","portal_settings":{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}}')
body(C, 'dup-actions', '{"workorder":"","client":"c","allowed_actions":["view","view"],"colour":1}')
body(S, 'dup-status', '{"status":"pending","status":"completed","notes":"a","notes":"b"}')

# --- nasty: types, required fields, syntax
body(C, 'type-wrong-everywhere', '{"workorder":1,"client":null,"access_level":"admin","allowed_actions":"view","expiry_date":1700000000,"notifications":[],"portal_settings":"x","custom_branding":null,"company_namespace":"acme","disabled":"true"}')
body(C, 'type-expiry-null-in-create', '{"workorder":"w","client":"c","expiry_date":null}')
body(C, 'type-server-fields', '{"workorder":"w","client":"c","_id":"6b0ad801342bc032b4e99b5d","status":"pending","version":1,"created_at":"2026-01-01T00:00:00Z"}')
body(U, 'type-empty-update', '{}')
body(U, 'type-update-notes', '{"notes":"x","workorder":"w"}')
body(S, 'type-status-missing', '{"notes":"only notes"}')
body(S, 'type-status-bad', '{"status":"done"}')
body(C, 'syntax-empty', '')
body(C, 'syntax-spaces', ' \t\r\n ')
body(C, 'syntax-null', 'null')
body(C, 'syntax-array', '["workorder","client"]')
body(C, 'syntax-string', '"workorder"')
body(C, 'syntax-trailing', '{"workorder":"w","client":"c"} {}')
body(C, 'syntax-trailing-comma', '{"workorder":"w","client":"c",}')
body(C, 'syntax-truncated', '{"workorder":"w","cli')
body(C, 'syntax-comment', '{/* c */"workorder":"w","client":"c"}')
body(C, 'syntax-single-quotes', "{'workorder':'w','client':'c'}")
body(C, 'syntax-control-char', '{"workorder":"a\tb","client":"c\n"}')

# --- dates
for i, d in enumerate(['2027-02-29T00:00:00Z', '2024-02-29T23:59:59.999999999+14:00', '0000-01-01T00:00:00+00:01',
                       '0000-01-01T00:00:00-23:59', '9999-12-31T23:59:59-00:01', '9999-12-31T23:59:59.999Z',
                       '2026-11-28T12:00:60Z', '2026-11-28T24:00:00Z', '2026-11-28T12:00:00', '2026-11-28T12:00:00.Z',
                       '2026-11-28T12:00:00+24:00', '2026-11-28T12:00:00+01:60', '2026-11-28 12:00:00Z', '+2026-11-28T12:00:00Z',
                       '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z', '2026-04-31T00:00:00Z', '2026-11-28T12:00:00z']):
    body(U, 'date-%02d' % i, '{"expiry_date":"%s"}' % d)

# --- stored entries
entry = {"_id":"6b0ad801342bc032b4e99b5d","workorder":"507f1f77bcf86cd799439012",
"client":"507f1f77bcf86cd799439013","status":"pending","access_level":"comment",
"allowed_actions":["view","comment"],"expiry_date":"2027-01-31T17:00:00.000Z",
"notifications":{},"portal_settings":{"theme":"dark"},"custom_branding":{},
"company_namespace":["acme"],"disabled":False,
"status_history":[{"status":"pending","changed_at":"2026-11-28T13:32:49.774Z"}],
"created_at":"2026-11-28T13:32:49.774Z","updated_at":"2026-11-28T13:32:49.774Z","version":1}
def st(name, e):
    w('stored', name, e if isinstance(e, (str, bytes)) else json.dumps(e, separators=(',', ':'), ensure_ascii=False))
st('entry-readme', entry)
e2 = dict(entry, status="completed", expiry_date=None, version=4, disabled=True, company_namespace=["a","b","\u00e9"],
          notifications={"n":[1,0,"NUMS","\U0001f600"]},
          status_history=entry["status_history"] + [{"status":"in_progress","notes":"work started","changed_at":"2026-11-28T14:00:00.000Z"},
                                                    {"status":"completed","notes":"","changed_at":"2026-11-29T00:00:00.000Z"}],
          updated_at="2026-11-29T00:00:00.000Z")
st('entry-history', json.dumps(e2, separators=(',', ':'), ensure_ascii=False).replace('"NUMS"', '-0,1e400,12345678901234567890123,"\\ud83d\\ude00"'))
st('entry-pretty', json.dumps(entry, indent=2))
st('entry-offsets', json.dumps(dict(entry, created_at="2026-11-28T14:32:49.7741+01:00", expiry_date="2027-01-31t18:00:00+01:00")))
st('entry-max-version', dict(entry, version=999999999999999999))
st('entry-version-19-digits', dict(entry, version=1000000000000000000))
st('entry-version-0', dict(entry, version=0))
st('entry-version-float', json.dumps(entry).replace('"version": 1', '"version": 1.0'))
st('entry-id-short', dict(entry, _id="6b0ad801342bc032b4e99b5"))
st('entry-id-upper', dict(entry, _id="6B0AD801342BC032B4E99B5D"))
st('entry-missing-client', {k: v for k, v in entry.items() if k != 'client'})
st('entry-extra-notes', dict(entry, notes="x"))
st('entry-history-missing-changed-at', dict(entry, status_history=[{"status":"pending"}]))
st('entry-history-extra-key', dict(entry, status_history=[{"status":"pending","changed_at":"2026-11-28T13:32:49.774Z","by":"me"}]))
st('entry-history-not-objects', dict(entry, status_history=["pending", ["x"], None]))
st('entry-history-empty', dict(entry, status_history=[]))
st('entry-history-long', dict(entry, status_history=[{"status":"in_progress","notes":"n%d" % i,"changed_at":"2026-11-28T13:32:49.774Z"} for i in range(500)]))
st('entry-history-dup-key', json.dumps(entry).replace('"changed_at": "2026-11-28T13:32:49.774Z"}', '"changed_at": "2026-11-28T13:32:49.774Z", "status": "completed"}'))
st('entry-dup-key', json.dumps(entry)[:-1] + ', "version": 2}')
st('entry-truncated', json.dumps(entry)[:200])
st('entry-gone-marker', '')
st('entry-null', 'null')
st('entry-free-deep', dict(entry, custom_branding=json.loads('{"k":' * 7 + '{}' + '}' * 7)))
st('entry-free-too-deep', dict(entry, custom_branding=json.loads('{"k":' * 8 + '{}' + '}' * 8)))
st('entry-invalid-utf8', json.dumps(entry, ensure_ascii=False).encode().replace(b'acme', b'ac\xffe'))
st('entry-nul-escapes', dict(entry, workorder="a\u0000b", company_namespace=["\u0000"]))
st('entry-actions-seven', dict(entry, allowed_actions=["view","comment","upload_files","approve","reject","view","x"]))

# --- stored entries as memcached holds them: a header, then the JSON
# (src/ngx_http_woportal_value.c)
def value(e, **over):
    j = (e if isinstance(e, (str, bytes)) else json.dumps(e, separators=(',', ':'), ensure_ascii=False))
    if isinstance(j, str): j = j.encode('utf-8')
    d = json.loads(j)
    ns = [n.encode('utf-8') for n in d.get('company_namespace', [])]
    h = dict(magic=0xe5, format=1, length=len(j), id=bytes.fromhex(d['_id']), version=d['version'], nns=len(ns))
    h.update(over)
    return (struct.pack('<BBI12sQB', h['magic'], h['format'], h['length'], h['id'], h['version'], h['nns'])
            + b''.join(struct.pack('<H', len(n)) + n for n in ns) + j)
st('value-readme', value(entry))
st('value-history', value(json.dumps(e2, separators=(',', ':'), ensure_ascii=False)))
st('value-no-namespaces', value(dict(entry, company_namespace=[])))
st('value-truncated', value(entry)[:-1])
st('value-header-only', value(entry)[:27])
st('value-length-short', value(entry, length=len(json.dumps(entry, separators=(',', ':'))) - 1))
st('value-too-many-namespaces', value(entry, nns=33))
st('value-namespaces-past-end', value(entry, nns=2))
st('value-version-0', value(entry, version=0))
st('value-json-not-object', value(entry)[:-1] + b']')

# --- query strings
for name, q in [('empty', ''), ('readme-paging', 'page=1&per_page=25'),
        ('readme-filters', 'status=in_progress&company_namespace=acme&company_namespace=beta'),
        ('readme-ids', '_id[]=6b0ad801342bc032b4e99b5d&_id[]=6b0ad801342bc032b4e99b5e'),
        ('readme-sort', 'sort=status,-expiry_date&per_page=100'),
        ('all-params', 'page=3&per_page=7&sort=-updated_at,client,_id&status=completed&workorder=w%201&client=c+2&company_namespace[]=a&_id=6b0ad801342bc032b4e99b5d'),
        ('pct-lone', '%'), ('pct-short', 'page=%3'), ('pct-bad-hex', 'page=%zz&sort=%g0&status=%0g'),
        ('pct-name', 'p%61ge=2&%70er_page=3'), ('pct-nul', 'workorder=a%00b&%00=1'),
        ('pct-utf8', 'company_namespace=%E2%82%AC+%F0%9F%98%80&client=%ff%fe'),
        ('pct-upper-lower', 'workorder=%4A%4a%2B%2b'), ('pct-in-brackets', 'company_namespace%5B%5D=x&_id%5b%5d=6b0ad801342bc032b4e99b5d'),
        ('plus', '+page=1&page+=2&workorder=a+b+'), ('page-max', 'page=2147483647'), ('page-over', 'page=2147483648'),
        ('page-huge', 'page=99999999999999999999999999999999'), ('page-zero', 'page=0&per_page=0'),
        ('per-page-101', 'per_page=101'), ('page-signs', 'page=-1&per_page=+5'), ('page-leading-zeros', 'page=0000000000000000000001'),
        ('page-twice', 'page=1&page=2&sort=_id&sort=_id&status=pending&status=pending'),
        ('sort-16', 'sort=' + ','.join(['created_at', '-updated_at', 'status', '-workorder'] * 4)),
        ('sort-17', 'sort=' + ','.join(['_id'] * 17)), ('sort-empty', 'sort='), ('sort-commas', 'sort=,,'),
        ('sort-dash', 'sort=-'), ('sort-double-dash', 'sort=--created_at'), ('sort-unknown', 'sort=version'),
        ('sort-space', 'sort=created_at,+status'),
        ('ns-100', '&'.join('company_namespace=n%d' % i for i in range(100))),
        ('ns-101', '&'.join('company_namespace[]=n%d' % i for i in range(101))),
        ('ids-101', '&'.join('_id=%024x' % i for i in range(101))),
        ('ids-bad', '_id=6B0AD801342BC032B4E99B5D&_id=xyz&_id=&_id'),
        ('brackets-odd', 'company_namespace[=a&company_namespace]=b&_id[][]=c&page[]=1'),
        ('no-values', 'page&per_page&sort&status&workorder&client&company_namespace&_id'),
        ('separators', '&&&=&==&page==1&&'), ('status-bad', 'status=PENDING'),
        ('unknown-params', 'foo=bar&page_=1&pag=1&x=%'),
        ('long-value', 'workorder=' + 'w' * 8000)]:
    w('query', name, q)

# --- routes
for name, r in [('collection', '0/api/v1/workorder-portal'), ('collection-slash', '0/api/v1/workorder-portal/'),
        ('item', '0/api/v1/workorder-portal/6b0ad801342bc032b4e99b5d'),
        ('item-status', '0/api/v1/workorder-portal/6b0ad801342bc032b4e99b5d/status'),
        ('item-upper', '0/api/v1/workorder-portal/6B0AD801342BC032B4E99B5D'),
        ('item-short', '0/api/v1/workorder-portal/6b0ad801342bc032b4e99b5'),
        ('item-trailing-slash', '0/api/v1/workorder-portal/6b0ad801342bc032b4e99b5d/'),
        ('status-trailing-slash', '0/api/v1/workorder-portal/6b0ad801342bc032b4e99b5d/status/'),
        ('double-slash', '0/api/v1/workorder-portal//'), ('double-slash-status', '0/api/v1/workorder-portal//status'),
        ('other-sub', '0/api/v1/workorder-portal/6b0ad801342bc032b4e99b5d/history'),
        ('prefix-longer', '0/api/v1/workorder-portalx'), ('prefix-shorter', '0/api/v1/workorder-porta'),
        ('other-path', '0/somewhere/else'), ('empty-uri', '0'),
        ('root-collection', '1/'), ('root-empty', '1'), ('root-item', '1/6b0ad801342bc032b4e99b5d'),
        ('root-status', '1/6b0ad801342bc032b4e99b5d/status'), ('root-no-slash', '1abc'),
        ('wo-item', '2/wo/abc'), ('wo-nul', '2/wo/6b0ad801342bc032b4e99b5d\x00/status'),
        ('custom', '3/custom\n/custom/6b0ad801342bc032b4e99b5d'), ('custom-trailing-slash', '3/custom/\n/custom//6b0ad801342bc032b4e99b5d'),
        ('custom-status', '3/c\n/c/6b0ad801342bc032b4e99b5d/status'),
        ('custom-nul', '3/c\x00x\n/c/id')]:
    w('route', name, r)

# --- index shards (the record layout: src/ngx_http_woportal_index.c)
def rec(idhex, version=1, created=1764336769774, updated=None, expiry=None, status=0, access=0, wo=b'507f1f77bcf86cd799439012', cl=b'507f1f77bcf86cd799439013', ns=(b'acme',), deleted=False):
    if updated is None: updated = created
    flags = (1 if deleted else 0) | (2 if expiry is not None else 0)
    body = struct.pack('<H', len(wo)) + wo + struct.pack('<H', len(cl)) + cl
    for n in ns: body += struct.pack('<H', len(n)) + n
    if deleted:
        version = 2**64 - 1
    head = bytes([0xa7]) + struct.pack('<H', 51 + len(body)) + bytes([flags]) + bytes.fromhex(idhex) + struct.pack('<QqqqBBB', version, created, updated, expiry or 0, status, access, len(ns))
    assert len(head) == 51
    return head + body
A, B, C = '6b0ad801342bc032b4e99b5d', '6b0ad801342bc032b4e99b5e', '6b0ad801342bc032b4e99b5f'
w('index', 'one-record', rec(A))
w('index', 'versions-and-deletion', rec(A) + rec(B, status=1) + rec(A, version=2, status=2, expiry=1800000000000, ns=(b'a', b'b', 'é'.encode())) + rec(B, deleted=True) + rec(C, access=2, ns=()))
w('index', 'same-version-twice', rec(A, version=3) + rec(A, version=3, status=3))
w('index', 'deleted-only', rec(A, deleted=True))
w('index', 'empty-strings', rec(A, wo=b'', cl=b'', ns=(b'',)))
w('index', 'corrupt-tail-truncated', rec(A) + rec(B)[:40])
w('index', 'corrupt-bad-magic', rec(A) + b'\xa6' + rec(B)[1:] + rec(C))
w('index', 'corrupt-length-short', rec(A) + bytes([0xa7, 10, 0]) + rec(B)[3:])
w('index', 'corrupt-length-past-end', rec(A) + bytes([0xa7, 0xff, 0xff]) + rec(B)[3:])
w('index', 'corrupt-status', rec(A, status=9))
w('index', 'corrupt-access', rec(A, access=3))
w('index', 'corrupt-nns-255', rec(A)[:50] + bytes([255]) + rec(A)[51:])
w('index', 'corrupt-string-length', rec(A)[:51] + b'\xff\x7f' + rec(A)[53:])
w('index', 'corrupt-trailing-bytes-in-record', (lambda r: r[:1] + struct.pack('<H', len(r) + 3) + r[3:] + b'xyz')(rec(A)))
w('index', 'empty', b'')
w('index', 'many-records', b''.join(rec('%024x' % (i % 97), version=i + 1, status=i % 4, ns=tuple(b'n%d' % j for j in range(i % 5))) for i in range(400)))
w('index', 'long-strings', rec(A, wo=b'w' * 256, cl='é'.encode() * 64, ns=tuple(b'x' * 512 for _ in range(32))))


# --- memcached's answers (binary protocol: src/ngx_http_woportal_mc.c)
def answer(opcode, status=0, opaque=1, cas=0, extras=b'', key=b'', value=b''):
    body = extras + key + value
    return (bytes([0x81, opcode]) + struct.pack('>HBBH', len(key), len(extras), 0, status)
            + struct.pack('>IIQ', len(body), opaque, cas) + body)
entry = json.dumps({'_id': A, 'version': 1}, separators=(',', ':')).encode()
w('mc', 'get-hit', answer(0x00, opaque=7, cas=42, extras=struct.pack('>I', 1), value=entry))
w('mc', 'get-miss', answer(0x00, status=1, opaque=2, value=b'Not found'))
w('mc', 'getk-hit', answer(0x0c, opaque=3, extras=struct.pack('>I', 5), key=b'woportal:' + A.encode(), value=entry))
w('mc', 'set-ok-noop', answer(0x01, opaque=4, cas=99) + answer(0x0a, opaque=6))
w('mc', 'appendq-refused-then-noop', answer(0x19, status=5, opaque=8, value=b'Not stored.') + answer(0x0a, opaque=9))
w('mc', 'exists-too-large', answer(0x01, status=2, opaque=10) + answer(0x01, status=3, opaque=11, value=b'Too large.'))
w('mc', 'pipeline', b''.join(answer(0x00, opaque=i, extras=struct.pack('>I', 1), value=entry[:i * 3]) for i in range(1, 20)))
w('mc', 'partial-header', answer(0x00, opaque=1, extras=struct.pack('>I', 1), value=entry)[:13])
w('mc', 'partial-body', answer(0x00, opaque=1, extras=struct.pack('>I', 1), value=entry)[:40])
w('mc', 'bad-magic', b'\x80' + answer(0x00)[1:])
w('mc', 'text-protocol', b'VALUE woportal:x 1 3\r\nabc\r\nEND\r\n')
w('mc', 'extras-past-body', answer(0x00, extras=b'\0' * 8)[:24][:8] + struct.pack('>I', 4) + answer(0x00)[12:24] + b'\0' * 4)
w('mc', 'huge-body', bytes([0x81, 0]) + b'\0' * 6 + struct.pack('>I', 0x7fffffff) + b'\0' * 12)
w('mc', 'empty', b'')
