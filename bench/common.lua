-- Shared by the wrk scripts of bench/: the summary line bench.sh reads.
--
--   local common = dofile(<this directory> .. "common.lua")
--   done = common.done
--
-- wrk calls done() once, in its main Lua state, after every thread has
-- finished.  "status_errors" is wrk's own count of answers >= 400 (none of
-- the benchmark's requests can be answered 1xx or 3xx); the exact status
-- codes are counted by bench.sh from nginx's access log.

local common = {}

function common.done(summary, latency, requests)
    local seconds = summary.duration / 1e6
    local e = summary.errors
    io.write(string.format(
        "BENCH requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p99_ms=%.3f "
        .. "max_ms=%.3f status_errors=%d socket_errors=%d\n",
        summary.requests, seconds, summary.requests / seconds,
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        latency.max / 1000, e.status,
        e.connect + e.read + e.write + e.timeout))
end

-- the ids of a file, one a line, that belong to thread <id> of <n>
-- (1-based): thread k takes lines k, k + n, k + 2n, ...
function common.slice(path, id, n)
    local ids, i = {}, 0
    for line in io.lines(path) do
        if line ~= "" then
            if i % n == id - 1 then
                ids[#ids + 1] = line
            end
            i = i + 1
        end
    end
    return ids
end

-- A thread that has nothing left to send stops its event loop; the run
-- ends when every thread has.  wrk's main thread sleeps for -d whatever
-- the threads do, and only a SIGINT cuts that short: the last thread to
-- finish sends it (each one leaves a file <$BENCH_DONE>.<id>, then
-- looks for the others').
local ffi = require("ffi")
ffi.cdef[[
int getpid(void);
int kill(int pid, int sig);
]]

local finished

function common.finish(id, n)
    if finished then
        return
    end
    finished = true
    local prefix = os.getenv("BENCH_DONE")
        or ("/tmp/bench-done." .. ffi.C.getpid())
    local f = io.open(prefix .. "." .. id, "w")
    if f then f:close() end
    wrk.thread:stop()
    for k = 1, n do
        f = io.open(prefix .. "." .. k, "r")
        if not f then
            return
        end
        f:close()
    end
    ffi.C.kill(ffi.C.getpid(), 2)
end

return common
