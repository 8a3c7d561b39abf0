package Test::Nginx::Socket;

use strict;
use warnings;

our $VERSION = '0.29_compat';

=encoding utf-8

=head1 NAME

Test::Nginx::Socket - small stand-in for openresty's Test::Nginx::Socket

=head1 SYNOPSIS

    use Test::Nginx::Socket 'no_plan';

    no_shuffle();
    run_tests();

    __DATA__

    === TEST 1: hello
    --- config
        location = /t { return 200 "hello\n"; }
    --- request
    GET /t
    --- response_body
    hello

=head1 DESCRIPTION

This is a compact re-implementation of the data-driven test scaffold
C<Test::Nginx::Socket> from openresty/test-nginx, written from its documented
behaviour, for machines where the upstream module is not installed (it is not
packaged by Debian).  The project's F<.t> files are written in the upstream
format, and B<the upstream module wins whenever it is installed>: the Makefile
only puts F<t/lib> on C<@INC> when C<perl -MTest::Nginx::Socket -e1> fails.

Where the two overlap this module follows upstream: same section names, same
exported functions, same request building (C<Host>, C<Connection: close>,
trimmed body plus C<Content-Length>), same per-request test emission (so
C<plan tests =E<gt> N> counts agree for the features implemented), same
callback signatures.

Differences, on purpose:

=over

=item * nginx runs as a direct child in the foreground (C<daemon off>) and is
restarted for every block; it is stopped (QUIT, then TERM/KILL) and reaped at
the end of the block.  A block without C<--- config> reuses the previous
block's config (upstream reuses the running server).

=item * A block whose nginx fails to start fails (with the error log shown)
instead of bailing out the whole run.

=item * After every block, an C<[alert]>, C<[crit]> or C<[emerg]> line in that
block's error log (shutdown included) that C<--- error_log> did not expect is a
test failure (upstream only warns).  So is nginx dying from a signal.

=item * C<workers(N)> with N E<gt> 1 turns the master process on.

=item * C<--- timeout> bounds the whole exchange, not each I/O wait.

=back

Upstream behaviours kept because tests must pass under both: with several
requests (an array C<--- request>, C<--- pipelined_requests>) every
expectation section must be an array; C<--- error_log> and
C<--- no_error_log> are checked against the part of F<error.log> written
since the previous request's check (so after each request); the server root
may only contain what the scaffold creates (F<conf>, F<html>, F<logs>,
F<*_temp>, F<*_cache>), anything else there aborts the run.

Exported functions: C<run_tests>, C<plan>, C<blocks>, C<repeat_each>,
C<no_shuffle>, C<no_long_string>, C<log_level>, C<workers>, C<master_on>,
C<master_off>, C<master_process_enabled>, C<worker_connections>,
C<env_to_nginx>, C<no_root_location>, C<server_port>,
C<server_port_for_client>, C<server_addr>, C<server_name>, C<server_root>,
C<html_dir>, C<timeout>, C<config_preamble>, C<check_accum_error_log>,
C<add_block_preprocessor>, C<add_response_body_check>,
C<add_cleanup_handler>, C<bail_out>, C<is_str>, and Test::Base's and
Test::More's usual functions (C<is>, C<like>, C<ok>, C<diag>, ...).
Preprocessors run per block, right before it, most recently added first;
body checks are called as C<($block, $body, $req_idx, $repeated_req_idx,
$dry_run)>.

Implemented sections: C<config>, C<http_config>, C<main_config>,
C<post_main_config>, C<server_name>, C<user_files>, C<init>, C<request>
(string, array of requests, array of packets), C<raw_request>, C<raw_request_middle_delay>, C<pipelined_requests>,
C<more_headers>, C<error_code>, C<error_code_like>, C<response_headers>,
C<response_headers_like>, C<raw_response_headers_like>,
C<raw_response_headers_unlike>, C<response_body>, C<response_body_like>,
C<response_body_unlike>, C<response_body_filters>, C<ignore_response>,
C<timeout>, C<abort>, C<shutdown>, C<wait>, C<log_level>,
C<error_log>, C<no_error_log>, C<grep_error_log>, C<grep_error_log_out>,
C<access_log>, C<no_access_log>, C<shutdown_error_log>,
C<no_shutdown_error_log>, C<must_die>, plus Test::Base's C<ONLY>, C<SKIP>,
C<LAST> and filters (C<eval>, C<chomp>, ...).

Not implemented: HTTP/2 and HTTP/3 (curl) modes, HUP reload mode, check-leak
and benchmark modes, systemtap, embedded TCP/UDP servers, C<skip_nginx*>,
C<skip_openssl>, C<skip_eval>, C<todo>, C<curl>, C<http09>,
C<error_log_file>, C<server_addr_for_client>, and the deprecated
C<request_eval> and C<response_body_eval>.

Environment: C<TEST_NGINX_BINARY>, C<TEST_NGINX_SERVER_PORT> (or
C<TEST_NGINX_PORT>), C<TEST_NGINX_SERVROOT>, C<TEST_NGINX_NO_SHUFFLE>,
C<TEST_NGINX_LOAD_MODULES>, C<TEST_NGINX_LOG_LEVEL>, C<TEST_NGINX_TIMEOUT>,
C<TEST_NGINX_SLEEP>, C<TEST_NGINX_MASTER_PROCESS>, C<TEST_NGINX_USE_VALGRIND>
and C<TEST_NGINX_VALGRIND_FAIL> (any valgrind report line fails the block).
Under valgrind, C<TEST_NGINX_TIMEOUT> is also the least timeout of a block
that sets its own (but for C<--- abort>).
C<$TEST_NGINX_*> variables are expanded in the config sections and user files.

