#!/usr/bin/perl
# The contract (contract/openapi.yaml) as JSON in a C header, for
# GET <location>/openapi.json; run by `config` at configure time.
#
#   perl util/openapi-c.pl contract/openapi.yaml > ngx_http_woportal_openapi_json.h
#
# "servers" is left out of the two strings it writes: the module puts the
# location's path between them, [{"url":"<path>"}], when it answers.
# info.version is the module's, NGX_HTTP_WOPORTAL_VERSION
# (src/ngx_http_woportal_version.h), joined to the strings by the C
# compiler: the contract's own version is the API's, which the module
# implements, and an operator asks which build answers.
use strict;
use warnings;

use JSON::PP ();
use YAML::XS ();

my $file = shift or die "usage: $0 <openapi.yaml>\n";

$YAML::XS::Boolean = 'JSON::PP';

my $doc = YAML::XS::LoadFile($file);
my $mark = '@@WOPORTAL_SERVER_URL@@';
my $version = '@@WOPORTAL_VERSION@@';

$doc->{servers} = [{url => $mark}];
$doc->{info}{version} = $version;

my $json = JSON::PP->new->canonical->ascii->encode($doc);
my ($head, $tail) = split /\Q$mark\E/, $json, 2;

die "$0: the server url placeholder is not in the JSON of $file\n"
    unless defined $tail;

die "$0: info.version is not in the head of the JSON of $file\n"
    unless $head =~ /\Q$version\E/ && $tail !~ /\Q$version\E/;

# a C string literal, 72 characters of source a line; "?" escaped so that
# no trigraph can appear; the version mark becomes the macro, on a line
# of its own
sub c_string {
    my ($name, $s) = @_;
    my @tokens = map { $_ eq '\\' ? '\\\\' : $_ eq '"' ? '\\"'
                       : $_ eq '?' ? '\\?' : $_ }
                 map { $_ eq $version ? $_ : split // }
                 split /(\Q$version\E)/, $s;
    my $out = "static u_char  $name\[\] =\n";
    my $line = '';
    for my $t (@tokens) {
        if ($t eq $version) {
            $out .= "    \"$line\"\n" if length $line;
            $out .= "    NGX_HTTP_WOPORTAL_VERSION\n";
            $line = '';
            next;
        }
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
