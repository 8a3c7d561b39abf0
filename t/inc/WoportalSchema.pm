package main;

# The helpers of t/094-schema-sqlite.t and t/095-schema-postgresql.t (the
# blocks of 094 against PostgreSQL), after t/inc/WoportalPersist.pm.

use strict;
use warnings;

use DBI ();

# what version 3 keeps of woportal_entries
our $Columns = 'doc id prefix version';

# a database as an earlier module left it: the files of sql/ up to
# $version applied, and rows written as that module wrote them (the
# fields lists filter and sort on in columns, the namespaces in their
# table), before nginx opens it.  Each row: [label, version, status,
# [namespaces]], or [label, 'deleted'] for a deletion's tombstone.
sub old_database {
    my ($version, @rows) = @_;
    my $n = 0;
    my @files = (sort glob "sql/$main::Backend/*.sql")[0 .. $version - 1];
    my $sql = join '', map {
        local $/;
        open my $in, '<', $_ or die "$_: $!\n";
        <$in>;
    } @files;
    my @inserts;
    for my $r (@rows) {
        my ($label, $v, $status, $ns) = @$r;
        $main::Id{$label} = sprintf '%024x', 0x6e000000 + $n++;
        if ($v eq 'deleted') {
            push @inserts, ['woportal_entries', $main::Prefix,
                            $main::Id{$label}, '9223372036854775807',
                            '', '', '', '', undef, 0, 0, ''];
            next;
        }
        my $doc = old_doc($main::Id{$label}, $label, $v, $status, $ns // []);
        $main::Served{$label} = $main::J->decode($doc);
        push @inserts, ['woportal_entries', $main::Prefix, $main::Id{$label},
                        $v, "wo-$label", "cl-$label", $status,
                        'view_only', undef, 1767225600000,
                        1767225600000 + $v, $doc];
        push @inserts, ['woportal_entry_namespaces', $main::Prefix, $_,
                        $main::Id{$label}]
            for @{ $ns // [] };
    }
    if ($main::Backend eq 'postgresql') {
        my $lit = sub {
            my $v = shift;
            return 'NULL' unless defined $v;
            $v =~ s/'/''/g;
            return "'$v'";
        };
        $sql .= join '', map {
            my ($table, @v) = @$_;
            "INSERT INTO $table VALUES (" . join(', ', map { $lit->($_) } @v)
            . ");\n";
        } @inserts;
        my $out = main::psql($main::Db, '-v', 'ON_ERROR_STOP=1', '-c',
                             $sql . "SELECT 'old-ok';");
        push @main::InitProblems, "the old database: $out"
            unless $out =~ /old-ok/;
    } else {
        my $dbh = DBI->connect("dbi:SQLite:dbname=$main::Db", '', '',
                               {RaiseError => 1, PrintError => 0,
                                sqlite_allow_multiple_statements => 1});
        $dbh->do($sql);
        for (@inserts) {
            my ($table, @v) = @$_;
            $dbh->do("INSERT INTO $table VALUES ("
                     . join(', ', ('?') x @v) . ')', undef, @v);
        }
        $dbh->disconnect;
        chmod 0666, $main::Db;
        chmod 0777, $main::DbDir;
    }
    my $cols = join ' ', columns();
    push @main::InitProblems, "the old database has the columns [$cols]"
        unless $cols =~ /\bworkorder\b/ && $cols =~ /\bupdated_at\b/;
    my $v = versions();
    my $want = join ' ', 1 .. $version;
    push @main::InitProblems, "the old database is at [$v], not [$want]"
        unless $v eq $want;
    main::subst();
}

# an entry as the module stores it in doc (encode.c's order of fields)
sub old_doc {
    my ($id, $label, $version, $status, $namespaces) = @_;
    my @history = ('pending', $status eq 'pending' ? () : $status);
    my $t = '2026-01-01T00:00:00.000Z';
    return join '',
        '{"_id":"', $id, '","workorder":"wo-', $label,
        '","client":"cl-', $label, '","status":"', $status,
        '","access_level":"view_only","allowed_actions":["view"],',
        '"expiry_date":null,"notifications":{},"portal_settings":{},',
        '"custom_branding":{},"company_namespace":[',
        join(',', map { qq("$_") } @$namespaces),
        '],"disabled":false,"status_history":[',
        join(',', map { qq({"status":"$_","changed_at":"$t"}) } @history),
        '],"created_at":"', $t, '","updated_at":"', $t, '","version":',
        $version, '}';
}

# the names of the database's tables, indexes, woportal_entries' columns
sub tables {
    if ($main::Backend eq 'postgresql') {
        return split /\n/, main::psql($main::Db, '-A', '-t', '-c',
            "SELECT tablename FROM pg_tables WHERE tablename LIKE 'woportal%'"
            . " ORDER BY 1");
    }
    return sqlite_col(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY 1");
}

sub indexes {
    if ($main::Backend eq 'postgresql') {
        return split /\n/, main::psql($main::Db, '-A', '-t', '-c',
            "SELECT indexname FROM pg_indexes WHERE tablename LIKE 'woportal%'"
            . " ORDER BY 1");
    }
    return sqlite_col(
        "SELECT name FROM sqlite_master WHERE type = 'index' ORDER BY 1");
}

sub columns {
    if ($main::Backend eq 'postgresql') {
        return split /\n/, main::psql($main::Db, '-A', '-t', '-c',
            "SELECT column_name FROM information_schema.columns"
            . " WHERE table_name = 'woportal_entries' ORDER BY 1");
    }
    return sqlite_col("SELECT name FROM pragma_table_info('woportal_entries')"
                      . " ORDER BY 1");
}

sub versions {
    if ($main::Backend eq 'postgresql') {
        my $v = main::psql($main::Db, '-A', '-t', '-c',
                           'SELECT version FROM woportal_schema ORDER BY 1');
        return join ' ', split /\n/, $v;
    }
    return join ' ', sqlite_col('SELECT version FROM woportal_schema'
                                . ' ORDER BY 1');
}

sub sqlite_col {
    my $sql = shift;
    return () unless -e $main::Db;
    my $dbh = DBI->connect("dbi:SQLite:dbname=$main::Db", '', '',
                           {RaiseError => 1, PrintError => 0});
    my $names = eval { $dbh->selectcol_arrayref($sql) } // [];
    $dbh->disconnect;
    return @$names;
}

# the schema is version 3's, and the database holds $rows live rows
sub upgraded {
    my $rows = shift;
    my @p;
    my $v = versions();
    push @p, "schema versions [$v], expected [1 2 3]" unless $v eq '1 2 3';
    my $cols = join ' ', columns();
    push @p, "woportal_entries has the columns [$cols], expected [$Columns]"
        unless $cols eq $Columns;
    my $tables = join ' ', tables();
    push @p, "the tables are [$tables]"
        unless $tables eq 'woportal_entries woportal_schema';
    # the primary keys' alone
    my @idx = grep { !/^sqlite_autoindex_|_pkey$/ } indexes();
    push @p, "indexes [@idx] are there" if @idx;
    my $n = @{ main::db_rows() };
    push @p, "$n rows, expected $rows" unless $n == $rows;
    return @p;
}

1;
