# The repository keeps its own copy of the contract in contract/; where the
# shared originals are next to the repository (../shared, as on the
# machines the team works on), the copies must be identical to them.  A
# clean clone (CI) has no ../shared: then there is nothing to compare.

use strict;
use warnings;

use Test::More;

my @pairs = (['contract/openapi.yaml', '../shared/openapi.yaml'],
             ['contract/CONTRACT-NOTES.md', '../shared/CONTRACT-NOTES.md']);

my @present = grep { -f $_->[1] } @pairs;

plan skip_all => 'no ../shared/openapi.yaml nor ../shared/CONTRACT-NOTES.md '
                 . 'next to the repository'
    unless @present;

sub slurp {
    my $file = shift;
    open my $in, '<:raw', $file or return undef;
    local $/;
    return scalar <$in>;
}

for my $pair (@present) {
    my ($copy, $shared) = @$pair;
    my ($a, $b) = (slurp($copy), slurp($shared));

    ok(defined $a, "$copy can be read");

    # not is(): a difference would print both files whole
    my $same = defined $a && defined $b && $a eq $b;
    ok($same, "$copy is identical to $shared");

    if (!$same && defined $a && defined $b) {
        my @a = split /\n/, $a;
        my @b = split /\n/, $b;
        for my $i (0 .. ($#a > $#b ? $#a : $#b)) {
            next if ($a[$i] // "\0") eq ($b[$i] // "\0");
            diag("first difference at line " . ($i + 1) . ":\n"
                 . "  $copy: " . ($a[$i] // '(end of file)') . "\n"
                 . "  $shared: " . ($b[$i] // '(end of file)'));
            last;
        }
    }
}

done_testing();