=cut

use Test::Base -base;    # -base (not -Base): no Spiffy source filter here

use POSIX qw(WNOHANG SIGQUIT SIGTERM SIGKILL);
use Errno ();
use Time::HiRes qw(sleep time);
use IO::Socket::INET ();
use IO::Select ();
use File::Path qw(make_path remove_tree);
use File::Spec ();
use List::Util qw(shuffle min);
use Scalar::Util qw(looks_like_number);
use Test::LongString ();
use HTTP::Response ();
use Digest::MD5 ();
use Digest::SHA ();

our @EXPORT = qw(
    run_tests plan blocks repeat_each no_shuffle no_long_string log_level
    workers master_on master_off master_process_enabled worker_connections
    env_to_nginx no_root_location server_port server_port_for_client
    server_root html_dir server_addr server_name timeout config_preamble
    check_accum_error_log add_block_preprocessor add_response_body_check
    add_cleanup_handler bail_out is_str
);

# ---------------------------------------------------------------------------
# Settings (same defaults and environment variables as upstream)
# ---------------------------------------------------------------------------

our $NginxBinary       = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $ServerPort        = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT} || 1984;
our $ServerAddr        = '127.0.0.1';
our $ServerName        = 'localhost';
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $TestNginxSleep    = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterOn          = ($ENV{TEST_NGINX_MASTER_PROCESS} // 'off') eq 'on';
our $LoadModules       = $ENV{TEST_NGINX_LOAD_MODULES} // '';
our $UseValgrind       = $ENV{TEST_NGINX_USE_VALGRIND};
our $ValgrindFail      = $ENV{TEST_NGINX_VALGRIND_FAIL};
our $RepeatEach        = 1;
our $Workers           = 1;
our $WorkerConnections = 64;
our $NoRootLocation    = 0;
our $NoLongString      = 0;
our $CheckAccumErrLog  = 0;
our $ConfigPreamble    = '';
our (@EnvToNginx, @BlockPreprocessors, @CleanupHandlers, @ResponseBodyChecks);

our $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;
our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $StderrFile = "$LogDir/nginx.stderr";    # nginx's stderr before it redirects it
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

# Run state.
our $NginxPid;           # the nginx child of the current block, if running
our $NginxDeadStatus;    # wait status of an nginx that exited on its own
our $NginxVersionOut;    # output of `nginx -V`
our $PrevConfig;         # last --- config seen, reused by blocks without one
our $ErrLogPos = 0;      # error.log offset already checked in this block
our $RandPorts = {};     # $TEST_NGINX_RAND_PORT_N values of this block
our $InChild = 0;

# ---------------------------------------------------------------------------
# Exported setters/getters
# ---------------------------------------------------------------------------

sub repeat_each (@)        { $RepeatEach = shift if @_; $RepeatEach }
sub workers (@)            { $Workers = shift if @_; $Workers }
sub worker_connections (@) { $WorkerConnections = shift if @_; $WorkerConnections }
sub log_level (@)          { $LogLevel = shift if @_; $LogLevel }
sub server_port (@)        { $ServerPort = shift if @_; $ServerPort }
sub server_port_for_client (@) { server_port(@_) }
sub server_addr (@)        { $ServerAddr = shift if @_; $ServerAddr }
sub server_name (@)        { $ServerName = shift if @_; $ServerName }
sub timeout (@)            { $Timeout = shift if @_; $Timeout }
sub config_preamble ($)    { $ConfigPreamble = shift }
sub no_shuffle ()          { $NoShuffle = 1 }
sub no_long_string ()      { $NoLongString = 1 }
sub no_root_location ()    { $NoRootLocation = 1 }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub master_on ()           { $MasterOn = 1 }
sub master_off ()          { $MasterOn = 0 }
sub server_root ()         { $ServRoot }
sub html_dir ()            { $HtmlDir }

sub master_process_enabled (@) {
    $MasterOn = shift() ? 1 : 0 if @_;
    return $MasterOn ? 'on' : 'off';
}

sub env_to_nginx (@) {
    croak("env_to_nginx: no arguments specified") unless @_;
    for my $v (@_) {
        croak("env_to_nginx: bad argument value: $v")
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

# Upstream order: the most recently added preprocessor runs first.
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($)    { unshift @CleanupHandlers, shift }
sub add_response_body_check ($) { push @ResponseBodyChecks, shift }

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}

# String comparison honouring no_long_string() and regex expectations.
sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    return Test::More::like($got, $expected, $desc) if ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc) if $NoLongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

# ---------------------------------------------------------------------------
# Main loop
# ---------------------------------------------------------------------------

sub run_tests () {
    check_nginx_binary();
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    # Never leave an nginx behind when interrupted.
    local $SIG{INT}  = sub { cleanup(); exit 130 };
    local $SIG{TERM} = sub { cleanup(); exit 143 };
    local $SIG{PIPE} = 'IGNORE';

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        # Preprocessors run lazily, right before their block, so they can use
        # what earlier blocks produced.
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_block($block);
    }

    cleanup();
}

sub run_block {
    my $block = shift;
    my $name  = $block->name;

    my $config = $block->config;
    if (!defined $config) {
        bail_out("$name - No '--- config' section specified and could not get previous one")
            unless defined $PrevConfig;
        $config = $PrevConfig;
    }
    $PrevConfig = $config;

    local $RandPorts = {};
    local $LogLevel  = $LogLevel;
    if (defined(my $lvl = $block->log_level)) {
        ($LogLevel = $lvl) =~ s/^\s+|\s+$//g;
    }

    setup_server_root();
    write_user_files($block);
    write_config_file($block, expand_env($config, $name));
    $ErrLogPos = 0;

    if (defined $block->must_die) {
        run_must_die($block);
        finish_block($block, 0);    # stderr is expected to have errors
        return;
    }

    if (!start_nginx($block)) {    # already reported, stderr included
        finish_block($block, 0);
        return;
    }

    if (defined(my $init = $block->init)) {
        run_init_code($init);
        bail_out("$name - init failed: $@") if $@;
    }

    for my $rep (0 .. $RepeatEach - 1) {
        write_user_files($block) if $rep > 0;
        run_requests($block, $rep);
    }

    finish_block($block, 1);
}

