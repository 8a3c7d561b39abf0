-- Requests that name entries: each thread takes its own slice of an ids
-- file (so no two connections work on one entry at a time) and goes
-- round it.  The requests are built once, in init().
--
--   wrk -t<n> ... -s bench/rotate.lua <url of the collection> -- \
--       <op> <ids file> <n> [limit]
--
--   get           GET /{id}
--   put           PUT /{id}, two bodies in turn (a partial update)
--   status        PATCH /{id}/status, in_progress and pending in turn
--                 (never completed or cancelled, which are final)
--   write         PUT /{id} and PATCH /{id}/status in turn (the two
--                 bodies of each in turn): the writes of the mixed run,
--                 changes that keep the number of entries
--   delete        DELETE /{id}, each id once
--   status-once   PATCH /{id}/status to in_progress, each id once
--   history       PATCH /{id}/status <limit> times each id, in_progress
--                 and pending in turn; a thread stops once all its
--                 changes are answered: each id's status_history grows
--                 by <limit> items (not a measurement: seeding)
--   ceiling       GET /ceiling on the same server (ids file "-"): the
--                 same Lua request path as the others, against nginx's
--                 own return 200
--
-- limit: stop after about that many requests over all threads (0 or
-- none: until wrk's -d runs out); for history, the changes of each id.
-- A thread with nothing left to send stops (its other connections may send a GET /bench-noop first: 204, not
-- logged); the run ends when every thread has, or -d runs out.

local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
local common = dofile(dir .. "common.lua")
done = common.done

local counter = 0

function setup(thread)
    counter = counter + 1
    thread:set("id", counter)
end

local PUT_BODIES = {
    '{"access_level":"full_access","portal_settings":{"theme":"light"}}',
    '{"access_level":"comment","portal_settings":{"theme":"dark"}}',
}
local STATUS_BODIES = {
    '{"status":"in_progress","notes":"bench"}',
    '{"status":"pending","notes":"bench"}',
}

local rounds             -- rounds[k]: the requests of the k-th pass
local count, once, quota, n
local sent = 0
local noop, verified
local wait, answers = false, 0

-- the history op: count the answers, stop when the last one is in
function answered(status, headers, body)
    if status == 204 then
        return
    end
    answers = answers + 1
    if status ~= 200 then
        io.stderr:write("rotate.lua: ", status, " ", body or "", "\n")
    end
    if answers >= quota then
        common.finish(id, n)
    end
end

function init(args)
    local op = args[1]
    n = tonumber(args[3])
    local limit = tonumber(args[4] or "0")
    local base = wrk.path:gsub("/$", "")
    local ids = args[2] == "-" and {} or common.slice(args[2], id, n)

    noop = wrk.format("GET", "/bench-noop", {}, nil)
    local json = {}
    for k, v in pairs(wrk.headers) do json[k] = v end
    json["Content-Type"] = "application/json"

    local function build(method, suffix, body)
        local reqs = {}
        for i, x in ipairs(ids) do
            local h = {}
            for k, v in pairs(body and json or wrk.headers) do h[k] = v end
            reqs[i] = wrk.format(method, base .. "/" .. x .. suffix, h, body)
        end
        return reqs
    end

    if op == "get" then
        rounds = { build("GET", "", nil) }
    elseif op == "put" then
        rounds = { build("PUT", "", PUT_BODIES[1]),
                   build("PUT", "", PUT_BODIES[2]) }
    elseif op == "status" then
        rounds = { build("PATCH", "/status", STATUS_BODIES[1]),
                   build("PATCH", "/status", STATUS_BODIES[2]) }
    elseif op == "write" then
        rounds = { build("PUT", "", PUT_BODIES[1]),
                   build("PATCH", "/status", STATUS_BODIES[1]),
                   build("PUT", "", PUT_BODIES[2]),
                   build("PATCH", "/status", STATUS_BODIES[2]) }
    elseif op == "delete" then
        rounds = { build("DELETE", "", nil) }
        once = true
    elseif op == "history" then
        rounds = { build("PATCH", "/status", STATUS_BODIES[1]),
                   build("PATCH", "/status", STATUS_BODIES[2]) }
        once = true
    elseif op == "status-once" then
        rounds = { build("PATCH", "/status", STATUS_BODIES[1]) }
        once = true
    elseif op == "ceiling" then
        local h = {}
        for k, v in pairs(wrk.headers) do h[k] = v end
        local r = wrk.format("GET", "/ceiling", h, nil)
        rounds = { { r } }
    else
        error("rotate.lua: unknown op " .. tostring(op))
    end

    count = #rounds[1]
    quota = once and count or math.huge
    if op == "history" then
        quota = count * limit
        wait = quota > 0
        -- only here: a response() slows every run down a little
        response = answered
    elseif limit > 0 then
        quota = math.min(quota,
                         math.floor(limit / n) + ((id <= limit % n) and 1 or 0))
    end
end

function request()
    -- wrk calls request() once more in thread 1 to check the request
    -- before the run: that one is never sent
    if id == 1 and not verified then
        verified = true
        return noop
    end
    if sent >= quota or count == 0 then
        if not wait then
            common.finish(id, n)
        end
        return noop
    end
    local pass = math.floor(sent / count)
    local r = rounds[pass % #rounds + 1][sent % count + 1]
    sent = sent + 1
    return r
end
