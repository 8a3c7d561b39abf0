# What processes cost a request: CPU time and context switches, read from
# /proc before and after a wrk run.  Sourced by bench.sh and compare.sh.
#
#   procstat_snap <pid>...             a line per process:
#                                      "<pid> <ticks> <voluntary> <involuntary>"
#   procstat_delta <before> <after> <requests>
#                                      "<µs> <voluntary> <involuntary>" a
#                                      request, summed over the processes
#                                      of <before> ("-" when one of them
#                                      is gone in <after>, or no requests)
#
# CPU: utime + stime of /proc/<pid>/stat (clock ticks, getconf CLK_TCK).
# For a process, that file counts every thread of it (the thread pool's
# too, and those that have exited); /proc/<pid>/task/<tid>/stat would count
# one thread each.  Context switches are kept per thread only:
# voluntary_ctxt_switches and nonvoluntary_ctxt_switches of
# /proc/<pid>/status are the main thread's, so they are summed over
# /proc/<pid>/task/*/status (every thread, the thread pool's included).

PROCSTAT_HZ=$(getconf CLK_TCK)

procstat_snap() {
    local pid
    for pid in "$@"; do
        [ -r "/proc/$pid/stat" ] || continue
        # the command may hold spaces or parentheses: fields counted
        # from the last ')' (state is then field 1, utime 12, stime 13)
        { sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null \
              | awk '{print "cpu", $12 + $13}'
          cat /proc/"$pid"/task/*/status 2>/dev/null
        } | awk -v pid="$pid" '
            $1 == "cpu" {t = $2; ok = 1}
            $1 == "voluntary_ctxt_switches:" {v += $2}
            $1 == "nonvoluntary_ctxt_switches:" {i += $2}
            END {if (ok) print pid, t, v + 0, i + 0}'
    done
}

procstat_delta() {
    printf '%s\n--\n%s\n' "$1" "$2" | awk -v n="$3" -v hz="$PROCSTAT_HZ" '
        $1 == "--" {after = 1; next}
        NF < 4 {next}
        !after {t0[$1] = $2; v0[$1] = $3; i0[$1] = $4; next}
        {t1[$1] = $2; v1[$1] = $3; i1[$1] = $4}
        END {
            for (p in t0) {
                m++;
                if (!(p in t1)) gone = 1;
                t += t1[p] - t0[p]; v += v1[p] - v0[p]; i += i1[p] - i0[p];
            }
            if (!m || gone || n + 0 <= 0) {print "- - -"; exit}
            printf "%.1f %.2f %.2f\n", t * 1e6 / hz / n, v / n, i / n
        }'
}
