#!/usr/bin/perl
# The contract (contract/openapi.yaml) as JSON in a C header, for
# GET <location>/openapi.json; run by `config` at configure time.
#
#   perl util/openapi-c.pl contract/openapi.yaml > ngx_http_woportal_openapi.h
#
# "servers" is left out of the two strings it writes: the module puts the
# location's path between them, [{"url":"<path>"}], when it answers.
use strict;
use warnings;

use JSON::PP ();
use YAML::XS ();

my $file = shift or die "usage: $0 <openapi.yaml>\n";

$YAML::XS::Boolean = 'JSON::PP';

my $doc = YAML::XS::LoadFile($file);
my $mark = '@@WOPORTAL_SERVER_URL@@';

$doc->{servers} = [{url => $mark}];

my $json = JSON::PP->new->canonical->ascii->encode($doc);
my ($head, $tail) = split /\Q$mark\E/, $json, 2;

die "$0: the server url placeholder is not in the JSON of $file\n"
    unless defined $tail;

# a C string literal, 72 characters of source a line; "?" escaped so that
# no trigraph can appear
sub c_string {
    my ($name, $s) = @_;
    my @tokens = map { $_ eq '\\' ? '\\\\' : $_ eq '"' ? '\\"'
                       : $_ eq '?' ? '\\?' : $_ } split //, $s;
    my $out = "static u_char  $name\[\] =\n";
    my $line = '';
    for my $t (@tokens) {
        if (length($line) + length($t) > 72) {
            $out .= "    \"$line\"\n";
            $line = '';
        }
        $line .= $t;
    }
    $out .= "    \"$line\"\n" if length $line;
    return "$out    ;\n";
}

print "/* made by config from $file: do not edit */\n\n",
      c_string('ngx_http_woportal_openapi_head', $head), "\n",
      c_string('ngx_http_woportal_openapi_tail', $tail);