# Stops nginx and runs the checks that need the complete error log.
sub finish_block {
    my ($block, $show_stderr) = @_;
    my $name = $block->name;

    my $status = stop_nginx($name);
    my $crashed = defined $status && ($status & 127)
        && ($status & 127) != SIGQUIT;
    if ($crashed) {
        Test::More::fail("$name - nginx died from signal " . ($status & 127)
                         . ($status & 128 ? ' (core dumped)' : ''));
    }

    check_shutdown_error_log($block) if defined $block->shutdown_error_log
                                        || defined $block->no_shutdown_error_log;
    check_alerts($block);
    check_stderr($block, $show_stderr);
}

# ---------------------------------------------------------------------------
# Server root, config file, user files
# ---------------------------------------------------------------------------

sub check_nginx_binary {
    return if defined $NginxVersionOut;
    my $out = `$NginxBinary -V 2>&1`;
    if ($? != 0 || $out !~ m{nginx[^/]*/\d+\.\d+\.\d+}) {
        bail_out("Failed to run \"$NginxBinary -V\": " . ($out // $!));
    }
    $NginxVersionOut = $out;
}

# Like upstream: only remove what we create, and insist the root is then
# empty, so a mis-set TEST_NGINX_SERVROOT cannot wipe real data.
sub setup_server_root {
    if (-d $ServRoot) {
        remove_tree($ConfDir, $HtmlDir, $LogDir,
                    glob("$ServRoot/*_temp"), glob("$ServRoot/*_cache"));
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }
    make_path($ServRoot, $LogDir, $HtmlDir, $ConfDir);
    -d $ConfDir or bail_out("Failed to create $ServRoot: $!");

    write_file("$HtmlDir/index.html",
        '<html><head><title>It works!</title></head><body>It works!</body></html>');
}

sub write_file {
    my ($path, $data) = @_;
    open my $out, '>', $path or bail_out("Can't open $path for writing: $!");
    binmode $out;
    print $out $data;
    close $out;
}

# --- user_files: ">>> name [date]" chunks, or an eval'd [[name, body, date]].
sub write_user_files {
    my $block = shift;
    my $files = $block->user_files;
    return unless defined $files;

    if (!ref $files) {
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, '', $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        (my $dir = $path) =~ s{/[^/]*$}{};
        make_path($dir) unless -d $dir;
        write_file($path, expand_env($body // '', $block->name));
        if ($date) {
            system('touch', '-t', $date, $path) == 0
                or bail_out("Failed to set the date of $path");
        }
    }
}

# Expands $TEST_NGINX_* like upstream (and $TEST_NGINX_RAND_PORT_N).
sub expand_env {
    my ($text, $name) = @_;
    return $text unless defined $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $RandPorts->{$var} //= rand_port();
        } else {
            defined $ENV{$var} or bail_out("$name - No environment $var defined.");
            $ENV{$var};
        }
    }ge;
    return $text;
}

sub rand_port {
    for (1 .. 1000) {
        my $port = 1985 + int rand 63000;
        next if $port == $ServerPort || grep { $_ == $port } values %$RandPorts;
        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                         LocalPort => $port, Proto => 'tcp');
        next unless $sock;
        close $sock;
        return $port;
    }
    bail_out("Cannot find an available listening port number");
}

# Adds "*_temp_path" directives for the modules this binary has, unless the
# block sets them itself.
sub temp_path_directives {
    my $conf_text = shift;
    my $out = '';
    for my $m (qw(client_body proxy fastcgi uwsgi scgi)) {
        next if $m ne 'client_body' && $NginxVersionOut =~ /--without-http_${m}_module/;
        next if $conf_text =~ /\b${m}_temp_path\b/;
        $out .= "    ${m}_temp_path $ServRoot/${m}_temp;\n";
    }
    return $out;
}

sub write_config_file {
    my ($block, $config) = @_;
    my $name        = $block->name;
    my $http_config = expand_env($block->http_config // '', $name);
    my $main_config = expand_env($block->main_config // '', $name);
    my $post_main   = expand_env($block->post_main_config // '', $name);
    my $server_name = $block->server_name // $ServerName;
    $server_name =~ s/^\s+|\s+$//g;

    # as upstream: the master process only with master_on() (workers()
    # alone leaves it off, and so one process)
    my $master = $MasterOn && !$UseValgrind ? 'on' : 'off';
    # Relative module paths would resolve against the prefix (servroot).
    my $modules = join '', map { 'load_module ' . File::Spec->rel2abs($_) . ";\n" }
                           grep { length } split /\s+/, $LoadModules;
    my $env = join '', map { /\s/ ? "env '$_';\n" : "env $_;\n" } @EnvToNginx;
    my $user = $> == 0 ? "user root;\n" : '';
    my $temp_paths = temp_path_directives("$http_config\n$config");
    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    write_file($ConfFile, <<"_EOC_");
$modules
$main_config

daemon off;
master_process $master;
worker_processes $Workers;
error_log $ErrLogFile $LogLevel;
pid $PidFile;
$env$user
events {
    accept_mutex off;
    worker_connections $WorkerConnections;
}

http {
    access_log $AccLogFile;
    default_type text/plain;
    keepalive_timeout 68;
$temp_paths
$http_config

    server {
        listen $ServerPort;
        server_name '$server_name';
        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main
_EOC_
}

# ---------------------------------------------------------------------------
# Starting and stopping nginx
# ---------------------------------------------------------------------------

sub nginx_command {
    my $must_die = shift;
    my @cmd = ($NginxBinary, '-p', "$ServRoot/", '-c', $ConfFile);
    return @cmd if !$UseValgrind || $must_die;

    # --fair-sched: nginx's thread pool shutdown spins on sched_yield(),
    # which valgrind's default scheduler turns into a wait of seconds
    my @opts = $UseValgrind =~ /^\d+$/
        ? ('-q', '--fair-sched=yes', '--leak-check=full',
           '--gen-suppressions=all',
           -f 'valgrind.suppress' ? '--suppressions=valgrind.suppress' : ())
        : split ' ', $UseValgrind;
    return ('valgrind', @opts, @cmd);
}

# fork+exec nginx as our direct child, in its own process group so a stuck
# master and its workers can be killed together.
sub spawn_nginx {
    my $must_die = shift;
    my @cmd = nginx_command($must_die);
    my $pid = fork;
    bail_out("fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $InChild = 1;
        setpgrp(0, 0);
        open STDIN, '<', '/dev/null';
        open STDOUT, '>', '/dev/null';
        open STDERR, '>>', $StderrFile;
        { no warnings 'exec'; exec { $cmd[0] } @cmd; }
        print STDERR "exec $cmd[0] failed: $!\n";
        POSIX::_exit(127);
    }
    return $pid;
}

# Waits for $pid to exit; returns its wait status, or undef on timeout.
sub wait_child {
    my ($pid, $secs) = @_;
    my $deadline = time + $secs;
    while (1) {
        my $r = waitpid($pid, WNOHANG);
        return $? if $r == $pid;
        return 0 if $r < 0;    # not our child any more
        return undef if time > $deadline;
        sleep 0.002;
    }
}

# Reaps nginx if it exited by itself (crash, fatal error); true if it did.
sub nginx_gone {
    return 1 unless defined $NginxPid;
    return 0 if waitpid($NginxPid, WNOHANG) != $NginxPid;
    $NginxDeadStatus = $?;
    undef $NginxPid;
    return 1;
}

# Starts nginx and waits for its pid file: nginx writes it after the
# listening sockets are open, so no probe connection (and no log noise).
sub start_nginx {
    my $block = shift;
    my $name  = $block->name;
    $NginxPid = spawn_nginx(0);
    undef $NginxDeadStatus;

    my $deadline = time + ($UseValgrind ? 60 : 10);
    while (time < $deadline) {
        if (nginx_gone()) {
            my $status = $NginxDeadStatus;
            undef $NginxDeadStatus;
            Test::More::fail("$name - nginx failed to start (exit status "
                             . ($status >> 8) . ", signal " . ($status & 127) . ")");
            Test::More::diag(startup_diagnostics());
            return 0;
        }
        return 1 if -s $PidFile;
        sleep 0.002;
    }

    Test::More::fail("$name - nginx did not write $PidFile in time");
    Test::More::diag(startup_diagnostics());
    stop_nginx($name);
    return 0;
}

sub startup_diagnostics {
    my $log = join '', @{ read_lines($ErrLogFile, 0) };
    my @tail = (split /^/, $log)[-20 .. -1];
    my $err = join '', @{ read_lines($StderrFile, 0) };
    return "error.log (tail):\n" . join('', grep { defined } @tail)
         . ($err ne '' ? "stderr:\n$err" : '');
}

# QUIT for a graceful exit; TERM, then KILL on the whole group, if it hangs.
# Returns nginx's wait status (undef when nothing was running).
sub stop_nginx {
    my $name = shift;
    my $pid  = $NginxPid;
    if (!defined $pid) {
        my $status = $NginxDeadStatus;
        undef $NginxDeadStatus;
        return $status;
    }
    undef $NginxPid;

    # nginx checks for QUIT only between event waits: one that arrives
    # just before epoll_wait() (a window valgrind widens) waits for the
    # next event, which an idle server never gets; so QUIT again, once a
    # second, until it is gone
    my $status;
    for (1 .. ($UseValgrind ? 60 : 5)) {
        kill SIGQUIT, $pid;
        $status = wait_child($pid, 1);
        last if defined $status;
    }
    return $status if defined $status;

    warn "$name - nginx $pid did not quit; sending TERM\n";
    kill SIGTERM, -$pid;
    $status = wait_child($pid, 2);
    return $status if defined $status;

    warn "$name - killing nginx $pid with force\n";
    kill SIGKILL, -$pid;
    waitpid($pid, 0);
    return $?;
}

# Runs each cleanup handler once and stops nginx; safe to call repeatedly.
sub cleanup {
    return if $InChild;
    while (my $handler = shift @CleanupHandlers) {
        $handler->();
    }
    stop_nginx('cleanup');
}

END {
    local $?;    # waitpid() must not change the script's exit status
    cleanup();
}

# --- must_die: nginx has to exit on its own (bad config and the like).
sub run_must_die {
    my $block    = shift;
    my $name     = $block->name;
    my $must_die = $block->must_die;
    $must_die =~ s/^\s+|\s+$//g;

    for my $rep (0 .. $RepeatEach - 1) {
        my $pid = spawn_nginx(1);
        $NginxPid = $pid;
        my $status;
        my $deadline = time + 10;
        while (time < $deadline) {
            my $r = waitpid($pid, WNOHANG);
            if ($r == $pid) { $status = $?; undef $NginxPid; last }
            last if -s $PidFile;    # it started: it will not die
            sleep 0.002;
        }

        if (defined $status && ($status & 127)) {
            Test::More::fail("$name - nginx died from signal " . ($status & 127));
        } elsif (looks_like_number($must_die)) {
            Test::More::is(defined $status ? $status >> 8 : undef, $must_die,
                           "$name - die with the expected exit code");
        } else {
            Test::More::isnt($status // 0, 0, "$name - die as expected");
        }

        if (!defined $status) {
            warn "WARNING: $name - nginx must die but it does not; killing it (req $rep)\n";
            stop_nginx($name);
            unlink $PidFile;
        }

        # nginx reports config errors both in error.log and on stderr.
        check_error_log($block, $rep, read_lines($StderrFile, 0));
    }
}

# ---------------------------------------------------------------------------
# Building requests
# ---------------------------------------------------------------------------

# "Key: value" lines of --- more_headers, CRLF-terminated; also tells whether
# the request body is chunked (then it is sent exactly as written).
sub parse_more_headers {
    my $in = shift // '';
    my ($out, $chunked) = ('', 0);
    for my $line (split /\n+/, $in) {
        next if $line =~ /^\s*#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val //= '';
        $chunked = 1 if lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}

# Turns the "METHOD /uri [HTTP/x]\nbody" text (given as packets, i.e. a list
# of {value, delay_before}) into a wire request, keeping the packet splits
# that fall into the body.
sub build_request {
    my ($name, $packets, $more_headers, $conn) = @_;
    my ($hdrs, $chunked) = parse_more_headers($more_headers);

    my $text = join '', map { $_->{value} } @$packets;
    (my $stripped = $text) =~ s/\A(?:\s*#[^\n]*\n|\s+)+//;
    my $skip = length($text) - length($stripped);

    $stripped =~ /\A([^\n]*)(\n?)(.*)\z/s;
    my ($line, $line_len, $body) = ($1, length($1) + length($2), $3);
    if ($line !~ /^\s*(\S+) *(\S+)? *(\S+)?\s*$/) {
        bail_out("$name - Request line is not valid. Should be 'meth [url [version]]' but got \"$line\".");
    }
    my ($meth, $uri, $ver) = ($1, $2 // '/', $3 // 'HTTP/1.1');

    my ($len_hdr, $body_lead) = ('', 0);
    if (!$chunked && $body ne '' && $hdrs !~ /(?:^|\n)Content-Length:/) {
        ($body_lead) = map { length } $body =~ /\A(\s*)/;
        $body =~ s/^\s+|\s+$//gs;
        $len_hdr = "Content-Length: " . length($body) . "\r\n";
    }

    my $head = "$meth $uri $ver\r\n";
    $head .= "Host: $ServerName\r\n" if $hdrs !~ /(?:^|\n)Host:/mi;
    $head .= "Connection: $conn\r\n" if $hdrs !~ /(?:^|\n)Connection/mi;
    $head .= "$hdrs$len_hdr\r\n";
    my $wire = $head . $body;

    return [{ value => $wire }] if @$packets == 1;

    # Map each original packet start to an offset in the wire request.
    my @out;
    my $orig_off = 0;
    for my $i (0 .. $#$packets) {
        my $cut = 0;
        if ($i > 0) {
            my $in_body = $orig_off - $skip - $line_len - $body_lead;
            $cut = length($head) + min(length($body), $in_body < 0 ? 0 : $in_body);
        }
        push @out, { %{ $packets->[$i] }, start => $cut };
        $orig_off += length $packets->[$i]{value};
    }
    for my $i (0 .. $#out) {
        my $end = $i < $#out ? $out[$i + 1]{start} : length $wire;
        $out[$i]{value} = substr $wire, $out[$i]{start}, $end - $out[$i]{start};
    }
    return \@out;
}

sub as_packets {
    my $req = shift;
    return [{ value => $req }] unless ref $req;
    return [map { ref $_ eq 'HASH' ? {%$_} : { value => $_ } } @$req];
}

sub more_headers_for {
    my ($block, $i) = @_;
    my $mh = $block->more_headers;
    return $mh // '' unless ref $mh eq 'ARRAY';
    my $h = $mh->[$i];
    bail_out($block->name . " - --- more_headers lacks data for the ${i}th request")
        unless defined $h;
    return $h;
}

# Returns a list of requests; each request is a list of packets.
sub requests_of {
    my $block = shift;
    my $name  = $block->name;

    if (defined(my $raw = $block->raw_request)) {
        return [as_packets($raw)];
    }

    if (defined(my $reqs = $block->pipelined_requests)) {
        bail_out("$name - invalid entries in --- pipelined_requests")
            unless ref $reqs eq 'ARRAY';
        my $wire = '';
        for my $i (0 .. $#$reqs) {
            my $conn = $i == $#$reqs ? 'close' : 'keep-alive';
            $wire .= build_request($name, as_packets($reqs->[$i]),
                                   more_headers_for($block, $i), $conn)->[0]{value};
        }
        return [[{ value => $wire }]];
    }

    my $request = $block->request;
    bail_out("$name - no --- request section") unless defined $request;

    my @list = ref $request eq 'ARRAY' ? @$request : ($request);
    bail_out("$name - invalid --- request: MUST be string or array of requests")
        if ref $request && ref $request ne 'ARRAY';
    return [map {
        build_request($name, as_packets($list[$_]), more_headers_for($block, $_), 'close')
    } 0 .. $#list];
}

# ---------------------------------------------------------------------------
# Talking to nginx
# ---------------------------------------------------------------------------

sub parse_time {
    my $t = shift;
    return undef unless defined $t;
    $t =~ s/^\s+|\s+$//g;
    return $1 / 1000 if $t =~ /^([\d.]+)ms$/;
    $t =~ s/s$//;
    return $t;
}

sub connect_server {
    my ($name, $deadline) = @_;
    my $err;
    while (time < $deadline) {
        my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                         PeerPort => $ServerPort,
                                         Proto    => 'tcp',
                                         Timeout  => $deadline - time);
        return $sock if $sock;
        $err = $!;
        last if nginx_gone();
        sleep 0.01;
    }
    Test::More::fail("$name - Can't connect to $ServerAddr:$ServerPort: $err"
                     . (defined $NginxPid ? '' : ' (nginx is gone)'));
    return undef;
}

# Sends one request (a list of packets) on a new connection and reads until
# the server closes it or the deadline passes.  Returns the raw response.
sub send_request {
    my ($block, $packets, $timeout) = @_;
    my $name     = $block->name;
    my $deadline = time + $timeout;
    my $sock     = connect_server($name, $deadline) or return '';
    $sock->blocking(0);

    my @todo  = @$packets;
    my $delay = parse_time(scalar $block->raw_request_middle_delay);
    my ($wbuf, $resp, $writing) = ((shift @todo)->{value}, '', 1);
    my $sel = IO::Select->new($sock);

    while (1) {
        my $left = $deadline - time;
        if ($left <= 0) {
            Test::More::fail("ERROR: client socket timed out - $name")
                unless defined $block->abort;
            last;
        }
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef, undef, $left);

        if ($w && @$w) {
            my $n = syswrite $sock, $wbuf;
            if (defined $n) {
                substr($wbuf, 0, $n) = '';
            } elsif (!$!{EAGAIN} && !$!{EINTR}) {
                $writing = 0;    # e.g. nginx answered early and closed
            }
            if ($writing && $wbuf eq '') {
                if (my $next = shift @todo) {
                    my $d = $next->{delay_before} // $delay;
                    sleep $d if $d;
                    $wbuf = $next->{value};
                } else {
                    $writing = 0;
                    if (defined(my $how = $block->shutdown)) {
                        shutdown $sock, ($how =~ /^\s*(\d)/ ? $1 : 1);
                    }
                }
            }
        }

        if ($r && @$r) {
            my $n = sysread $sock, my $buf, 65536;
            if (!defined $n) {
                next if $!{EAGAIN} || $!{EINTR};
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $buf;
        }
    }

    close $sock;
    return $resp;
}

# Parses one response off the front of $raw; returns (HTTP::Response,
# raw header text, bytes left over).  Like upstream, decodes chunked bodies.
sub parse_response {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;
    if (defined $code && $code !~ /^\d+$/) {
        $res->code(undef);
        return ($res, $raw_headers);
    }
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $content = $res->content // '';
    my $enc = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my $left;

    if (defined $enc && $enc eq 'chunked') {
        my $decoded = '';
        while (1) {
            if ($content =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = substr $content, pos $content;
                last;
            }
            if ($content =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                my $pos  = pos $content;
                if (length($content) < $pos + $size + 2
                    || substr($content, $pos + $size, 2) ne "\r\n")
                {
                    Test::More::fail("$name - invalid chunked data received");
                    last;
                }
                $decoded .= substr $content, $pos, $size;
                pos($content) = $pos + $size + 2;
                next;
            }
            Test::More::fail("$name - invalid chunked body received: "
                             . substr($content, pos($content) // 0, 60));
            last;
        }
        $res->content($decoded);

    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $content < $len) {
            warn "WARNING: $name - response body truncated: $len expected, but got ",
                length $content, "\n" unless $head_req;
        } elsif (length $content > $len) {
            $left = substr $content, $len;
            $res->content(substr $content, 0, $len);
        }
    }

    return ($res, $raw_headers, $left);
}

# ---------------------------------------------------------------------------
# Running one repetition of a block's requests and checking responses
# ---------------------------------------------------------------------------

sub run_requests {
    my ($block, $rep) = @_;
    my $name    = $block->name;
    my $reqs    = requests_of($block);
    my $timeout = parse_time(scalar $block->timeout) // $Timeout;
    # under valgrind TEST_NGINX_TIMEOUT is the least: a block's timeout
    # is set for nginx at full speed (not one that --- abort expects)
    $timeout = $Timeout
        if $UseValgrind && $timeout < $Timeout && !defined $block->abort;
    my $pipe    = $block->pipelined_requests;
    my $total   = $pipe ? @$pipe : @$reqs;
    my $need_array = $pipe ? 1 : @$reqs > 1;
    my $wait    = parse_time(scalar $block->wait);
    my $idx     = 0;

    for my $req (@$reqs) {
        my $raw_req  = join '', map { $_->{value} } @$req;
        my $head_req = $raw_req =~ /^\s*HEAD\s+/ ? 1 : 0;
        my $raw = send_request($block, $req, $timeout);

        for my $k (1 .. ($pipe ? @$pipe : 1)) {
            my ($res, $raw_headers, $left);
            if (!defined $block->ignore_response) {
                ($res, $raw_headers, $left) = parse_response($name, $raw, $head_req);
                check_response($block, $res, $raw_headers, $idx, $rep, $need_array);
            }

            if ($pipe && $k < @$pipe) {
                $raw = $left // '';
            } elsif (defined $left && $left ne '') {
                (my $l = $left) =~ s/([\0-\037\200-\377])/sprintf('\x{%02x}', ord $1)/eg;
                warn "WARNING: $name - unexpected extra bytes after last chunk in response: \"$l\"\n";
            }

            if ($idx < $total - 1) {
                sleep $wait if $wait;
                check_error_log($block, $rep);
                check_access_log($block);
            }
            $idx++;
        }
    }

    sleep $wait if $wait;
    check_error_log($block, $rep);
    check_access_log($block);
}

# Upstream rule: with several requests every expectation must be an array.
sub indexed {
    my ($name, $value, $idx, $need_array) = @_;
    if (ref $value eq 'ARRAY') {
        return $value->[$idx] if $need_array || $idx == 0;
    } elsif (!$need_array) {
        return $value;
    }
    bail_out("$name - You asked for many requests, the expected results should be arrays as well.");
}

sub check_response {
    my ($block, $res, $raw_headers, $idx, $rep, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';

    # Status line.
    if (defined(my $like = $block->error_code_like)) {
        my $pat = indexed($name, $like, $idx, $need_array);
        Test::More::like($code, qr/$pat/sm, "$name - status code ok");
    } elsif (defined(my $want = $block->error_code)) {
        Test::More::is($code, indexed($name, $want, $idx, $need_array),
                       "$name - status code ok");
    } else {
        Test::More::is($code, 200, "$name - status code ok");
    }

    # Raw header block.
    if (defined(my $pat = $block->raw_response_headers_like)) {
        $pat = indexed($name, $pat, $idx, $need_array);
        Test::More::like($raw_headers, qr/$pat/s, "$name - raw resp headers like");
    }
    if (defined(my $pat = $block->raw_response_headers_unlike)) {
        $pat = indexed($name, $pat, $idx, $need_array);
        Test::More::unlike($raw_headers, qr/$pat/s, "$name - raw resp headers unlike");
    }

    # Individual headers.
    if (defined(my $spec = $block->response_headers)) {
        for my $h (parse_headers(indexed($name, $spec, $idx, $need_array))) {
            my ($key, $val) = @$h;
            if (!defined $val) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                                   "$name - header $key not present in the raw headers");
                next;
            }
            $val =~ s/\$ServerPort(?:ForClient)?\b/$ServerPort/g;
            my $got = $res ? $res->header($key) : undef;
            Test::More::is($got // '', $val, "$name - header $key ok");
        }
    } elsif (defined(my $spec2 = $block->response_headers_like)) {
        for my $h (parse_headers(indexed($name, $spec2, $idx, $need_array))) {
            my ($key, $val) = @$h;
            my $got = $res ? $res->header($key) : undef;
            Test::More::like($got // '', qr/^$val$/, "$name - header $key like ok");
        }
    }

    apply_body_filters($block, $res, $idx);
    check_body($block, $res, $idx, $rep, $need_array);

    my $body = $res ? $res->content : undef;
    $_->($block, $body, $idx, $rep, 0) for @ResponseBodyChecks;
}

# "Name: value" lines; "!Name" means the header must be absent (value undef).
sub parse_headers {
    my $spec = shift // '';
    my @out;
    for my $line (split /\n/, $spec) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        if ($line =~ s/^!\s*//) {
            push @out, [$line, undef];
        } else {
            my ($key, $val) = split /\s*:\s*/, $line, 2;
            push @out, [$key, $val // ''];
        }
    }
    return @out;
}

my %BodyFilters = (
    md5_hex  => \&Digest::MD5::md5_hex,
    sha1_hex => \&Digest::SHA::sha1_hex,
    uc       => sub { uc shift },
    lc       => sub { lc shift },
    ucfirst  => sub { ucfirst shift },
    lcfirst  => sub { lcfirst shift },
    length   => sub { length shift },
);

sub apply_body_filters {
    my ($block, $res, $idx) = @_;
    my $filters = $block->response_body_filters;
    return unless defined $filters && $res && defined $res->content;

    if (!ref $filters) {
        $filters =~ s/^\s+|\s+$//g;
        $filters = [split /\s+/, $filters];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }
    if (ref $filters->[0] eq 'ARRAY') {    # one filter list per request
        $filters = $filters->[$idx]
            // bail_out($block->name . " - no --- response_body_filters for request $idx");
    }

    my $content = $res->content;
    for my $f (@$filters) {
        my $code = ref $f eq 'CODE' ? $f : $BodyFilters{$f}
            // bail_out($block->name . " - unknown filter, \"$f\", in --- response_body_filters");
        $content = $code->($content);
    }
    $res->content($content);
}

sub check_body {
    my ($block, $res, $idx, $rep, $need_array) = @_;
    my $name    = $block->name;
    my $content = $res ? $res->content : undef;
    my $where   = "(repeated req $rep, req $idx)";

    if (defined $block->response_body) {
        my $expected = indexed($name, scalar $block->response_body, $idx, $need_array);
        if (defined $expected && !ref $expected) {
            $expected =~ s/\$ServerPort(?:ForClient)?\b/$ServerPort/g;
        }
        if (ref $expected) {
            Test::More::like($content, $expected, "$name - response_body - like $where");
        } else {
            is_str($content, $expected, "$name - response_body - response is expected $where");
        }

    } elsif (defined $block->response_body_like || defined $block->response_body_unlike) {
        my $like = defined $block->response_body_like;
        my $spec = $like ? $block->response_body_like : $block->response_body_unlike;
        my $pat  = indexed($name, $spec, $idx, $need_array);
        $pat =~ s/\$ServerPort(?:ForClient)?\b/$ServerPort/g unless ref $pat;
        (my $summary = $content // '') =~ s/\s+/ /g;
        $summary = substr($summary, 0, 60) . '...' if length $summary > 60;
        if ($like) {
            Test::More::like($content, qr/$pat/s,
                "$name - response_body_like - response is expected ($summary)");
        } else {
            Test::More::unlike($content, qr/$pat/s,
                "$name - response_body_unlike - response is expected ($summary)");
        }
    }
}

# ---------------------------------------------------------------------------
# Log checks
# ---------------------------------------------------------------------------

sub read_lines {
    my ($file, $pos) = @_;
    open my $in, '<', $file or return [];
    seek $in, $pos, 0 if $pos;
    my @lines = <$in>;
    close $in;
    return \@lines;
}

# The part of error.log written since the previous check of this block
# (all of it with check_accum_error_log()).  Sleeps a little first, like
# upstream, for lines nginx writes after closing the connection.
sub error_log_segment {
    sleep $TestNginxSleep * 3;
    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogPos, 0 if !$CheckAccumErrLog && $ErrLogPos;
    my @lines = <$in>;
    $ErrLogPos = tell $in unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

# A section value as a list of patterns: lines of a string, a qr//, or an
# array of strings and qr//s.
sub patterns_of {
    my $pats = shift;
    return [$pats] if ref $pats eq 'Regexp';
    return [@$pats] if ref $pats eq 'ARRAY';
    chomp $pats;
    return [split /\n+/, $pats];
}

sub line_matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub fmt_str {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# --- error_log / --- no_error_log (and access log variants) against $lines.
sub check_patterns {
    my ($name, $lines, $want, $dont, $what) = @_;
    my $file = "$what.log";

    if (defined $want) {
        for my $pat (grep { defined } @{ patterns_of($want) }) {
            my $hit = grep { line_matches($_, $pat) } @$lines;
            if ($hit) {
                Test::More::pass("$name - pattern \"$pat\" matches a line in $file");
            } else {
                Test::More::fail("$name - pattern \"$pat\" should match a line in $file");
            }
        }
    }

    if (defined $dont) {
        for my $pat (grep { defined } @{ patterns_of($dont) }) {
            my @hits = grep { line_matches($_, $pat) } @$lines;
            my $p = fmt_str($pat);
            Test::More::fail("$name - pattern \"$p\" should not match any line in $file"
                             . " but matches line \"" . fmt_str($_) . "\"") for @hits;
            Test::More::pass("$name - pattern \"$p\" does not match a line in $file") unless @hits;
        }
    }
}

sub check_error_log {
    my ($block, $rep, $extra) = @_;
    my $name = $block->name;
    return unless defined $block->error_log || defined $block->no_error_log
               || defined $block->grep_error_log;

    my $lines = error_log_segment();
    push @$lines, @$extra if $extra;

    if (defined(my $grep = $block->grep_error_log)) {
        $grep = $grep->[$rep] if ref $grep eq 'ARRAY';
        my $expected = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but --- grep_error_log is defined")
            unless defined $expected;
        $expected = $expected->[$rep] if ref $expected eq 'ARRAY';
        my $matched = '';
        for my $line (@$lines) {
            if (ref $grep ? $line =~ /$grep/ : $line =~ /\Q$grep\E/) {
                $matched .= "$&\n" if $& !~ /\n/;
            }
        }
        is_str($matched, $expected, "$name - grep_error_log_out (req $rep)");
    }

    check_patterns($name, $lines, scalar $block->error_log,
                   scalar $block->no_error_log, 'error');
}

sub check_access_log {
    my $block = shift;
    return unless defined $block->access_log || defined $block->no_access_log;
    sleep $TestNginxSleep * 3;
    check_patterns($block->name, read_lines($AccLogFile, 0),
                   scalar $block->access_log, scalar $block->no_access_log, 'access');
}

sub check_shutdown_error_log {
    my $block = shift;
    my $lines = read_lines($ErrLogFile, $CheckAccumErrLog ? 0 : $ErrLogPos);
    check_patterns($block->name, $lines, scalar $block->shutdown_error_log,
                   scalar $block->no_shutdown_error_log, 'error');
}

# Project rule (as in nginx's own test suite): after the block, unexpected
# [alert]/[crit]/[emerg] lines and failed assertions are failures.
sub check_alerts {
    my $block = shift;
    my $name  = $block->name;
    my $want  = $block->error_log;
    my @pats  = defined $want ? grep { defined } @{ patterns_of($want) } : ();
    my $wanted_text = join "\n", map { "$_" } @pats;

    for my $line (@{ read_lines($ErrLogFile, 0) }) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            Test::More::fail("$name - " . fmt_str($line));
            next;
        }
        next unless $line =~ /\[(alert|crit|emerg)\]/;
        my $level = $1;
        next if $level eq 'emerg' && defined $block->must_die;
        next if index($wanted_text, "[$level") >= 0;
        next if grep { line_matches($line, $_) } @pats;
        Test::More::fail("$name - unexpected [$level] in error.log: " . fmt_str($line));
    }
}

# Shows what nginx printed on stderr (upstream lets it through too).
# Valgrind reports ("==PID== ...") land there, or in error.log once nginx
# has redirected its stderr; with TEST_NGINX_VALGRIND_FAIL they fail the block.
sub check_stderr {
    my ($block, $show) = @_;
    my $name   = $block->name;
    my $stderr = read_lines($StderrFile, 0);
    warn "$name - nginx stderr:\n", @$stderr if $show && @$stderr;

    my @vg = grep { /^==\d+==/ } @$stderr, @{ read_lines($ErrLogFile, 0) };
    return unless @vg;
    warn "$name - valgrind:\n", @vg unless $show;
    Test::More::fail("$name - valgrind reported " . scalar(@vg) . " line(s), first: "
                     . fmt_str($vg[0])) if $ValgrindFail;
}

# Evaluated here, away from other lexicals, in this package like upstream.
sub run_init_code {
    eval shift;
}

1;
