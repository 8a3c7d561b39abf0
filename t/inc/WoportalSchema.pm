package main;

# The helpers of t/094-schema-sqlite.t and t/095-schema-postgresql.t (the
# blocks of 094 against PostgreSQL), after t/inc/WoportalPersist.pm.

use strict;
use warnings;

use DBI ();

our @Dropped = map { "woportal_entries_$_" }
               qw(status workorder client access_level expiry_date created_at
                  updated_at);

# the database as version 1 of the schema made it, with a row
sub version_1 {
    my $sql = do {
        local $/;
        open my $in, '<', "sql/$main::Backend/001_init.sql" or die "$!\n";
        <$in>;
    };
    if ($main::Backend eq 'postgresql') {
        main::psql($main::Db, '-c', $sql);
    } else {
        my $dbh = DBI->connect("dbi:SQLite:dbname=$main::Db", '', '',
                               {RaiseError => 1, PrintError => 0});
        $dbh->do($_) for grep { /\S/ } split /;\s*\n/, $sql;
        $dbh->disconnect;
        chmod 0666, $main::Db;
        chmod 0777, $main::DbDir;
    }
    my @idx = indexes();
    push @main::InitProblems, "version 1 made no index: @idx"
        unless grep { $_ eq 'woportal_entries_status' } @idx;
}

# the index names and schema versions of the database
sub indexes {
    if ($main::Backend eq 'postgresql') {
        return split /\n/, main::psql($main::Db, '-A', '-t', '-c',
            "SELECT indexname FROM pg_indexes WHERE tablename LIKE 'woportal%'"
            . " ORDER BY 1");
    }
    my $dbh = DBI->connect("dbi:SQLite:dbname=$main::Db", '', '',
                           {RaiseError => 1, PrintError => 0});
    my $names = $dbh->selectcol_arrayref(
        "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY 1");
    $dbh->disconnect;
    return @$names;
}

sub versions {
    if ($main::Backend eq 'postgresql') {
        my $v = main::psql($main::Db, '-A', '-t', '-c',
                           'SELECT version FROM woportal_schema ORDER BY 1');
        return join ' ', split /\n/, $v;
    }
    my $dbh = DBI->connect("dbi:SQLite:dbname=$main::Db", '', '',
                           {RaiseError => 1, PrintError => 0});
    my $v = $dbh->selectcol_arrayref(
        'SELECT version FROM woportal_schema ORDER BY 1');
    $dbh->disconnect;
    return join ' ', @$v;
}

sub upgraded {
    my @p;
    my %idx = map { $_ => 1 } indexes();
    push @p, "index $_ is still there" for grep { $idx{$_} } @main::Dropped;
    push @p, 'the namespaces index went too'
        unless $idx{woportal_entry_namespaces_id};
    my $v = versions();
    push @p, "schema versions [$v], expected [1 2]" unless $v eq '1 2';
    my $rows = main::db_rows();
    push @p, scalar(@$rows) . " rows, expected 2" unless @$rows == 2;
    return @p;
}

1;
